"""Versioned vectors in pgvector: writes, the per-version HNSW index, search, switch, rollback."""

import numpy as np
import pytest
from django.db import connection

from llmrec_django.database import vectorstore
from llmrec_django.database.vectorstore import VersionStateError
from llmrec_django.models import EmbeddingVersion, Item, ItemVector

pytestmark = pytest.mark.django_db

DIM = 8


def unit(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def make_items(tenant, n, prefix="i"):
    items = [Item(tenant=tenant, external_id=f"{prefix}{k}", title=f"Item {k}") for k in range(n)]
    for item in items:
        item.content_hash = item.compute_content_hash()
    return Item.objects.bulk_create(items)


def ready_version(tenant, items, vectors, dim=DIM):
    version = vectorstore.create_version(tenant, model_name="test", model_path="/test", dimension=dim)
    vectorstore.write_item_vectors(version, [i.pk for i in items], vectors, [i.content_hash for i in items])
    vectorstore.build_index(version, concurrently=False)
    version.status = EmbeddingVersion.Status.READY
    version.save()
    return version


def test_nearest_items_ranks_by_cosine(tenant):
    items = make_items(tenant, 4)
    vectors = unit(
        [[1, 0, 0, 0, 0, 0, 0, 0], [0.9, 0.1, 0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0, 0], [-1, 0, 0, 0, 0, 0, 0, 0]]
    )
    version = ready_version(tenant, items, vectors)
    found = vectorstore.nearest_items(version, vectors[0], 3)
    assert [n.item_id for n in found] == [items[0].pk, items[1].pk, items[2].pk]
    assert found[0].score == pytest.approx(1.0, abs=1e-6)
    assert found[2].score == pytest.approx(0.0, abs=1e-6)


def test_writing_the_same_chunk_twice_leaves_one_row_per_item(tenant):
    items = make_items(tenant, 3)
    vectors = unit(np.random.default_rng(0).normal(size=(3, DIM)))
    version = ready_version(tenant, items, vectors)
    vectorstore.write_item_vectors(version, [i.pk for i in items], vectors, [i.content_hash for i in items])
    assert ItemVector.objects.filter(version=version).count() == 3


def test_write_item_vectors_in_several_copy_batches_replaces_on_rerun(tenant, monkeypatch):
    monkeypatch.setattr(vectorstore, "COPY_BATCH_ROWS", 2)  # several batches
    items = make_items(tenant, 5)
    vectors = unit(np.random.default_rng(3).normal(size=(5, DIM)))
    version = vectorstore.create_version(tenant, model_name="t", model_path="/t", dimension=DIM)
    ids, hashes = [i.pk for i in items], [i.content_hash for i in items]
    assert vectorstore.write_item_vectors(version, ids, vectors, hashes) == 5
    vectorstore.write_item_vectors(version, ids[:2], vectors[[1, 0]], ["x", "y"])  # re-run replaces
    stored = vectorstore.item_vectors(version, ids)
    assert ItemVector.objects.filter(version=version).count() == 5
    np.testing.assert_allclose(stored[ids[0]], vectors[1], rtol=1e-6)
    np.testing.assert_allclose(stored[ids[4]], vectors[4], rtol=1e-6)
    assert ItemVector.objects.get(version=version, item_id=ids[1]).content_hash == "y"
    assert stored[ids[2]].dtype == np.float32 and stored[ids[2]].shape == (DIM,)
    assert vectorstore.item_vectors(version, []) == {}
    assert vectorstore.item_vectors(version, [ids[0] + 10_000]) == {}
    with pytest.raises(ValueError, match="8-d"):
        vectorstore.write_item_vectors(version, ids[:1], np.ones((1, 4)), ["h"])


def test_build_index_keeps_a_larger_maintenance_work_mem(tenant):
    items = make_items(tenant, 3)
    version = vectorstore.create_version(tenant, model_name="t", model_path="/t", dimension=DIM)
    vectorstore.write_item_vectors(version, [i.pk for i in items], unit(np.eye(3, DIM) + 0.1), ["h"] * 3)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        vectorstore.build_index(version, concurrently=False)
        cursor.execute("SHOW maintenance_work_mem")
        assert cursor.fetchone()[0] == "1GB"
    assert vectorstore.index_exists(version)


def test_wrong_dimension_and_nan_vectors_are_refused(tenant):
    items = make_items(tenant, 1)
    version = vectorstore.create_version(tenant, model_name="t", model_path="/t", dimension=DIM)
    with pytest.raises(ValueError, match="8-d"):
        vectorstore.write_item_vectors(version, [items[0].pk], np.ones((1, 4)), ["h"])
    bad = np.ones((1, DIM), dtype=np.float32)
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        vectorstore.write_item_vectors(version, [items[0].pk], bad, ["h"])
    with pytest.raises(ValueError):
        vectorstore.nearest_items(version, [1.0] * 4, 5)


def test_search_uses_the_versions_hnsw_index(tenant):
    rng = np.random.default_rng(1)
    items = make_items(tenant, 5000)
    version = ready_version(tenant, items, unit(rng.normal(size=(5000, DIM))))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE llmrec_django_itemvector")
    plan = vectorstore.explain_nearest(version, unit(rng.normal(size=(1, DIM)))[0], 10)
    assert version.index_name in plan, plan


def test_filters_never_underfill_the_list(tenant):
    """Iterative index scans keep going past excluded and inactive items."""
    rng = np.random.default_rng(2)
    items = make_items(tenant, 400)
    vectors = unit(rng.normal(size=(400, DIM)))
    version = ready_version(tenant, items, vectors)
    query = vectors[0]
    closest = [n.item_id for n in vectorstore.nearest_items(version, query, 60, exact=True)]
    Item.objects.filter(pk__in=closest[:30]).update(is_active=False)
    found = vectorstore.nearest_items(version, query, 20, exclude_item_ids=closest[30:50], ef_search=20)
    assert len(found) == 20
    assert not set(n.item_id for n in found) & set(closest[:50])


def test_one_tenants_items_never_appear_in_anothers_search(tenant, other_tenant):
    rng = np.random.default_rng(3)
    ours = make_items(tenant, 50, "ours")
    theirs = make_items(other_tenant, 50, "theirs")
    shared = unit(rng.normal(size=(50, DIM)))  # identical vectors in both catalogues
    ready_version(tenant, ours, shared)
    their_version = ready_version(other_tenant, theirs, shared)
    for query in shared[:10]:
        found = vectorstore.nearest_items(their_version, query, 50)
        assert {n.item_id for n in found} <= {i.pk for i in theirs}


def test_index_recall_against_exact_search(tenant):
    rng = np.random.default_rng(4)
    items = make_items(tenant, 500)
    version = ready_version(tenant, items, unit(rng.normal(size=(500, DIM))))
    recall = vectorstore.recall_against_exact(version, unit(rng.normal(size=(20, DIM))), k=10)
    assert recall >= 0.9


def test_switch_and_rollback(tenant):
    items = make_items(tenant, 5)
    rng = np.random.default_rng(5)
    old = ready_version(tenant, items, unit(rng.normal(size=(5, DIM))))
    new = ready_version(tenant, items, unit(rng.normal(size=(5, 16))), dim=16)  # another model, another size

    vectorstore.activate_version(old)
    assert vectorstore.active_version(tenant) == old
    vectorstore.activate_version(new)
    assert vectorstore.active_version(tenant) == new
    old.refresh_from_db()
    assert old.status == "ready", "the replaced version stays for rollback"
    assert len(vectorstore.nearest_items(new, np.ones(16), 3)) == 3
    assert len(vectorstore.nearest_items(old, np.ones(DIM), 3)) == 3, "both versions stay queryable"

    assert vectorstore.rollback(tenant) == old
    assert vectorstore.active_version(tenant) == old
    assert EmbeddingVersion.objects.get(pk=new.pk).status == "ready"


def test_only_a_ready_version_can_be_activated(tenant):
    building = vectorstore.create_version(tenant, model_name="t", model_path="/t", dimension=DIM)
    with pytest.raises(VersionStateError, match="building"):
        vectorstore.activate_version(building)
    assert vectorstore.active_version(tenant) is None


def test_rollback_without_history_is_a_clear_error(tenant):
    with pytest.raises(VersionStateError, match="earlier version"):
        vectorstore.rollback(tenant)


def test_retire_drops_vectors_and_index_but_not_the_active_version(tenant):
    items = make_items(tenant, 5)
    rng = np.random.default_rng(6)
    old = ready_version(tenant, items, unit(rng.normal(size=(5, DIM))))
    new = ready_version(tenant, items, unit(rng.normal(size=(5, DIM))))
    vectorstore.activate_version(new)
    with pytest.raises(VersionStateError):
        vectorstore.retire_version(new)
    vectorstore.retire_version(old)
    old.refresh_from_db()
    assert old.status == "retired"
    assert not ItemVector.objects.filter(version=old).exists()
    assert not vectorstore.index_exists(old)
    assert vectorstore.index_exists(new)


def test_index_builds_take_turns_and_release_their_lock(tenant):
    items = make_items(tenant, 20)
    version = ready_version(tenant, items, unit(np.random.default_rng(9).normal(size=(20, DIM))))
    vectorstore.build_index(version, concurrently=False)  # idempotent second build
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s",
            [vectorstore.INDEX_BUILD_LOCK & 0xFFFFFFFF],
        )
        assert cursor.fetchone()[0] == 0


def test_user_vectors_are_written_and_replaced_in_one_statement_per_batch(tenant, monkeypatch):
    from llmrec_django.models import UserProfile, UserVector

    items = make_items(tenant, 2)
    version = ready_version(tenant, items, unit(np.eye(2, DIM)))
    users = [UserProfile.objects.create(tenant=tenant, external_id=f"u{k}").pk for k in range(5)]
    monkeypatch.setattr(vectorstore, "WRITE_BATCH_ROWS", 2)
    vectors = unit(np.random.default_rng(1).normal(size=(5, DIM)))
    assert vectorstore.write_user_vectors(version, users, vectors, [1, 2, 3, 4, 5]) == 5
    vectorstore.write_user_vectors(version, users[:1], vectors[4:], [9])  # replaced, not added
    stored = {v.user_id: v for v in UserVector.objects.filter(version=version)}
    assert sorted(stored) == sorted(users) and stored[users[0]].events_used == 9
    assert np.allclose(vectorstore.user_vector(version, users[0]), vectors[4], atol=1e-6)
    assert np.allclose(vectorstore.user_vector(version, users[3]), vectors[3], atol=1e-6)
    with pytest.raises(ValueError, match="same length"):
        vectorstore.write_user_vectors(version, users, vectors, [1])
    with pytest.raises(ValueError, match="finite"):
        vectorstore.write_user_vectors(version, users[:1], np.full((1, DIM), np.nan), [1])
    assert UserVector.objects.filter(version=version).count() == 5


def test_writing_user_vectors_again_and_again_makes_no_new_classes(tenant):
    """A dumper class made on every call was never freed: the worker's memory grew by 20 MB
    every 10 minutes under load."""
    import gc

    from pgvector.psycopg.vector import VectorBinaryDumper

    from llmrec_django.models import UserProfile

    items = make_items(tenant, 2)
    version = ready_version(tenant, items, unit(np.eye(2, DIM)))
    user = UserProfile.objects.create(tenant=tenant, external_id="again").pk
    vectorstore.write_user_vectors(version, [user], unit(np.ones((1, DIM))), [1])
    gc.collect()
    before = len(VectorBinaryDumper.__subclasses__())
    for _ in range(20):
        vectorstore.write_user_vectors(version, [user], unit(np.ones((1, DIM))), [1])
    gc.collect()
    assert len(VectorBinaryDumper.__subclasses__()) == before
