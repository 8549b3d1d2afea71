from django.apps import AppConfig


class LLMRecConfig(AppConfig):
    name = "llmrec_django"
    label = "llmrec_django"
    verbose_name = "LLM recommendations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Only connects signals and registers checks: no model loading, no database access.
        from llmrec_django import checks, signals  # noqa: F401  (register checks and signal receivers)
