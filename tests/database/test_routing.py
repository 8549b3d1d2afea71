"""Serving reads from a read replica (``database.routing``): the serving functions' reads, raw
and ORM, go to the serving database; writes, reads outside serving and reads inside a
transaction stay on the primary. The replica is the test database under a second alias
(``tests/settings.py``), so each query's connection says where it went."""

from __future__ import annotations

import pytest
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext

from llmrec_django.conf import checks as conf_checks
from llmrec_django.database import routing, vectorstore
from llmrec_django.models import Interaction, Item, UserProfile
from llmrec_django.recommend import recommend_for_user, similar_items
from tests.recommend_helpers import activate, make_item

ROUTER = "llmrec_django.database.routing.ServingReadRouter"
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


@pytest.fixture
def replica(settings):
    settings.DATABASE_ROUTERS = [ROUTER]
    settings.LLMREC = {**settings.LLMREC, "SERVING_DATABASE": "replica"}


@pytest.fixture
def shop(tenant):
    items = [make_item(tenant, f"i{n}", f"Item {n}", vector=[1.0, n / 10, 0.0, 0.0]) for n in range(8)]
    user = UserProfile.objects.create(tenant=tenant, external_id="u1")
    activate(tenant, items, users=[(user, [1.0, 0.2, 0.0, 0.0])])
    Interaction.objects.create(tenant=tenant, event_id="e1", user=user, item=items[0], event_type="purchase")
    return items, user


def _selects(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("SELECT", "WITH", "SET"))]


def test_a_list_reads_from_the_replica_and_nothing_from_the_primary(tenant, shop, replica):
    items, user = shop
    with (
        CaptureQueriesContext(connections["replica"]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        result = recommend_for_user(user, tenant=tenant, k=3)
        similar = similar_items(items[1], tenant=tenant, k=3)
    assert result.items and similar.items
    replica_sql = " ".join(_selects(on_replica.captured_queries))
    assert "llmrec_django_itemvector" in replica_sql  # the vector search and the vectors
    assert "llmrec_django_interaction" in replica_sql  # the user's history
    assert not [sql for sql in _selects(on_primary.captured_queries) if "llmrec_django" in sql]


def test_reads_outside_serving_or_in_a_transaction_and_every_write_stay_on_the_primary(tenant, shop, replica):
    items, user = shop
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert Item.objects.filter(tenant=tenant).count() == 8  # not serving: the primary
        vectorstore.item_vectors(vectorstore.active_version(tenant), [items[0].pk])
        with transaction.atomic():  # a transaction reads its own writes: the primary
            Item.objects.create(tenant=tenant, external_id="new", title="Fresh")
            with routing.serving_reads():
                assert routing.read_alias() == "default"
                assert Item.objects.filter(tenant=tenant, external_id="new").exists()
    assert on_replica.captured_queries == []
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        with routing.serving_reads():
            assert routing.read_alias() == "replica"
            created = Item.objects.create(tenant=tenant, external_id="newer", title="Fresher")
            assert created._state.db == "default"  # a write inside serving: the primary
            user.refresh_from_db()  # users are found on the primary (one the request just created)
    sent = [q["sql"] for q in on_replica.captured_queries]
    assert not [sql for sql in sent if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    # The bookkeeping the write set off (the outbox's re-embed of the item) reads the primary.
    assert not [sql for sql in sent if "pendingwork" in sql or "userprofile" in sql]


def test_without_the_setting_serving_reads_from_the_primary(tenant, shop):
    _, user = shop
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        with routing.serving_reads():
            assert routing.read_alias() == "default"
        recommend_for_user(user, tenant=tenant, k=3)
    assert on_replica.captured_queries == []


def test_the_replica_is_never_migrated_and_rows_relate_across_the_two(replica):
    router = routing.ServingReadRouter()
    assert router.allow_migrate("replica", "llmrec_django") is False
    assert router.allow_migrate("default", "llmrec_django") is None


@pytest.mark.django_db(databases=["default"])
def test_the_setting_needs_a_database_and_the_router(settings):
    assert conf_checks.check_serving_database() == []
    settings.LLMREC = {**settings.LLMREC, "SERVING_DATABASE": "standby"}
    assert [e.id for e in conf_checks.check_serving_database()] == ["llmrec.E025", "llmrec.E025"]
    settings.LLMREC = {**settings.LLMREC, "SERVING_DATABASE": "replica"}
    assert [e.id for e in conf_checks.check_serving_database()] == ["llmrec.E025"]  # no router
    settings.DATABASE_ROUTERS = [ROUTER]
    assert conf_checks.check_serving_database() == []
