"""Worker crashes during a re-embed, for real: a separate Celery worker process (prefork, one
child) is SIGKILLed in the middle of a build, several times, and a poisoned chunk kills every
child that takes it. Each chunk ends applied exactly once, the new version is active only when
whole (never half-built), and a message that always crashes is given up after
``TASK_MAX_DELIVERIES`` deliveries, failing its version, instead of looping."""

from __future__ import annotations

import time

import pytest

from llmrec_django import tasks
from llmrec_django.catalogue import embedding
from llmrec_django.conf import backends
from llmrec_django.database import vectorstore
from llmrec_django.models import EmbeddingVersion, ItemVector, TaskDelivery
from tests.broker_helpers import WorkerProcess, wait_until
from tests.crash_worker import POISON
from tests.recommend_helpers import make_item

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]
ITEMS = 24  # chunks of 2: 12 chunks of ~0.4 s each


@pytest.fixture
def slow_encoder(settings):
    settings.LLMREC = {
        **settings.LLMREC,
        "ENCODER": {"BACKEND": "tests.crash_worker.SlowKeywordEncoder", "OPTIONS": {"path": "/hand-made"}},
        "EMBEDDING_DIMENSION": 4,
        "EMBED_CHUNK_SIZE": 2,
    }
    backends.reset()
    yield
    backends.reset()


@pytest.fixture
def worker(broker_app, tmp_path):
    process = WorkerProcess(broker_app.conf.broker_url, tmp_path / "worker.log")
    process.start()
    yield process
    process.stop()


def vectors_of(version: EmbeddingVersion) -> int:
    return ItemVector.objects.filter(version=version).count()


def test_a_build_survives_workers_killed_in_the_middle(tenant, slow_encoder, worker):
    items = [make_item(tenant, f"i{n}", f"Trail shoe {n}") for n in range(ITEMS)]
    old = embedding.build_version_in_process(tenant, concurrently=False)
    new = tasks.start_build(tenant)
    kills, active_seen = [], set()
    # Kill when a quarter, a half and three quarters of the items are done: twice the pool
    # child, once the whole worker (Redis hands its message back after the visibility timeout).
    for share, kill in ((0.25, worker.kill_child), (0.5, worker.kill_all), (0.75, worker.kill_child)):
        wait_until(lambda share=share: vectors_of(new) >= share * ITEMS, seconds=120)
        time.sleep(0.2)  # into the next chunk's encoding
        state = EmbeddingVersion.objects.get(pk=new.pk).status
        kill()
        kills.append((share, state, vectors_of(new)))

    def finished() -> bool:
        active = vectorstore.active_version(tenant)
        active_seen.add((active.pk, vectors_of(active)))
        return EmbeddingVersion.objects.get(pk=new.pk).status != EmbeddingVersion.Status.BUILDING and active == new

    wait_until(finished, seconds=180)
    new.refresh_from_db()
    log = worker.log_path.read_text()
    assert new.status == EmbeddingVersion.Status.ACTIVE, (new.status, new.error, log[-3000:])
    assert all(state == EmbeddingVersion.Status.BUILDING for _, state, _ in kills), kills
    assert all(done < ITEMS for _, _, done in kills), f"every kill hit an unfinished build: {kills}"
    # Every item has exactly one vector in the new version, the one its text gives.
    rows = list(ItemVector.objects.filter(version=new).values_list("item_id", flat=True))
    assert sorted(rows) == sorted(i.pk for i in items)
    assert new.items_done == ITEMS
    # Whatever was active while the build ran was whole: the old version, then the new one complete.
    assert active_seen <= {(old.pk, ITEMS), (new.pk, ITEMS)}
    assert "WorkerLostError" in log or "Process" in log  # the pool saw its child die
    # Each message the kills interrupted was delivered again and ended, and its count with it
    # (the items' own embed_changed_items tasks may still be finishing).
    wait_until(lambda: not TaskDelivery.objects.exists(), seconds=60)
    left = list(TaskDelivery.objects.values_list("task_name", "deliveries"))
    assert not left, left


def test_a_chunk_that_always_kills_its_worker_is_given_up_and_fails_its_version(tenant, slow_encoder, worker):
    items = [make_item(tenant, f"p{n}", f"Trail shoe {n}") for n in range(6)]
    old = embedding.build_version_in_process(tenant, concurrently=False)
    items[3].title = f"Trail shoe {POISON}"
    items[3].save()
    new = tasks.start_build(tenant)
    wait_until(lambda: EmbeddingVersion.objects.get(pk=new.pk).status != EmbeddingVersion.Status.BUILDING, seconds=180)
    new.refresh_from_db()
    assert new.status == EmbeddingVersion.Status.FAILED, (new.status, worker.log_path.read_text()[-3000:])
    assert "delivered 6 times" in new.error
    assert vectorstore.active_version(tenant) == old, "the active version is untouched"
    # Every item outside the poisoned chunk has its vector, once; the poisoned item has none.
    # Its chunk-mate (items[2]) may or may not: the build never writes it (the chunk dies whole),
    # but the item's own embed task from its creation writes into every maintained version, the
    # building one included, when the worker gets to it after the build started.
    written = list(ItemVector.objects.filter(version=new).values_list("item_id", flat=True))
    assert len(written) == len(set(written))
    assert items[3].pk not in written
    assert set(written) - {items[2].pk} == {i.pk for i in items} - {items[2].pk, items[3].pk}
