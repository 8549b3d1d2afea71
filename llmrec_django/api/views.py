"""The API's views: thin. Each parses its input with a serializer, checks who may touch which
profile (``permissions``), calls a service and serializes the result."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from llmrec_django.api import serializers as s
from llmrec_django.api.authentication import ApiKeyAuthentication
from llmrec_django.api.errors import exception_handler
from llmrec_django.api.parsers import LimitedJSONParser
from llmrec_django.api.permissions import (
    NOT_YOURS,
    READ_REPORTS,
    READ_USERS,
    TENANT_HEADER,
    WRITE_EVENTS,
    CatalogueReadOnlyOrGrant,
    Grant,
    HasGrant,
    IsAuthenticated,
    catalogue_grant,
    check_profile_access,
    has_grant,
    is_trusted,
    own_profile,
    request_tenant,
    require_grant,
)
from llmrec_django.api.schema import LLMRecAutoSchema  # its module also registers the OpenAPI extensions
from llmrec_django.api.throttles import AnonThrottle, ApiKeyThrottle, UserThrottle
from llmrec_django.catalogue import events
from llmrec_django.catalogue.importing.validation import ITEM_NODE, USER_NODE
from llmrec_django.conf import llmrec_settings
from llmrec_django.database import health
from llmrec_django.models import Entity, Item, Relation, UserProfile
from llmrec_django.recommend import served_log, serving

TENANT_PARAMETER = OpenApiParameter(
    TENANT_HEADER, str, OpenApiParameter.HEADER, required=False,
    description="Tenant slug (staff only; API keys are bound to their tenant). Default: the default tenant.",
)  # fmt: skip


class LLMRecView(generics.GenericAPIView):
    """Base of every API view: authentication, permissions, throttles, JSON in and out, JSON
    errors, the request's tenant (``self.tenant``) and cache headers."""

    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [AnonThrottle, UserThrottle, ApiKeyThrottle]
    parser_classes = [LimitedJSONParser]
    renderer_classes = [JSONRenderer]
    schema = LLMRecAutoSchema()
    # No OPTIONS metadata: the OpenAPI schema describes the API, and DRF's metadata would ask
    # views that read their bodies by hand for a serializer they do not have (a 500). OPTIONS is a 405.
    metadata_class = None
    # Responses that depend on who asks: "Cache-Control: private" so shared caches keep out.
    personalised = True
    # Responses that hold a served list: "private, no-store", since each carries its own list_id
    # (a stored copy would credit one list with what many views showed) and reflects the moment.
    serves_lists = False

    def get_exception_handler(self):
        return exception_handler

    def initial(self, request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.tenant = request_tenant(request)

    def finalize_response(self, request, response, *args: Any, **kwargs: Any):
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_vary_headers(response, ("Cookie", "Authorization", TENANT_HEADER))
        if self.personalised or self.serves_lists:
            patch_cache_control(response, private=True)
        if self.serves_lists or response.status_code >= 400:  # errors are never kept either
            patch_cache_control(response, no_store=True)
        return response

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "tenant": getattr(self, "tenant", None)}

    def query(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def body(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
        if not isinstance(self.request.data, dict):
            raise ValidationError({"non_field_errors": ["The request body must be a JSON object."]})
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def profile(self, external_id: str, grant: Grant = READ_USERS) -> UserProfile:
        """The tenant's profile ``external_id`` if the caller may access it (their own, or with
        ``grant``); else a 404, or a 403 naming the grant for staff and keys (see ``permissions``)."""
        found = UserProfile.objects.by_external_id(self.tenant, external_id)
        if found is None:
            if not is_trusted(self.request):
                raise NotFound(NOT_YOURS.format(external_id=external_id))
            raise NotFound(f"No user {external_id!r} in tenant {self.tenant.slug!r}.")
        check_profile_access(self.request, found, grant)
        return found

    def named_or_own_profile(
        self, external_id: str | None, *, create: bool = False, grant: Grant = READ_USERS
    ) -> UserProfile:
        """The named profile (checked against ``grant``), else the caller's own; API keys and
        staff must name one."""
        if external_id:
            return self.profile(external_id, grant)
        profile = own_profile(self.request, self.tenant, create=create)
        if profile is None:
            if is_trusted(self.request):
                raise ValidationError({"user": ["Name the user (external id)."]})
            raise NotFound("Your account has no recommendation profile in this tenant yet.")
        return profile


# --- root ------------------------------------------------------------------------------------


class RootView(LLMRecView):
    permission_classes = []
    public_methods = frozenset({"GET"})
    personalised = False

    @extend_schema(
        summary="Links to the API's endpoints and documentation",
        responses=inline_serializer("ApiRoot", {"version": serializers.CharField(), "links": serializers.DictField()}),
    )
    def get(self, request):
        names = [
            "events", "events-bulk", "search", "items", "relations", "conversations", "me", "me-profile", "schema", "docs",
        ]  # fmt: skip
        return Response(
            {
                "version": "v1",
                "links": {name: request.build_absolute_uri(reverse(f"llmrec_api:{name}")) for name in names},
            }
        )


class HealthView(LLMRecView):
    """Whether this process can serve: 200 while the database answers, else 503. Anyone gets the
    status (load balancers, uptime checks: not throttled, one ``SELECT 1``); staff and API keys
    also get the tenant's background work that waits or needs a person, and this process's
    served-list log."""

    permission_classes = []
    throttle_classes = []
    public_methods = frozenset({"GET"})
    personalised = False

    @extend_schema(
        summary="Health: the database answers; for staff and keys, work waiting or needing a person",
        responses={
            200: inline_serializer(
                "Health",
                {
                    "status": serializers.CharField(),
                    "work": serializers.DictField(child=serializers.IntegerField(), required=False),
                    "served_log": serializers.DictField(child=serializers.IntegerField(), required=False),
                },
            ),
            503: OpenApiResponse(description="The database does not answer."),
        },
    )
    def get(self, request):
        if not health.database_answers():
            return Response({"status": "unavailable"}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        body: dict[str, Any] = {"status": "ok"}
        if has_grant(request, READ_REPORTS):
            writer = served_log.writer
            body["work"] = health.work_counts(request_tenant(request))
            body["served_log"] = {
                "pending": writer.pending,
                "written": writer.written,
                "dropped": writer.dropped,
                "quarantined": writer.quarantined,
            }
            if body["work"]["outbox_given_up"] or body["work"]["quarantined_writes"]:
                body["status"] = "needs_attention"
        return Response(body)


# --- recommendations -------------------------------------------------------------------------


def list_response(result) -> Response:
    """A served list, with its steps' times in a ``Server-Timing`` header (``list_cache`` alone
    when the list cache served it), for browsers' developer tools and load tests."""
    response = Response(s.recommendation_list_data(result))
    if result.timings_ms:
        response["Server-Timing"] = ", ".join(
            f"{name};dur={float(ms):.2f}" for name, ms in result.timings_ms.items() if name.isidentifier()
        )
    return response


class UserRecommendationsView(LLMRecView):
    serves_lists = True

    @extend_schema(
        summary="A user's personalised recommendations",
        parameters=[s.RecommendationQuerySerializer, TENANT_PARAMETER],
        responses={200: s.RecommendationListSerializer},
    )
    def get(self, request, external_id: str):
        params = self.query(s.RecommendationQuerySerializer)
        profile = self.profile(external_id)
        result = serving.for_user(
            profile,
            tenant=self.tenant,
            k=params.get("k"),
            category=params.get("category"),
            context=s.ContextFields.context_of(params),
        )
        return list_response(result)


class SimilarItemsView(LLMRecView):
    serves_lists = True
    permission_classes = []
    public_methods = frozenset({"GET"})

    @extend_schema(
        summary="Items similar to an item",
        parameters=[s.SimilarQuerySerializer, TENANT_PARAMETER],
        responses={200: s.RecommendationListSerializer},
    )
    def get(self, request, external_id: str):
        params = self.query(s.SimilarQuerySerializer)
        profile = self.profile(params["user"]) if params.get("user") else None
        self.personalised = profile is not None
        result = serving.similar(external_id, tenant=self.tenant, k=params.get("k"), user=profile)
        return list_response(result)


class SearchView(LLMRecView):
    serves_lists = True
    permission_classes = []
    public_methods = frozenset({"GET", "POST"})

    def _search(self, params: dict[str, Any], *, remember: bool) -> Response:
        profile = None
        if params.get("personalise", True):
            profile = self.profile(params["user"]) if params.get("user") else own_profile(self.request, self.tenant)
        self.personalised = profile is not None
        result = serving.search(
            params["q"],
            tenant=self.tenant,
            user=profile,
            k=params.get("k"),
            context=s.ContextFields.context_of(params),
            remember=remember,
        )
        return list_response(result)

    @extend_schema(
        summary="Natural-language search",
        parameters=[s.SearchQuerySerializer, TENANT_PARAMETER],
        responses={200: s.RecommendationListSerializer},
    )
    def get(self, request):
        # A GET changes nothing: a link (from another site, say) cannot plant queries in a profile.
        return self._search(self.query(s.SearchQuerySerializer), remember=False)

    @extend_schema(
        summary="Natural-language search (query in the body)",
        request=s.SearchQuerySerializer,
        parameters=[TENANT_PARAMETER],
        responses={200: s.RecommendationListSerializer},
    )
    def post(self, request):
        return self._search(self.body(s.SearchQuerySerializer), remember=True)


# --- events ----------------------------------------------------------------------------------


class _EventsView(LLMRecView):
    def _own_rows(self, rows: list[Any]) -> list[Any]:
        """A logged-in account's events: ``user_id`` defaults to its profile and may name no other.
        Staff are users too (their own browsing personalises their lists); naming anyone else
        takes the grant for it, as it does for API keys, which have no profile of their own."""
        profile = own_profile(self.request, self.tenant, create=True)
        foreign = []
        for index, row in enumerate(rows):
            if isinstance(row, dict):
                named = row.get("user_id")
                if named in (None, "") and profile is not None:
                    row["user_id"] = profile.external_id
                elif profile is None or str(named) != profile.external_id:
                    foreign.append(index)
        if foreign and is_trusted(self.request):
            require_grant(self.request, WRITE_EVENTS)
        elif foreign:
            raise PermissionDenied(
                f"You may only send your own events (user_id {profile.external_id!r}); rows {foreign[:20]} name another user."
            )
        return rows

    def _ingest(self, rows: list[Any]) -> Response:
        limit = None if is_trusted(self.request) else int(llmrec_settings.API_MAX_USER_EVENTS)
        result = events.ingest_events(self._own_rows(rows), self.tenant, max_events=limit)
        body = {
            "received": result.received,
            "created": result.created,
            "duplicates": result.duplicates,
            "users_created": result.users_created,
        }
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class EventView(_EventsView):
    @extend_schema(
        summary="Record one event (idempotent on event_id)",
        request=s.EventSerializer,
        parameters=[TENANT_PARAMETER],
        responses={201: s.IngestResultSerializer, 200: OpenApiResponse(s.IngestResultSerializer, "Already stored")},
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["The request body must be one event object."]})
        return self._ingest([dict(request.data)])


class EventBulkView(_EventsView):
    @extend_schema(
        summary="Record many events at once: all or nothing, idempotent on event_id",
        request=s.EventBatchSerializer,
        parameters=[TENANT_PARAMETER],
        responses={
            201: s.IngestResultSerializer,
            200: OpenApiResponse(s.IngestResultSerializer, "Every event was already stored"),
        },
    )
    def post(self, request):
        data = request.data
        if not isinstance(data, dict) or not isinstance(data.get("events"), list):
            raise ValidationError({"events": ['Send {"events": [event, ...]}.']})
        return self._ingest(data["events"])


# --- catalogue -------------------------------------------------------------------------------


def visible_items(request, tenant):
    """The tenant's items a caller may read: the active ones, and the drafts (inactive) too for
    callers who may read the whole catalogue (an API key with "read", staff with view_item)."""
    items = Item.objects.filter(tenant=tenant)
    return items if has_grant(request, catalogue_grant("item", "GET")) else items.filter(is_active=True)


class ItemFilter(filters.FilterSet):
    category = filters.CharFilter(field_name="category", lookup_expr="iexact")
    is_active = filters.BooleanFilter()
    q = filters.CharFilter(field_name="title", lookup_expr="icontains", label="Title contains")
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Item
        fields = ["category", "is_active", "q", "updated_since"]


class RelationFilter(filters.FilterSet):
    relation = filters.CharFilter(field_name="relation", label="Only this relation name")
    item = filters.CharFilter(method="filter_item", label="Only edges from or to this item (external id)")

    class Meta:
        model = Relation
        fields = ["relation", "item"]

    def filter_item(self, queryset, name: str, value: str):
        return queryset.filter(Q(head_item__external_id=value) | Q(tail_item__external_id=value))


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


class ItemListView(LLMRecView, generics.ListCreateAPIView):
    """List the catalogue (anyone) or add an item (staff, API key). A new or changed item is
    queued for (re-)embedding once the transaction commits (``signals``)."""

    public_methods = frozenset({"GET"})
    permission_classes = [CatalogueReadOnlyOrGrant]
    catalogue_model = "item"
    serializer_class = s.ItemSerializer
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = ItemFilter
    pagination_class = Pagination
    personalised = False

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Item.objects.none()
        return visible_items(self.request, self.tenant).order_by("pk")

    @extend_schema(summary="List items", parameters=[TENANT_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(summary="Create an item", parameters=[TENANT_PARAMETER])
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class ItemDetailView(LLMRecView, generics.RetrieveUpdateDestroyAPIView):
    permission_classes = [CatalogueReadOnlyOrGrant]
    catalogue_model = "item"
    public_methods = frozenset({"GET"})
    serializer_class = s.ItemSerializer
    lookup_field = "external_id"
    personalised = False

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Item.objects.none()
        return visible_items(self.request, self.tenant)

    @extend_schema(summary="Read an item", parameters=[TENANT_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(summary="Replace an item", parameters=[TENANT_PARAMETER])
    def put(self, request, *args, **kwargs):
        return super().put(request, *args, **kwargs)

    @extend_schema(summary="Change some fields of an item", parameters=[TENANT_PARAMETER])
    def patch(self, request, *args, **kwargs):
        return super().patch(request, *args, **kwargs)

    @extend_schema(
        summary="Delete an item (its events, vectors and relations go with it)", parameters=[TENANT_PARAMETER]
    )
    def delete(self, request, *args, **kwargs):
        return super().delete(request, *args, **kwargs)


def _relation_end(tenant, node: dict[str, str], end: str) -> dict[str, Any]:
    kind = node["type"].strip().lower()
    if kind == ITEM_NODE:
        item = Item.objects.filter(tenant=tenant, external_id=node["id"]).first()
        if item is None:
            raise ValidationError({end: [f"Unknown item {node['id']!r} in this tenant."]})
        return {f"{end}_item": item}
    if kind == USER_NODE:
        profile, _ = UserProfile.objects.get_or_create(tenant=tenant, external_id=node["id"])
        return {f"{end}_user": profile}
    entity, _ = Entity.objects.get_or_create(tenant=tenant, entity_type=node["type"].strip(), name=node["id"])
    return {f"{end}_entity": entity}


class RelationListView(LLMRecView, generics.ListAPIView):
    """Knowledge-graph edges ``head -relation-> tail`` (staff, API keys). An end of type "item"
    must name an existing item; "user" names a profile (created if unknown); any other type is an
    entity of that type (created if missing). Re-posting an edge updates its weight."""

    permission_classes = [HasGrant]
    catalogue_model = "relation"
    serializer_class = s.RelationSerializer
    pagination_class = Pagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = RelationFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Relation.objects.none()
        return (
            Relation.objects.filter(tenant=self.tenant)
            .select_related("head_item", "head_entity", "head_user", "tail_item", "tail_entity", "tail_user")
            .order_by("pk")
        )

    @extend_schema(
        summary="List knowledge-graph relations",
        parameters=[TENANT_PARAMETER],
    )
    def get(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)

    @extend_schema(
        summary="Create (or re-weight) a relation",
        parameters=[TENANT_PARAMETER],
        responses={201: s.RelationSerializer, 200: s.RelationSerializer},
        description="201 when the relation is new, 200 when an existing one was re-weighted.",
    )
    def post(self, request):
        data = self.body(s.RelationSerializer)
        with transaction.atomic():  # a refused end leaves no entity or profile behind
            ends = {
                **_relation_end(self.tenant, data["head"], "head"),
                **_relation_end(self.tenant, data["tail"], "tail"),
            }
            relation, created = Relation.objects.get_or_create(
                tenant=self.tenant, relation=data["relation"], **ends, defaults={"weight": data["weight"]}
            )
            if not created and relation.weight != data["weight"]:
                relation.weight = data["weight"]
                relation.save(update_fields=["weight"])
        return Response(s.RelationSerializer(relation).data, status=201 if created else 200)


class RelationDetailView(LLMRecView):
    permission_classes = [HasGrant]
    catalogue_model = "relation"
    serializer_class = s.RelationSerializer

    def get_object(self) -> Relation:
        return get_object_or_404(Relation, tenant=self.tenant, pk=self.kwargs["pk"])

    @extend_schema(summary="Read a relation", parameters=[TENANT_PARAMETER])
    def get(self, request, pk: int):
        return Response(s.RelationSerializer(self.get_object()).data)

    @extend_schema(
        summary="Change a relation's weight", request=s.RelationUpdateSerializer, parameters=[TENANT_PARAMETER]
    )
    def patch(self, request, pk: int):
        relation = self.get_object()
        relation.weight = self.body(s.RelationUpdateSerializer)["weight"]
        relation.save(update_fields=["weight"])
        return Response(s.RelationSerializer(relation).data)

    @extend_schema(summary="Delete a relation", parameters=[TENANT_PARAMETER], responses={204: None})
    def delete(self, request, pk: int):
        self.get_object().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
