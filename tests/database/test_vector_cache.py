"""Exact vector search in the serving process: the same neighbours as PostgreSQL's exact search,
loaded in the background, only outside transactions, only for catalogues small enough."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import transaction

from llmrec_django.database import vector_cache, vectorstore
from llmrec_django.database.caches import wait_for_refreshes
from llmrec_django.models import Item, UserProfile
from llmrec_django.recommend import recommend_for_user
from tests.recommend_helpers import DIM, activate, make_item


def catalogue(tenant, n=60, seed=3):
    rng = np.random.default_rng(seed)
    items = [make_item(tenant, f"i{n}", f"Item {n}", vector=rng.normal(size=DIM)) for n in range(n)]
    items += [
        make_item(tenant, "same-a", "Twin A", vector=[1, 0, 0, 0]),
        make_item(tenant, "same-b", "Twin B", vector=[1, 0, 0, 0]),
    ]
    Item.objects.filter(pk__in=[items[0].pk, items[1].pk]).update(is_active=False)
    return items, activate(tenant, items)


@pytest.mark.django_db
def test_the_matrix_finds_what_the_exact_sql_search_finds(tenant):
    items, version = catalogue(tenant)
    matrix = vector_cache.load_matrix(version.pk, limit=1000)
    assert len(matrix) == len(items) and not matrix.active[:2].any()
    rng = np.random.default_rng(0)
    for query in [*rng.normal(size=(5, DIM)), np.array([1.0, 0, 0, 0])]:
        exclude = [items[5].pk, items[9].pk]
        for k in (1, 10, 100):
            expected = vectorstore.nearest_items(
                version, query, k, exclude_item_ids=exclude, exact=True, with_vectors=True
            )
            found = matrix.search(query, k, exclude, with_vectors=True)
            assert [f[0] for f in found] == [e.item_id for e in expected]  # ties (the twins) by id, as in SQL
            assert [f[1] for f in found] == pytest.approx([e.score for e in expected], abs=1e-5)
            assert all(np.allclose(f[2], e.vector) for f, e in zip(found, expected, strict=True))
    assert matrix.search(np.zeros(DIM), 10) == [] and matrix.search(np.ones(DIM), 0) == []

    vectors, missing = matrix.vectors_of([items[3].pk, 10**9])
    assert list(vectors) == [items[3].pk] and missing == [10**9]
    assert np.allclose(vectors[items[3].pk], items[3].vector)
    assert vector_cache.load_matrix(version.pk, limit=10) is None  # too many items: PostgreSQL


@pytest.mark.django_db(transaction=True)
def test_the_matrix_is_loaded_in_the_background_and_used_outside_transactions(settings):
    from llmrec_django.database.tenancy import get_default_tenant

    tenant = get_default_tenant()
    items, version = catalogue(tenant)
    assert vector_cache.matrix_for(version) is None  # first use: PostgreSQL, and a load begins
    wait_for_refreshes()
    matrix = vector_cache.matrix_for(version)
    assert matrix is not None and len(matrix) == len(items)
    with transaction.atomic():  # a transaction sees its own writes: PostgreSQL
        assert vector_cache.matrix_for(version) is None

    # The service's list is the same from the matrix as from PostgreSQL.
    user = UserProfile.objects.create(tenant=tenant, external_id="ann")
    vectorstore.write_user_vectors(version, [user.pk], np.array([items[7].vector]), [1])
    from_matrix = recommend_for_user("ann", tenant=tenant, k=10)
    settings.LLMREC = {**settings.LLMREC, "IN_PROCESS_SEARCH_MAX_ITEMS": 0}
    assert vector_cache.matrix_for(version) is None
    from_sql = recommend_for_user("ann", tenant=tenant, k=10)
    assert from_matrix.source == from_sql.source and from_matrix.item_ids == from_sql.item_ids

    settings.LLMREC = {**settings.LLMREC, "IN_PROCESS_SEARCH_MAX_ITEMS": 10}  # the catalogue outgrew it
    settings.LLMREC = {**settings.LLMREC, "IN_PROCESS_SEARCH_SECONDS": 0}
    vector_cache.matrix_for(version)  # old: reloaded, and found too big
    wait_for_refreshes()
    assert vector_cache.matrix_for(version) is None


@pytest.mark.django_db(transaction=True)
def test_a_check_reloads_the_matrix_only_when_the_vectors_changed(settings, monkeypatch):
    from llmrec_django.database.tenancy import get_default_tenant

    tenant = get_default_tenant()
    items, version = catalogue(tenant)
    settings.LLMREC = {**settings.LLMREC, "IN_PROCESS_SEARCH_SECONDS": 0}  # every search checks
    loads = []
    real_load = vector_cache.load_matrix
    monkeypatch.setattr(vector_cache, "load_matrix", lambda *a: loads.append(a) or real_load(*a))

    def checked():
        vector_cache.matrix_for(version)  # due at once: a check in the background
        wait_for_refreshes()
        # Read without matrix_for, which would start another check racing the next step.
        return vector_cache._matrices.get(version.pk)

    first = checked()
    assert len(loads) == 1 and len(first) == len(items)
    assert checked() is first and len(loads) == 1  # nothing changed: the fingerprint says so

    # A re-embedded item (same rows, a newer update time): loaded again, with its new vector.
    vectorstore.write_item_vectors(version, [items[3].pk], np.array([[0.0, 0, 0, 1]]), ["new"])
    second = checked()
    assert len(loads) == 2 and np.allclose(second.vectors_of([items[3].pk])[0][items[3].pk], [0, 0, 0, 1])
    # An item made active again: its flag in the matrix follows.
    Item.objects.filter(pk=items[0].pk).update(is_active=True)
    third = checked()
    assert len(loads) == 3 and third.active[0]

    # Unchanged, it is still loaded again after FULL_RELOAD_CHECKS checks, in case a change
    # slipped past the fingerprint.
    for _ in range(vector_cache.FULL_RELOAD_CHECKS - 1):
        assert checked() is third
    assert len(loads) == 3
    assert checked() is not third and len(loads) == 4


def test_checks_are_spread_out_but_never_later_than_the_setting(settings, monkeypatch):
    import time

    from llmrec_django.database import caches as caching

    settings.LLMREC = {**settings.LLMREC, "IN_PROCESS_SEARCH_SECONDS": 60}
    shares = {vector_cache._checked_now()[1] for _ in range(50)}
    assert len(shares) > 1 and all(1 - vector_cache.JITTER <= share <= 1 for share in shares)

    cache = caching.TenantCache("test", lambda tenant_id: tenant_id, lambda: 100)
    ages = []
    for tenant_id in range(50):
        cache.get(tenant_id)
        ages.append(time.monotonic() - cache._values[tenant_id][0])
    assert len({round(age) for age in ages}) > 1 and all(0 <= age <= 100 * caching.JITTER + 1 for age in ages)


def test_a_cache_that_never_expires_is_not_made_to_expire_by_the_jitter():
    from llmrec_django.database import caches as caching

    calls = []
    cache = caching.TenantCache(
        "forever", lambda tenant_id: calls.append(tenant_id) or len(calls), lambda: float("inf")
    )
    assert cache.get(1) == 1 and cache.get(1) == 1 and calls == [1]


def test_vectors_in_pgvector_binary_form_become_a_float32_matrix_or_a_clear_error():
    vectors = np.array([[1.5, -2.0, 0.25], [0.0, 3.0, -1e-3]], dtype=np.float32)
    blob = b"".join(len(v).to_bytes(2, "big") + b"\0\0" + v.astype(">f4").tobytes() for v in vectors)
    matrix = vectorstore.matrix_from_binary(blob, 2)
    assert matrix.dtype == np.float32 and matrix.flags.c_contiguous
    np.testing.assert_array_equal(matrix, vectors)
    assert vectorstore.matrix_from_binary(None, 0).shape == (0, 0)
    with pytest.raises(ValueError, match="not 3 vectors of dimension 3"):
        vectorstore.matrix_from_binary(blob, 3)
