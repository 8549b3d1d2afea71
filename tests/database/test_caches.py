"""The one registry of per-process caches: ``clear_all`` empties every cache of the app."""

from llmrec_django.api import authentication
from llmrec_django.catalogue import collaborative
from llmrec_django.database import caches, serving_data, vector_cache
from llmrec_django.database.caches import TenantCache
from llmrec_django.recommend import experiments, exploration, new_items, reranker, state


def test_a_tenant_cache_is_registered_when_made_and_emptied_by_clear_all():
    computed = []
    cache = TenantCache("squares", lambda tenant_id: computed.append(tenant_id) or tenant_id**2, lambda: 3600)
    assert cache.get(3) == 9 and cache.get(3) == 9 and computed == [3], "computed once, then served"
    caches.clear_all()
    assert cache.get(3) == 9 and computed == [3, 3], "computed again after clear_all"


def test_a_registered_clear_function_runs_on_clear_all():
    loaded = {"model": object()}
    assert caches.register(loaded.clear) == loaded.clear
    caches.clear_all()
    assert loaded == {}


def test_every_cache_of_the_app_is_in_the_registry():
    registered = set(caches._registry)
    for tenant_cache in (
        serving_data._popularity,
        state._states,
        new_items._pools,
        experiments.plans,
        exploration.exposure,
    ):
        assert tenant_cache.clear in registered, tenant_cache.name
    for clear in (vector_cache.clear, reranker.clear_cache, collaborative.clear_cache, authentication.forget_keys):
        assert clear in registered, clear.__qualname__
