"""Settings of the separate Celery worker process the crash tests start and SIGKILL.

The test database (``LLMREC_CRASH_DB_NAME``), the test's own Redis (``LLMREC_CRASH_BROKER_URL``),
the slow keyword encoder, and small chunks so a build has many. Redis redelivers the message of
a worker killed as a whole after the visibility timeout: 3 s here, 6 h in production (it must
outlast the longest task), where a killed pool child's message is requeued at once.
"""

import os

from llmrec_django.queues import celery_settings  # noqa: E402
from tests.settings import *  # noqa: F403

DATABASES["default"]["NAME"] = os.environ["LLMREC_CRASH_DB_NAME"]  # noqa: F405
globals().update(celery_settings(os.environ["LLMREC_CRASH_BROKER_URL"], LLMREC_HOME))  # noqa: F405
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3}
CELERY_WORKER_MAX_MEMORY_PER_CHILD = None
LLMREC = {  # noqa: F405
    **LLMREC,  # noqa: F405
    "ENCODER": {"BACKEND": "tests.crash_worker.SlowKeywordEncoder", "OPTIONS": {"path": "/hand-made"}},
    "EMBEDDING_DIMENSION": 4,
    "EMBED_CHUNK_SIZE": 2,
    # Under half the 3-second visibility timeout above (check llmrec.E014): none.
    "REFRESH_DELAY_SECONDS": 0,
}
