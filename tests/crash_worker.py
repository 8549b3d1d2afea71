"""What the crash tests' worker process runs: an encoder slow enough to be killed in the middle
of a build, that kills its own process on a poisoned text (as an OOM kill or a crash in a native
library would), and the worker's settings module (``tests.crash_worker`` is also its
DJANGO_SETTINGS_MODULE's helper, see ``crash_worker_settings``)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence

from tests.api_helpers import KeywordEncoder

POISON = "poison-pill"  # an item text with this kills the worker process embedding it
SECONDS_PER_BATCH = 0.4


class SlowKeywordEncoder(KeywordEncoder):
    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False):
        if any(POISON in text for text in texts):
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(SECONDS_PER_BATCH)
        return super().encode(texts, batch_size=batch_size, show_progress=show_progress)
