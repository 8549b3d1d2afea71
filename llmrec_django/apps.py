from django.apps import AppConfig


class LLMRecConfig(AppConfig):
    name = "llmrec_django"
    label = "llmrec_django"
    verbose_name = "LLM recommendations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from llmrec_django import checks  # noqa: F401  (registers the system checks)
