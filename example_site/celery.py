"""The example site's Celery application; workers start with ``celery -A example_site worker``.

GPU training worker (one process per GPU, no fork after CUDA is initialised)::

    celery -A example_site worker -Q llmrec.gpu --pool solo --concurrency 1 --max-memory-per-child 12000000

Beat (``celery -A example_site beat``) runs ``schedule_retraining`` nightly: a tenant's encoder
and re-ranker are retrained when at least ``LLMREC["TRAINING"]["MIN_NEW_INTERACTIONS"]``
interactions arrived since their last successful run, ``attribute_events`` every minute, and
``drain_outbox`` every 10 seconds (``llmrec_django.database.outbox``).
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")
# Hugging Face tokenizers start a thread pool on first use; a process that forks afterwards
# deadlocks or warns. Workers tokenise only inside tasks, single-threaded.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

app = Celery("example_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "llmrec-nightly-retraining": {
        "task": "llmrec_django.tasks.schedule_retraining",
        "schedule": crontab(hour=3, minute=15),
    },
    # Online measurement: credit clicks and purchases to the lists that showed the items.
    "llmrec-attribution": {"task": "llmrec_django.tasks.attribute_events", "schedule": 60.0},
    # Training runs whose worker died are marked failed (they would say "running" forever).
    "llmrec-reap-stalled-runs": {"task": "llmrec_django.tasks.reap_stalled_runs", "schedule": 300.0},
    # The outbox: send the follow-up work (vector refreshes) a broker outage kept back.
    "llmrec-outbox": {"task": "llmrec_django.tasks.drain_outbox", "schedule": 10.0},
}
