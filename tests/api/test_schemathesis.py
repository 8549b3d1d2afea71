"""Property-based tests of the REST API against its own OpenAPI schema (Schemathesis), in-process
through the site's WSGI application: for every operation, generated requests (valid and invalid)
never cause a server error, every answer's status and body are the ones the schema documents, and
an operation that requires authentication refuses the same request without credentials.

Bounded and repeatable: a few examples per operation, derandomized, no deadline."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from llmrec_django.models import API_KEY_SCOPES, ApiKey, ConversationSession, Experiment, Relation
from tests.api_helpers import API, ann_catalogue, api_key_client
from tests.recommend_helpers import activate, link

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    ignored_auth,
]


# Loaded when the module is collected: the schema view needs no database.
schema = schemathesis.openapi.from_wsgi(API + "schema/", WSGIHandler())

# The ids of the test's data by the collection a path names (set by the ``api_key`` fixture): half
# the generated requests of an operation with ids in its path name these, so that they reach real
# users, items, conversations, relations and experiments rather than only 404s.
KNOWN_IDS: dict[str, dict[str, object]] = {}


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    collection = context.operation.path.removeprefix(API).split("/")[0]
    known = KNOWN_IDS.get(collection)
    if not known or not path_parameters:
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, {**path_parameters, **known}])


@pytest.fixture
def requests_keep_the_test_transaction():
    """Django closes "old" connections at the start and end of each request, which would close
    the test's transaction: like Django's test client, the test does without that meanwhile."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_key(tenant, settings):
    """A catalogue with an active version, Ann with a conversation, a relation, an experiment, and
    the Authorization header of the server making the calls (an API key may call every operation)."""
    cache.clear()  # throttle counters of earlier tests
    items, _, profile = ann_catalogue(tenant, settings)
    activate(tenant, list(items.values()), users=[(profile, [1, 0, 0, 0])])
    link(tenant, items["ship"], "genre", "genre", "science fiction")
    conversation = ConversationSession.objects.create(tenant=tenant, user=profile)
    experiment = Experiment.objects.create(tenant=tenant, name="diversity")
    KNOWN_IDS.update(
        users={"external_id": profile.external_id},
        items={"external_id": items["ship"].external_id},
        conversations={"id": conversation.pk},
        relations={"id": Relation.objects.get(tenant=tenant).pk},
        experiments={"name": experiment.name},
    )
    _, raw_key = ApiKey.issue(tenant, "schemathesis", scopes=API_KEY_SCOPES)
    return f"Api-Key {raw_key}"


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_keeps_to_its_schema(case, api_key, requests_keep_the_test_transaction):
    case.call_and_validate(headers={"Authorization": api_key}, checks=CHECKS)


def test_options_is_refused_not_a_server_error(tenant):
    """OPTIONS once made DRF's metadata ask views without a serializer_class for one (a 500)."""
    client, _ = api_key_client(tenant)
    for path in ("search/", "events/", "events/bulk/", "conversations/", "items/"):
        response = client.options(API + path)
        assert response.status_code == 405 and response.json()["error"]["code"], path
