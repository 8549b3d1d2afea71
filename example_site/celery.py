"""The example site's Celery application; workers start with ``celery -A example_site worker``.

GPU training worker (one per GPU; CUDA initialised in the worker's own process, never forked;
the threads pool keeps answering health pings while a run trains, which solo does not)::

    celery -A example_site worker -Q llmrec.gpu --pool threads --concurrency 1

Beat (``celery -A example_site beat``) reads its schedule from the database (django-celery-beat,
``CELERY_BEAT_SCHEDULER`` in the settings): ``manage.py llmrec_schedule`` writes the learning
loop's entries there (``llmrec_django.learning.loop``: the ranking refit hourly when enough
interactions arrived, fine-tuning nightly, attribution every minute, the outbox every 10 seconds),
and the admin's "Periodic tasks" edits them. A site without django-celery-beat sets
``app.conf.beat_schedule = llmrec_django.learning.loop.beat_schedule()`` instead.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")
# Hugging Face tokenizers start a thread pool on first use; a process that forks afterwards
# deadlocks or warns. Workers tokenise only inside tasks, single-threaded.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

app = Celery("example_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
