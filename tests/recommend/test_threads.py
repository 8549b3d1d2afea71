"""BLAS threads of a serving process (``recommending/threads.py``)."""

from threadpoolctl import threadpool_info, threadpool_limits

from llmrec_django.recommend import threads


def blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_the_first_list_sets_blas_to_the_configured_threads_for_good(monkeypatch, settings):
    settings.LLMREC = {**settings.LLMREC, "SERVING_BLAS_THREADS": 1}
    with threadpool_limits(limits=2, user_api="blas"):  # the process as it was; restored on exit
        assert blas_threads() == {2}
        monkeypatch.setattr(threads, "_done", False)
        threads.limit_blas_threads()
        assert blas_threads() == {1}
        threadpool_limits(limits=2, user_api="blas")
        threads.limit_blas_threads()  # once per process: a later change is left alone
        assert blas_threads() == {2}


def test_none_leaves_blas_alone(monkeypatch, settings):
    settings.LLMREC = {**settings.LLMREC, "SERVING_BLAS_THREADS": None}
    with threadpool_limits(limits=2, user_api="blas"):
        monkeypatch.setattr(threads, "_done", False)
        threads.limit_blas_threads()
        assert blas_threads() == {2}
