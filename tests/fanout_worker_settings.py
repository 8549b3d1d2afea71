"""Settings of the Celery workers that ``tests/catalogue/test_fan_out.py`` starts as separate
machines: each its own ``LLMREC_HOME`` (from the environment), all sharing the test database
(``DATABASE_URL``), the test's Redis broker (``LLMREC_FANOUT_BROKER_URL``) and the artifact
storage (a folder every "machine" sees, ``LLMREC_FANOUT_STORAGE``, as a shared mount or an S3
bucket would be), with the tiny encoder as the configured base model and small chunks."""

import os

from django.conf import global_settings

from llmrec_django.queues import celery_settings  # noqa: E402
from tests.settings import *  # noqa: F403

globals().update(celery_settings(os.environ["LLMREC_FANOUT_BROKER_URL"], LLMREC_HOME))  # noqa: F405
CELERY_WORKER_MAX_MEMORY_PER_CHILD = None
STORAGES = {
    **global_settings.STORAGES,
    "llmrec_artifacts": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": os.environ["LLMREC_FANOUT_STORAGE"]},
    },
}
LLMREC = {  # noqa: F405
    **LLMREC,  # noqa: F405
    "ENCODER": {"OPTIONS": {"path": os.environ["LLMREC_FANOUT_ENCODER"], "batch_size": 16}},
    "EMBEDDING_DIMENSION": int(os.environ["LLMREC_FANOUT_DIMENSION"]),
    "EMBED_CHUNK_SIZE": 2,
    "ARTIFACT_STORAGE": "llmrec_artifacts",
    "REFRESH_DELAY_SECONDS": 0,
}
