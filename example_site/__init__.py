"""The example site: a Django project that uses llmrec_django the way a site owner would."""

from example_site.celery import app as celery_app

__all__ = ["celery_app"]
