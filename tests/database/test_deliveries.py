"""Bounded deliveries: a message that keeps killing its worker is given up, and its embedding
version or training run marked failed, instead of being redelivered forever."""

import pytest

from llmrec_django import tasks
from llmrec_django.catalogue import embedding
from llmrec_django.database.deliveries import TaskGivenUp, count_delivery
from llmrec_django.learning.training import runs
from llmrec_django.models import EmbeddingVersion, ItemVector, TaskDelivery, TrainingRun
from llmrec_django.queues import all_queues
from tests.api_helpers import keyword_encoder_settings
from tests.broker_helpers import wait_until
from tests.recommend_helpers import make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def building(tenant, settings):
    """A version being built over three items (keyword encoder)."""
    keyword_encoder_settings(settings)
    items = [make_item(tenant, f"i{n}", f"Item {n}") for n in range(3)]
    return embedding.create_build(tenant), items


def died_before(task_id, task, times):
    """As if ``times`` deliveries of this message had killed their worker (their counts stay)."""
    TaskDelivery.objects.create(task_id=task_id, retries=0, task_name=task.name, deliveries=times)


def test_deliveries_are_counted_per_message_and_retry():
    assert [count_delivery("t1", 0, "x") for _ in range(3)] == [1, 2, 3]
    assert count_delivery("t1", 1, "x") == 1  # a retry is a new message
    assert count_delivery("t2", 0, "x") == 1


def test_a_chunk_delivered_once_too_often_is_given_up_and_its_version_failed(building, settings):
    version, items = building
    died_before("chunk-1", tasks.embed_item_range, 5)  # TASK_MAX_DELIVERIES 5: this is the 6th
    with pytest.raises(TaskGivenUp, match="delivered 6 times"):
        tasks.embed_item_range.apply((version.pk, items[0].pk, items[-1].pk), task_id="chunk-1")
    version.refresh_from_db()
    assert version.status == EmbeddingVersion.Status.FAILED
    assert version.error.startswith(f"chunk {items[0].pk}-{items[-1].pk}: ") and "worker died" in version.error
    assert not ItemVector.objects.filter(version=version).exists(), "given up without running"
    assert not TaskDelivery.objects.exists()


def test_the_last_allowed_delivery_runs_and_leaves_no_count(building):
    version, items = building
    died_before("chunk-2", tasks.embed_item_range, 4)  # the 5th delivery: still allowed
    tasks.embed_item_range.apply((version.pk, items[0].pk, items[-1].pk), task_id="chunk-2")
    version.refresh_from_db()
    assert version.status == EmbeddingVersion.Status.BUILDING and version.items_done == 3
    assert not TaskDelivery.objects.exists()


def test_a_training_run_that_keeps_killing_its_worker_is_failed(tenant, settings):
    settings.LLMREC = {**settings.LLMREC, "TASK_MAX_DELIVERIES": 2}
    run = runs.create_run(tenant, "reranker")
    died_before("train-1", tasks.train_model, 2)
    with pytest.raises(TaskGivenUp):
        tasks.train_model.apply((run.pk,), task_id="train-1")
    run.refresh_from_db()
    assert (run.status, run.stage) == (TrainingRun.Status.FAILED, "failed")
    assert "delivered 3 times (TASK_MAX_DELIVERIES 2)" in run.error


def test_no_limit_when_the_maximum_is_none(tenant, settings):
    settings.LLMREC = {**settings.LLMREC, "TASK_MAX_DELIVERIES": None}
    died_before("copy-1", tasks.generate_copy, 1000)
    assert tasks.generate_copy.apply((tenant.pk, []), task_id="copy-1").get() == 0


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_gives_up_a_message_redelivered_too_often(building, broker_app):
    from celery.contrib.testing.worker import start_worker

    version, items = building
    died_before("chunk-w", tasks.embed_item_range, 5)
    with start_worker(broker_app, pool="solo", queues=all_queues(), perform_ping_check=False, shutdown_timeout=30):
        tasks.embed_item_range.apply_async((version.pk, items[0].pk, items[-1].pk), task_id="chunk-w")
        wait_until(lambda: EmbeddingVersion.objects.get(pk=version.pk).status != EmbeddingVersion.Status.BUILDING)
    version.refresh_from_db()
    assert version.status == EmbeddingVersion.Status.FAILED and "delivered 6 times" in version.error
    assert not ItemVector.objects.filter(version=version).exists()
    assert not TaskDelivery.objects.exists()
