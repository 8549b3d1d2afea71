"""What the site's interfaces call to show lists: the recommend service, plus the user's
experiment arm, and logging of the list as served (its ``list_id``, the impressions).

Usage (the REST API, the template tags and the conversations do this; the admin preview and the
offline evaluation call ``llmrec_django.recommend`` directly, so they are not logged)::

    from llmrec_django.recommend import serving

    result = serving.for_user(profile, k=10, context={"device": "mobile"})
    result.list_id, result.experiment, result.arm      # in the API response and the page's markup
    serving.popular(tenant=None, k=10)                  # anonymous visitors
    serving.similar(item, user=profile)
    serving.search("cheap trail running shoes", user=profile)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from llmrec_django.core.storable import storable_text
from llmrec_django.database.tenancy import resolve_tenant
from llmrec_django.models import Item, Tenant, UserProfile
from llmrec_django.recommend import experiments, list_cache
from llmrec_django.recommend import served_log as log
from llmrec_django.recommend.for_user import recommend_for_user
from llmrec_django.recommend.lists import RecommendationList, popular_items, resolve_user
from llmrec_django.recommend.rules import active_rules, request_context
from llmrec_django.recommend.similar import similar_items
from llmrec_django.recommend.state import serving_state
from llmrec_django.recommend.text_search import search as search_items


def _logged_context(context: Mapping[str, Any] | None, **extra: Any) -> dict[str, Any]:
    logged = {key: value for key, value in request_context(context).items() if value not in (None, "")}
    logged.update({key: value for key, value in extra.items() if value not in (None, "")})
    return logged


def for_user(
    user: UserProfile | str,
    *,
    tenant: Tenant | str | None = None,
    k: int | None = None,
    category: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> RecommendationList:
    """The user's "for you" list, served by their experiment arm when an experiment runs. A user
    who turned personalisation off takes part in no experiment."""
    tenant = resolve_tenant(tenant if tenant is not None else getattr(user, "tenant", None))
    profile = resolve_user(user, tenant)
    category = storable_text(category) if category else category  # a page's parameter: storable from here on
    choice = experiments.arm_for(tenant, profile) if profile.personalisation_enabled else None
    result = _kept_or_computed(profile, tenant, choice, k=k, category=category, context=context)
    logged_context = _logged_context(context, category=category)
    if choice is not None:
        result.experiment, result.arm = choice.experiment_name, choice.arm.name
    log.served(
        result,
        tenant_id=tenant.pk,
        user_id=profile.pk,
        surface="for_you",
        context=logged_context,
        experiment_id=choice.experiment_id if choice else None,
        arm_id=choice.arm.id if choice else None,
    )
    if choice is not None:
        for shadow in choice.shadows:
            experiments.shadow_scorer.submit(
                _shadow_job(profile, tenant, shadow, choice.experiment_id, k, category, context, logged_context)
            )
    return result


def _kept_or_computed(
    profile: UserProfile,
    tenant: Tenant,
    choice: experiments.ArmChoice | None,
    *,
    k: int | None,
    category: str | None,
    context: Mapping[str, Any] | None,
) -> RecommendationList:
    """The user's list from the list cache when it is still what the service would serve
    (``recommend/list_cache.py``), else computed (and kept)."""
    strategy = choice.strategy if choice else None
    state = serving_state(tenant.pk)
    version_id = strategy.version_id if strategy and strategy.version_id is not None else None
    if version_id is None and state.version is not None:
        version_id = state.version.pk
    kept_at_all = list_cache.enabled() and profile.personalisation_enabled and not (choice and choice.shadows)
    if not kept_at_all or version_id is None:  # no version: a fallback list, never kept
        return recommend_for_user(profile, tenant=tenant, k=k, category=category, context=context, strategy=strategy)
    context = request_context(context)
    # The rules that apply at this moment and in this context (a rule's time window may open
    # while a list is kept), and the arm's strategy as it is now (an arm's strategy can be edited).
    variant = list_cache.variant_key(
        k=k,
        category=category,
        context=context,
        rules=[rule.pk for rule in active_rules(tenant.pk, context)],
        strategy=repr(strategy) if strategy else None,
    )
    kept = {"signature": state.signature, "profile_updated_at": profile.updated_at}
    result = list_cache.lookup(tenant.pk, profile.pk, variant, **kept)
    if result is not None:
        return result
    stamp = list_cache.read_stamp(profile.pk, version_id)
    result = recommend_for_user(profile, tenant=tenant, k=k, category=category, context=context, strategy=strategy)
    if result.version_id == version_id:
        list_cache.store(tenant.pk, profile.pk, variant, result, stamp=stamp, **kept)
    return result


def _shadow_job(
    profile: UserProfile,
    tenant: Tenant,
    arm: experiments.Arm,
    experiment_id: int,
    k: int | None,
    category: str | None,
    context: Mapping[str, Any] | None,
    logged_context: dict[str, Any],
) -> Callable[[], None]:
    """The shadow arm's list for this request, to run after the response (never shown)."""

    def job() -> None:
        result = recommend_for_user(
            profile, tenant=tenant, k=k, category=category, context=context, strategy=arm.strategy
        )
        log.served(
            result,
            tenant_id=tenant.pk,
            user_id=profile.pk,
            surface="for_you",
            context=logged_context,
            experiment_id=experiment_id,
            arm_id=arm.id,
            shadow=True,
        )

    return job


def popular(
    *,
    tenant: Tenant | str | None = None,
    k: int | None = None,
    category: str | None = None,
    context: Mapping[str, Any] | None = None,
    reason: str = "no user given",
    user: UserProfile | None = None,
) -> RecommendationList:
    """The popularity list (anonymous visitors, unknown users), logged."""
    tenant = resolve_tenant(tenant)
    category = storable_text(category) if category else category
    result = popular_items(tenant=tenant, k=k, category=category, context=context, reason=reason)
    log.served(
        result,
        tenant_id=tenant.pk,
        user_id=user.pk if user is not None else None,
        surface="popular",
        context=_logged_context(context, category=category),
    )
    return result


def similar(
    item: Item | str,
    *,
    tenant: Tenant | str | None = None,
    k: int | None = None,
    user: UserProfile | str | None = None,
) -> RecommendationList:
    """Items like ``item``, logged (with the anchor item in the context)."""
    tenant = resolve_tenant(tenant if tenant is not None else getattr(item, "tenant", None))
    profile = resolve_user(user, tenant) if user is not None else None
    result = similar_items(item, tenant=tenant, k=k, user=profile)
    anchor = item.external_id if isinstance(item, Item) else str(item)
    log.served(
        result,
        tenant_id=tenant.pk,
        user_id=profile.pk if profile else None,
        surface="similar",
        context=_logged_context(None, anchor=anchor),
    )
    return result


def search(
    query: str,
    *,
    tenant: Tenant | str | None = None,
    user: UserProfile | str | None = None,
    k: int | None = None,
    context: Mapping[str, Any] | None = None,
    remember: bool = True,
) -> RecommendationList:
    """Natural-language search results, logged (with the query in the context); ``remember``:
    keep the query in the user's recent queries (not for a GET: it must change nothing)."""
    query = storable_text(query)  # remembered in the user's recent queries and logged
    tenant = resolve_tenant(tenant if tenant is not None else getattr(user, "tenant", None))
    profile = resolve_user(user, tenant) if user is not None else None
    result = search_items(query, tenant=tenant, user=profile, k=k, context=context, remember=remember)
    log.served(
        result,
        tenant_id=tenant.pk,
        user_id=profile.pk if profile else None,
        surface="search",
        context=_logged_context(context, query=query.strip()),
    )
    return result


def conversation_turn(
    result: RecommendationList, *, tenant_id: int, user_id: int, session_id: int, context: Mapping[str, Any] | None
) -> str:
    """Log a conversation turn's list (``llmrec_django.recommend.conversations`` builds it)."""
    return log.served(
        result,
        tenant_id=tenant_id,
        user_id=user_id,
        surface="conversation",
        context=_logged_context(context, session=session_id),
    )
