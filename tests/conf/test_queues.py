"""Celery wiring: routing, broker settings, and a build run by a real worker over Redis."""

import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from celery import Celery, current_app
from django.db import connection

from llmrec_django import tasks
from llmrec_django.models import EmbeddingVersion, Item
from llmrec_django.queues import all_queues, celery_settings, route_task


def test_each_task_name_constant_names_a_task_of_the_app():
    """Modules below ``tasks`` send work by these names (never importing the tasks module)."""
    from llmrec_django import queues

    names = {value for key, value in vars(queues).items() if key.isupper() and isinstance(value, str)}
    names.discard(queues._TASKS)
    registered = {task.name for task in vars(tasks).values() if hasattr(task, "apply_async")}
    assert names and names <= registered, names - registered
    assert registered <= names, f"tasks without a name in queues: {registered - names}"


def test_tasks_go_to_their_queues():
    assert route_task("llmrec_django.tasks.embed_item_range", (), {}, {}) == {"queue": "llmrec.embed"}
    assert route_task("llmrec_django.tasks.build_finish", (), {}, {}) == {"queue": "llmrec.embed"}
    assert route_task("llmrec_django.tasks.train_encoder", (), {}, {}) == {"queue": "llmrec.gpu"}
    assert route_task("llmrec_django.tasks.refresh_user_vectors", (), {}, {}) == {"queue": "llmrec"}
    assert route_task("someone_elses.task", (), {}, {}) is None


def test_no_broker_means_eager_execution(tmp_path):
    conf = celery_settings(None, tmp_path)
    assert conf["CELERY_TASK_ALWAYS_EAGER"] is True


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_database_connection_between_tasks_as_a_request_would():
    assert current_app.conf.get("CELERY_DB_REUSE_MAX"), "Celery's fixup would close it around every task"
    task = SimpleNamespace(request=SimpleNamespace(is_eager=False))
    pid = _backend_pid()
    tasks._connections_as_in_requests(sender=task)  # a task ends, the next starts
    tasks._connections_as_in_requests(sender=task)
    assert _backend_pid() == pid, "kept: CONN_MAX_AGE has not passed"
    connection.close_at = time.monotonic() - 1  # it has now
    tasks._connections_as_in_requests(sender=task)
    assert _backend_pid() != pid
    pid = _backend_pid()
    eager = SimpleNamespace(request=SimpleNamespace(is_eager=True))
    connection.close_at = time.monotonic() - 1
    tasks._connections_as_in_requests(sender=eager)  # run in the caller's process: left alone
    assert _backend_pid() == pid


def test_filesystem_broker_lives_under_llmrec_home(tmp_path):
    conf = celery_settings("filesystem://", tmp_path)
    options = conf["CELERY_BROKER_TRANSPORT_OPTIONS"]
    for folder in ("data_folder_in", "processed_folder", "control_folder"):  # nothing in the working directory
        assert Path(options[folder]).is_dir() and Path(options[folder]).is_relative_to(tmp_path), folder
    assert conf["CELERY_RESULT_BACKEND"].startswith("file://")
    assert "CELERY_TASK_ALWAYS_EAGER" not in conf


def test_redis_broker_keeps_results_in_redis(tmp_path):
    conf = celery_settings("redis://h:6379/0", tmp_path)
    assert conf["CELERY_RESULT_BACKEND"] == "redis://h:6379/0"
    assert conf["CELERY_BROKER_TRANSPORT_OPTIONS"]["visibility_timeout"] >= 3600
    assert conf["CELERY_TASK_ACKS_LATE"] is True


@pytest.fixture
def redis_app(redis_url, settings):
    """A Celery app on the real Redis broker, made current so the app's tasks are sent there."""
    from django.conf import settings as django_settings

    app = Celery("llmrec-test")
    app.config_from_object(django_settings, namespace="CELERY")
    app.conf.update(task_always_eager=False, broker_url=redis_url, result_backend=redis_url)
    app.set_current()
    app.set_default()
    with app.connection_for_write() as conn:  # start from empty queues
        for queue in all_queues():
            conn.default_channel.queue_purge(queue)
    yield app
    from example_site.celery import app as site_app

    site_app.set_current()
    site_app.set_default()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_builds_a_version_over_redis(redis_app, tenant, tiny_encoder, settings):
    from celery.contrib.testing.worker import start_worker

    for n in range(7):
        Item.objects.create(tenant=tenant, external_id=f"i{n}", title=f"Tea set number {n}")
    settings.LLMREC = {**settings.LLMREC, "EMBED_CHUNK_SIZE": 3}  # 3 chunks: a real chord
    with start_worker(redis_app, pool="solo", queues=all_queues(), perform_ping_check=False, shutdown_timeout=30):
        version = tasks.start_build(tenant)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            version.refresh_from_db()
            if version.status != EmbeddingVersion.Status.BUILDING:
                break
            time.sleep(0.2)
    assert version.status == "active", version.error
    assert version.items_done == 7
