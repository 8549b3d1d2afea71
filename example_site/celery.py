"""The example site's Celery application; workers start with ``celery -A example_site worker``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")

app = Celery("example_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
