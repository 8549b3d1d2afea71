"""The per-process serving snapshot (``recommending/state.py``): no queries for the records every
request reads, changes in this process seen at once, other processes' changes within the TTL."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from llmrec_django.models import BusinessRule, EmbeddingVersion, RankingModel
from llmrec_django.recommend import state
from tests.recommend_helpers import activate, make_item

# Outside a test transaction: inside one the snapshot is (rightly) read afresh every time.
pytestmark = pytest.mark.django_db(transaction=True)


def test_the_snapshot_costs_no_query_until_something_changes(tenant, settings):
    settings.LLMREC = {**settings.LLMREC, "SERVING_STATE_SECONDS": 60}
    item = make_item(tenant, "a", "A", vector=[1, 0, 0, 0])
    first = activate(tenant, [item])
    assert state.serving_state(tenant.pk).version.pk == first.pk
    with CaptureQueriesContext(connection) as queries:
        snapshot = state.serving_state(tenant.pk)
    assert len(queries) == 0 and snapshot.version.pk == first.pk
    # A change saved in this process is seen at once: a rule, a new active version.
    BusinessRule.objects.create(tenant=tenant, name="bury a", kind="bury", item=item)
    assert [r.name for r in state.serving_state(tenant.pk).rules] == ["bury a"]
    second = activate(tenant, [item])
    assert state.serving_state(tenant.pk).version.pk == second.pk


def test_another_process_change_shows_within_the_ttl(tenant, settings):
    settings.LLMREC = {**settings.LLMREC, "SERVING_STATE_SECONDS": 60}
    item = make_item(tenant, "a", "A", vector=[1, 0, 0, 0])
    version = activate(tenant, [item])
    assert state.serving_state(tenant.pk).version.pk == version.pk
    # update() sends no signal: as if another process had retired the version.
    EmbeddingVersion.objects.filter(pk=version.pk).update(status=EmbeddingVersion.Status.READY)
    assert state.serving_state(tenant.pk).version.pk == version.pk  # within the TTL
    settings.LLMREC = {**settings.LLMREC, "SERVING_STATE_SECONDS": 0}
    assert state.serving_state(tenant.pk).version is None  # read on every request


def test_an_unusable_blend_is_left_out(tenant):
    RankingModel.objects.create(tenant=tenant, model={"weights": [1.0], "feature_names": ["old"]})
    assert state.serving_state(tenant.pk).blend is None


def test_a_refresh_racing_a_change_does_not_keep_the_old_value():
    from llmrec_django.database.caches import TenantCache

    calls = []
    cache = None

    def compute(tenant_id):
        calls.append(tenant_id)
        if len(calls) == 1:
            cache.clear()  # a change lands while the first value is being computed
        return len(calls)

    cache = TenantCache("test", compute, lambda: 60)
    assert cache.get(1) == 1  # returned to its caller, but not kept ...
    assert cache.get(1) == 2  # ... so the next read computes again
    assert cache.get(1) == 2
