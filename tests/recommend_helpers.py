"""A small hand-made world for the recommend tests: items with chosen vectors in an active version."""

import numpy as np

from llmrec_django.database import vectorstore
from llmrec_django.models import EmbeddingVersion, Entity, Item, Relation

DIM = 4


def unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def make_item(tenant, external_id, title, category="films", vector=None, **attributes):
    item = Item.objects.create(
        tenant=tenant, external_id=external_id, title=title, category=category, attributes=attributes
    )
    item.vector = unit(vector) if vector is not None else None
    return item


def activate(tenant, items, users=()):
    """A version holding the items' vectors (and users' given vectors), indexed and active."""
    version = vectorstore.create_version(tenant, model_name="hand-made", model_path="/hand-made", dimension=DIM)
    with_vectors = [i for i in items if i.vector is not None]
    vectorstore.write_item_vectors(
        version, [i.pk for i in with_vectors], np.stack([i.vector for i in with_vectors]), ["h"] * len(with_vectors)
    )
    if users:
        vectorstore.write_user_vectors(
            version, [u.pk for u, _ in users], np.stack([unit(v) for _, v in users]), [1] * len(users)
        )
    vectorstore.build_index(version, concurrently=False)
    version.status = EmbeddingVersion.Status.READY
    version.save()
    return vectorstore.activate_version(version)


def link(tenant, item, relation, entity_type, name, weight=1.0):
    entity, _ = Entity.objects.get_or_create(tenant=tenant, entity_type=entity_type, name=name)
    Relation.objects.create(tenant=tenant, head_item=item, relation=relation, tail_entity=entity, weight=weight)
