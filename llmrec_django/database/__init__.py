"""Storage: everything kept in PostgreSQL and the caches in front of it.

- ``embedded``: the database a site runs on (``DATABASE_URL``, else an embedded PostgreSQL with
  pgvector); what a site's settings import, so this ``__init__`` imports nothing else;
- ``vectorstore`` (pgvector: versions, HNSW indexes, searches), ``vector_cache`` (a version's
  vectors as one matrix per process), ``reads`` (several reads in one round trip), ``columns``
  (millions of rows as numpy arrays, through binary COPY);
- ``serving_data``: the recommend service's bulk reads (a user's history, item rows, graph edges,
  popularity);
- ``caches``: the one registry of per-process caches (``caches.clear_all()``);
- ``outbox`` and ``deliveries``: background work stored with the change that asked for it;
- ``tenancy``: which catalogue a request is about.

Usage in a site's settings::

    from llmrec_django.database import database_config
    DATABASES = {"default": database_config()}
"""

from llmrec_django.database.embedded import (
    database_config,
    embedded_database_url,
    llmrec_home,
    start_embedded_server,
    stop_embedded_server,
)

__all__ = [
    "database_config",
    "embedded_database_url",
    "llmrec_home",
    "start_embedded_server",
    "stop_embedded_server",
]
