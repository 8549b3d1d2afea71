"""BLAS threads in a process that serves recommendations.

The service's matrix products are small: a few hundred candidates by a few hundred dimensions,
against the user's liked items or the items MMR already picked. A multi-threaded BLAS wakes its
threads for each of them, which costs more than it saves, and on a busy machine far more:
``core.ranking.closest_liked_similarity`` for 200 candidates and 20 liked items of 384-d took
12 ms (p50) with OpenBLAS's two threads on two loaded cores, and 0.15 ms with one. Web servers
already run one process or thread per request; BLAS threads inside each only oversubscribe.

So the first list a process builds sets numpy's BLAS to ``SERVING_BLAS_THREADS`` threads for
the rest of the process (``None`` leaves it as it is). Processes that never serve a list
(training, imports) keep theirs. BLAS libraries loaded after that first list (torch's) are not
touched.
"""

from __future__ import annotations

import threading

from llmrec_django.conf import llmrec_settings

_lock = threading.Lock()
_done = False


def limit_blas_threads() -> None:
    """Apply ``SERVING_BLAS_THREADS`` to the BLAS libraries loaded in this process (once)."""
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        threads = llmrec_settings.SERVING_BLAS_THREADS
        if threads is not None:
            from threadpoolctl import threadpool_limits

            # Not used as a context manager: the limit is meant to outlive the call.
            threadpool_limits(limits=int(threads), user_api="blas")
        _done = True
