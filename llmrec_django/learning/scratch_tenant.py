"""The offline evaluation's scratch tenant: a copy of the catalogue and of the training events only,
with its own embedding version (step 2 of the protocol in ``llmrec_django.learning.evaluation``)."""

import logging
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection

from llmrec_django.catalogue import collaborative, embedding
from llmrec_django.catalogue.importing.loaders import insert_select
from llmrec_django.database import vectorstore
from llmrec_django.learning.evaluation_split import SCRATCH_SUFFIX, EvaluationOptions, EventLog
from llmrec_django.models import (
    EmbeddingVersion,
    Entity,
    Interaction,
    Item,
    ItemVector,
    Relation,
    Tenant,
    UserProfile,
    UserVector,
)

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# The scratch tenant


def scratch_slug_for(tenant: Tenant, options: EvaluationOptions | None = None) -> str:
    return (options.scratch_slug if options else None) or f"{tenant.slug}{SCRATCH_SUFFIX}"


def drop_scratch_tenant(slug: str) -> bool:
    """Delete a scratch tenant and everything it holds; False if there was none.

    Bulk rows go by set-based DELETEs (the ORM's cascade would load every relation to send its
    delete signal, which queues re-embedding of items that are about to disappear), the
    versions' HNSW indexes are dropped, and the fitted model files removed.
    """
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        return False
    for version in EmbeddingVersion.objects.filter(tenant=tenant):
        vectorstore.drop_index(version)
    with connection.cursor() as cursor:
        for model in (UserVector, ItemVector, Interaction, Relation):
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE tenant_id = %s", [tenant.pk])
    shutil.rmtree(collaborative.model_directory(tenant), ignore_errors=True)
    tenant.delete()
    return True


@dataclass
class ScratchCopy:
    tenant: Tenant
    items: dict[int, int]  # source item id -> scratch item id
    users: dict[int, int]  # source user id -> scratch user id

    @property
    def items_back(self) -> dict[int, int]:
        return {scratch: source for source, scratch in self.items.items()}


def _pairs(mapping: Mapping[int, int]) -> tuple[list[int], list[int]]:
    return list(mapping), list(mapping.values())


def copy_to_scratch(source: Tenant, slug: str, log: EventLog, rows: np.ndarray) -> ScratchCopy:
    """A fresh tenant ``slug`` with ``source``'s catalogue and only the events ``rows`` of ``log``."""
    drop_scratch_tenant(slug)
    scratch = Tenant.objects.create(slug=slug, name=f"Offline evaluation copy of {source.slug}")
    params = {"scratch": scratch.pk, "source": source.pk}
    with connection.cursor() as cursor:

        def copy(model, values: dict[str, str], rest: str) -> list[tuple]:
            sql, extra = insert_select(model, {"tenant_id": "%(scratch)s", **values}, rest)
            cursor.execute(sql, {**params, **extra})
            return cursor.fetchall()

        item_fields = ("title", "description", "category", "attributes", "image_url", "is_active", "content_hash")
        new_items = copy(
            Item,
            {"external_id": "s.external_id", **{f: f"s.{f}" for f in item_fields}, "created_at": "s.created_at"},
            f"\nFROM {Item._meta.db_table} s WHERE s.tenant_id = %(source)s ORDER BY s.id RETURNING id, external_id",
        )
        user_fields = ("profile_text_source", "preferences", "personalisation_enabled")
        # A generated profile text was written from every event, held-out ones included: the
        # scratch build writes it again from the training events.
        stated_text = "CASE WHEN s.profile_text_source = 'generated' THEN '' ELSE s.profile_text END"
        new_users = copy(
            UserProfile,
            {
                "external_id": "s.external_id",
                "profile_text": stated_text,
                **{f: f"s.{f}" for f in user_fields},
                "created_at": "s.created_at",
            },
            f"\nFROM {UserProfile._meta.db_table} s WHERE s.tenant_id = %(source)s ORDER BY s.id "
            "RETURNING id, external_id",
        )
        new_entities = copy(
            Entity,
            {"entity_type": "s.entity_type", "name": "s.name"},
            f"\nFROM {Entity._meta.db_table} s WHERE s.tenant_id = %(source)s ORDER BY s.id "
            "RETURNING id, entity_type, name",
        )
        source_items = dict(Item.objects.for_tenant(source).values_list("external_id", "pk"))
        source_users = dict(UserProfile.objects.for_tenant(source).values_list("external_id", "pk"))
        source_entities = {
            (t, n): pk for pk, t, n in Entity.objects.for_tenant(source).values_list("pk", "entity_type", "name")
        }
        items = {source_items[external_id]: pk for pk, external_id in new_items}
        users = {source_users[external_id]: pk for pk, external_id in new_users}
        entities = {source_entities[(t, n)]: pk for pk, t, n in new_entities}
        params.update(
            zip(("item_old", "item_new"), _pairs(items), strict=True),
        )
        params.update(zip(("user_old", "user_new"), _pairs(users), strict=True))
        params.update(zip(("entity_old", "entity_new"), _pairs(entities), strict=True))

        maps = {
            "item": ("item_old", "item_new"),
            "entity": ("entity_old", "entity_new"),
            "user": ("user_old", "user_new"),
        }
        joins, values = [], {"relation": "r.relation", "weight": "r.weight", "created_at": "r.created_at"}
        for end in ("head", "tail"):
            for kind, (old, new) in maps.items():
                alias = f"{end[0]}{kind[0]}"
                joins.append(
                    f"LEFT JOIN unnest(%({old})s::bigint[], %({new})s::bigint[]) {alias}(old, new) "
                    f"ON {alias}.old = r.{end}_{kind}_id"
                )
                values[f"{end}_{kind}_id"] = f"{alias}.new"
        copy(
            Relation,
            values,
            f"\nFROM {Relation._meta.db_table} r {' '.join(joins)} WHERE r.tenant_id = %(source)s"
            # Edges between users and items are behaviour (the test could leak through them).
            " AND NOT (r.head_user_id IS NOT NULL AND r.tail_item_id IS NOT NULL)"
            " AND NOT (r.head_item_id IS NOT NULL AND r.tail_user_id IS NOT NULL) RETURNING id",
        )
        params["rows"] = log.ids[rows].tolist()
        event_fields = ("event_id", "event_type", "value", "timestamp", "device", "location", "context", "created_at")
        copy(
            Interaction,
            {"user_id": "u.new", "item_id": "i.new", **{f: f"e.{f}" for f in event_fields}},
            f"\nFROM {Interaction._meta.db_table} e JOIN unnest(%(rows)s::bigint[]) t(id) ON t.id = e.id "
            "JOIN unnest(%(user_old)s::bigint[], %(user_new)s::bigint[]) u(old, new) ON u.old = e.user_id "
            "JOIN unnest(%(item_old)s::bigint[], %(item_new)s::bigint[]) i(old, new) ON i.old = e.item_id "
            "ORDER BY e.id RETURNING id",
        )
        # Fresh statistics, so the service's queries on the new tenant get sensible plans.
        tables = (Item, UserProfile, Entity, Relation, Interaction)
        cursor.execute("ANALYZE " + ", ".join(m._meta.db_table for m in tables))
    return ScratchCopy(scratch, items, users)


def build_scratch_version(
    source: Tenant, copy: ScratchCopy, *, reuse_vectors: bool, concurrently: bool, from_version: int | None = None
) -> tuple[EmbeddingVersion, dict[str, Any]]:
    """The scratch tenant's active version: embedded afresh, or with the source's item vectors
    (those of version ``from_version``, a candidate not yet active, when given)."""
    started = time.perf_counter()
    if not reuse_vectors:
        version = embedding.build_version_in_process(copy.tenant, concurrently=concurrently)
        return version, {"reused_vectors": False, "embedded_items": version.items_done}
    if from_version is not None:
        active = EmbeddingVersion.objects.filter(pk=from_version, tenant=source).first()
        if active is None or active.status not in (EmbeddingVersion.Status.READY, EmbeddingVersion.Status.ACTIVE):
            raise ValueError(f"Version {from_version} of tenant {source.slug!r} is not ready to be evaluated.")
    else:
        active = vectorstore.active_version(source)
    if active is None:
        raise ValueError(f"Tenant {source.slug!r} has no active embedding version to reuse (run llmrec_embed).")
    version = vectorstore.create_version(
        copy.tenant, model_name=active.model_name, model_path=active.model_path, dimension=active.dimension
    )
    old, new = _pairs(copy.items)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ItemVector._meta.db_table} (tenant_id, version_id, item_id, embedding, content_hash, "
            "updated_at) SELECT %s, %s, m.new, v.embedding, v.content_hash, now() "
            f"FROM {ItemVector._meta.db_table} v JOIN unnest(%s::bigint[], %s::bigint[]) m(old, new) "
            "ON m.old = v.item_id WHERE v.version_id = %s",
            [copy.tenant.pk, version.pk, old, new, active.pk],
        )
        copied = cursor.rowcount
    # Items the source version lacks (added since its build) are embedded here.
    embedded = embedding.embed_items(version, Item.objects.for_tenant(copy.tenant).exclude(vectors__version=version))
    version.items_total = len(copy.items)
    version.save(update_fields=["items_total"])
    version = embedding.finish_build(version.pk, concurrently=concurrently)
    seconds = round(time.perf_counter() - started, 3)
    return version, {"reused_vectors": True, "copied": copied, "embedded_items": embedded, "seconds": seconds}
