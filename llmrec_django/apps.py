from django.apps import AppConfig


class LLMRecConfig(AppConfig):
    name = "llmrec_django"
    label = "llmrec_django"
    verbose_name = "LLM recommendations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Only registers things: system checks, signal receivers, Celery tasks (the outbox sends
        # work by task name, so every process that may send it knows the tasks). No model
        # loading, no database access.
        from llmrec_django import tasks  # noqa: F401
        from llmrec_django.api import checks as api_checks  # noqa: F401
        from llmrec_django.catalogue import signals  # noqa: F401
        from llmrec_django.conf import checks as conf_checks  # noqa: F401
        from llmrec_django.database import checks as database_checks  # noqa: F401
