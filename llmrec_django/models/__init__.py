"""The data the recommender works on: tenants, items, users, interactions, the knowledge graph,
and versioned embeddings stored in pgvector.

Every row belongs to a ``Tenant`` (one catalogue: a shop, a site); single-site installs use the
default tenant, created by the first migration. Queries go through ``.for_tenant(tenant)``.

Vectors: one ``vector`` column without a fixed dimension holds the item (and user) vectors of
every ``EmbeddingVersion``; each version gets its own partial HNSW index on
``(embedding::vector(dim))`` restricted to its rows (see ``llmrec_django.database.vectorstore``). A new
model with another dimension is built beside the active one and switched on atomically
(blue/green), and the previous version stays queryable for a one-step rollback.
"""

# One module per concern: ``catalogue`` imports none of the others, the rest import only
# ``catalogue`` and ``vectors``. Every model is importable from here, as before the split
# (``from llmrec_django.models import Item``).
from llmrec_django.models.access import (
    API_KEY_SCOPES,
    DEFAULT_API_KEY_SCOPES,
    ApiKey,
    default_api_key_scopes,
    hash_api_key,
)
from llmrec_django.models.batch import BatchList, BatchRun, DigestOptOut
from llmrec_django.models.catalogue import (
    ACCOUNT_PROFILE_ID,
    TIMES_OF_DAY,
    Entity,
    EventType,
    Interaction,
    Item,
    RecommendationPreview,
    Relation,
    Tenant,
    TenantManager,
    TenantQuerySet,
    UserProfile,
    item_content_hash,
    time_of_day,
)
from llmrec_django.models.conversations import ConversationSession, ConversationTurn
from llmrec_django.models.copy import RecommendationCopy
from llmrec_django.models.learning import EvaluationReport, TrainingRun
from llmrec_django.models.online import (
    Attribution,
    AttributionCursor,
    Experiment,
    ExperimentArm,
    ExperimentAssignment,
    ServedList,
)
from llmrec_django.models.ranking import BusinessRule, CollaborativeModel, RankingModel
from llmrec_django.models.vectors import EmbeddingVersion, ItemVector, UserVector
from llmrec_django.models.work import PendingWork, QuarantinedWrite, TaskDelivery

__all__ = [
    "API_KEY_SCOPES",
    "DEFAULT_API_KEY_SCOPES",
    "default_api_key_scopes",
    "ACCOUNT_PROFILE_ID",
    "ApiKey",
    "Attribution",
    "AttributionCursor",
    "BatchList",
    "BatchRun",
    "BusinessRule",
    "CollaborativeModel",
    "DigestOptOut",
    "ConversationSession",
    "ConversationTurn",
    "EmbeddingVersion",
    "Entity",
    "EvaluationReport",
    "EventType",
    "Experiment",
    "ExperimentArm",
    "ExperimentAssignment",
    "Interaction",
    "Item",
    "ItemVector",
    "PendingWork",
    "QuarantinedWrite",
    "RankingModel",
    "RecommendationCopy",
    "RecommendationPreview",
    "Relation",
    "ServedList",
    "TIMES_OF_DAY",
    "TaskDelivery",
    "Tenant",
    "TenantManager",
    "TenantQuerySet",
    "TrainingRun",
    "UserProfile",
    "UserVector",
    "hash_api_key",
    "item_content_hash",
    "time_of_day",
]
