"""Request and response shapes of the API (they also make the OpenAPI schema)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.validators import MaxLengthValidator
from django.db import IntegrityError, transaction
from rest_framework import serializers

from llmrec_django.api.errors import Conflict
from llmrec_django.catalogue.importing.validation import RowError, _check_json_strings
from llmrec_django.conf import llmrec_settings
from llmrec_django.models import TIMES_OF_DAY, Experiment, ExperimentArm, Item, Relation, UserProfile
from llmrec_django.recommend.lists import RecommendationList

MAX_QUERY_LENGTH = 1000


# --- parameters ------------------------------------------------------------------------------


class KField(serializers.IntegerField):
    """List size: from 1 to ``LLMREC["MAX_K"]``; anything else is a 400 that says the range (a
    caller asking for a billion items has a bug worth hearing about, not a silent 100)."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("required", False)
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("help_text", "How many items, 1 to LLMREC MAX_K (default LLMREC DEFAULT_K).")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        value = super().to_internal_value(data)
        limit = int(llmrec_settings.MAX_K)
        if value > limit:
            raise serializers.ValidationError(f"Ensure this value is less than or equal to {limit} (MAX_K).")
        return value


class ContextFields(serializers.Serializer):
    device = serializers.CharField(required=False, max_length=64, help_text='e.g. "mobile", "desktop".')
    time_of_day = serializers.ChoiceField(
        choices=TIMES_OF_DAY, required=False, help_text="Derived from the server's clock when absent."
    )
    location = serializers.CharField(required=False, max_length=128)

    @staticmethod
    def context_of(data: dict[str, Any]) -> dict[str, str]:
        return {key: data[key] for key in ("device", "time_of_day", "location") if data.get(key)}


class RecommendationQuerySerializer(ContextFields):
    k = KField()
    category = serializers.CharField(required=False, max_length=255, help_text="Only items of this category.")


class SimilarQuerySerializer(serializers.Serializer):
    k = KField()
    user = serializers.CharField(
        required=False, max_length=255, help_text="Leave out what this user (external id) already consumed."
    )


class SearchQuerySerializer(ContextFields):
    q = serializers.CharField(max_length=MAX_QUERY_LENGTH, help_text='Free text, e.g. "cheap trail running shoes".')
    k = KField()
    user = serializers.CharField(
        required=False,
        max_length=255,
        help_text="Personalise for this user (external id); by default the logged-in user's own profile.",
    )
    personalise = serializers.BooleanField(
        required=False, default=True, help_text="false: the same results for everyone."
    )


# --- recommendation lists --------------------------------------------------------------------


class RecommendationSerializer(serializers.Serializer):
    position = serializers.IntegerField(help_text="1-based place in the list; send it back with the list_id.")
    external_id = serializers.CharField()
    title = serializers.CharField()
    score = serializers.FloatField()
    sources = serializers.ListField(
        child=serializers.CharField(), help_text='vector, collaborative, kg, ...; "explore": an exploration place.'
    )
    explanation = serializers.CharField()


class ParsedQuerySerializer(serializers.Serializer):
    text = serializers.CharField()
    category = serializers.CharField(allow_null=True)
    max_price = serializers.FloatField(allow_null=True)
    cheap = serializers.BooleanField()


class ConstraintSerializer(serializers.Serializer):
    attribute = serializers.CharField(help_text='An item attribute, or "category".')
    op = serializers.ChoiceField(choices=["in", "not_in", "<=", ">=", "<", ">", "is"])
    value = serializers.JSONField(help_text="A list of values (in, not_in), a number, or true/false (is).")
    words = serializers.CharField(help_text="The words of the request that set it.")
    source = serializers.CharField(help_text='"rule", or "turn": carried from an earlier conversation turn.')
    relative = serializers.BooleanField(help_text='Set from a relative word ("cheap", "recent", "cheaper than these").')
    text = serializers.CharField(help_text='In words, e.g. "price under 50", "not horror".')


class IntentSerializer(serializers.Serializer):
    text = serializers.CharField()
    category = serializers.CharField(allow_null=True)
    constraints = ConstraintSerializer(many=True, help_text="Hard constraints: every item listed satisfies them.")
    soft_text = serializers.CharField(help_text="The words left for the query vector.")
    context = serializers.DictField(child=serializers.CharField(), help_text="time_of_day, occasion, weather, mood.")


class RecommendationListSerializer(serializers.Serializer):
    list_id = serializers.UUIDField(
        allow_null=True,
        help_text="Id of this served list. Send it (and the item's position) in the context of the events "
        'that follow, e.g. {"list_id": ..., "position": 2}, to credit them to this list.',
    )
    experiment = serializers.CharField(allow_null=True, help_text="The experiment that served the list, if any.")
    arm = serializers.CharField(allow_null=True, help_text="The experiment arm (strategy) that served the list.")
    source = serializers.CharField(help_text='"hybrid", "similar", "search", "conversation" or "fallback:popularity".')
    reason = serializers.CharField(allow_null=True, help_text="Why a fallback served the list (else null).")
    version_id = serializers.IntegerField(allow_null=True, help_text="The embedding version used.")
    ranking_model_id = serializers.IntegerField(allow_null=True)
    k = serializers.IntegerField()
    items = RecommendationSerializer(many=True)
    query = ParsedQuerySerializer(allow_null=True, required=False, help_text="search: constraints read from q.")
    intent = IntentSerializer(
        allow_null=True, required=False, help_text="search and conversations: the request as understood."
    )


def recommendation_list_data(result: RecommendationList) -> dict[str, Any]:
    data = {
        "list_id": result.list_id,
        "experiment": result.experiment,
        "arm": result.arm,
        "source": result.source,
        "reason": result.reason,
        "version_id": result.version_id,
        "ranking_model_id": result.ranking_model_id,
        "k": result.k,
        "items": [
            {
                "position": position,
                "external_id": r.external_id,
                "title": r.title,
                "score": r.score,
                "sources": list(r.sources),
                "explanation": r.explanation,
            }
            for position, r in enumerate(result.items, start=1)
        ],
    }
    if result.query is not None:
        q = result.query
        data["query"] = {"text": q.text, "category": q.category, "max_price": q.max_price, "cheap": q.cheap}
    if result.intent is not None:
        data["intent"] = result.intent.to_dict()
    return data


# --- events ----------------------------------------------------------------------------------


class EventSerializer(serializers.Serializer):
    """One behaviour event. The API checks events with the importer's rules
    (``llmrec_django.catalogue.events.ingest_events``); this serializer describes them."""

    event_id = serializers.CharField(max_length=255, help_text="Your id of the event; a repeated id is stored once.")
    user_id = serializers.CharField(
        max_length=255,
        required=False,
        help_text="External id of the user; unknown users get a profile. Optional for a logged-in user (their own).",
    )
    item_id = serializers.CharField(max_length=255, help_text="External id of an existing item.")
    event_type = serializers.CharField(max_length=32, help_text='A key of LLMREC["EVENT_WEIGHTS"], e.g. "view".')
    value = serializers.FloatField(required=False, allow_null=True, help_text="Rating, price paid, quantity...")
    timestamp = serializers.CharField(
        required=False, help_text="ISO 8601 (naive means UTC) or Unix seconds; default: now."
    )
    device = serializers.CharField(required=False, max_length=64, allow_blank=True)
    location = serializers.CharField(required=False, max_length=128, allow_blank=True)
    context = serializers.DictField(required=False, help_text="Any other facts, a JSON object.")


class EventBatchSerializer(serializers.Serializer):
    events = EventSerializer(many=True, help_text='At most LLMREC["API_MAX_BULK_EVENTS"] events.')


class IngestResultSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Event ids already stored or repeated in the request.")
    users_created = serializers.IntegerField(help_text="Profiles created for unknown users.")


# --- catalogue -------------------------------------------------------------------------------


def _no_nul(value: Any, name: str) -> Any:
    try:
        _check_json_strings(value, name)
    except RowError as exc:
        raise serializers.ValidationError(str(exc)) from None
    return value


class ItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = Item
        fields = [
            "external_id",
            "title",
            "description",
            "category",
            "attributes",
            "image_url",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate_attributes(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return _no_nul(value, "attributes")

    def _clash(self, external_id: str) -> bool:
        clash = Item.objects.filter(tenant=self.context["tenant"], external_id=external_id)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        return clash.exists()

    def validate_external_id(self, value: str) -> str:
        if self._clash(value):
            raise serializers.ValidationError(f"An item {value!r} already exists in this tenant.")
        return value

    def _saved(self, save: Callable[[], Item], validated_data: dict[str, Any]) -> Item:
        """``save()``, with the race the check above cannot close (two requests creating or
        renaming to the same external id at once) answered 409 rather than 500."""
        try:
            with transaction.atomic():
                return save()
        except IntegrityError:
            external_id = validated_data.get("external_id")
            if external_id is not None and self._clash(external_id):
                raise Conflict(
                    f"An item {external_id!r} exists in this tenant: another request stored it meanwhile."
                ) from None
            raise

    def create(self, validated_data: dict[str, Any]) -> Item:
        tenant = self.context["tenant"]
        return self._saved(lambda: Item.objects.create(tenant=tenant, **validated_data), validated_data)

    def update(self, instance: Item, validated_data: dict[str, Any]) -> Item:
        update = super().update
        return self._saved(lambda: update(instance, validated_data), validated_data)


class NodeSerializer(serializers.Serializer):
    type = serializers.CharField(
        max_length=64, help_text='"item", "user", or an entity type such as "brand" or "genre".'
    )
    id = serializers.CharField(max_length=255, help_text="External id of the item or user, or the entity's name.")


class RelationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    head = NodeSerializer()
    relation = serializers.CharField(max_length=64, help_text='e.g. "has_brand", "bought", "similar_to".')
    tail = NodeSerializer()
    weight = serializers.FloatField(default=1.0)
    created_at = serializers.DateTimeField(read_only=True)

    def validate_weight(self, value: float) -> float:
        if value != value or value in (float("inf"), float("-inf")):
            raise serializers.ValidationError("Must be a finite number.")
        return value

    def to_representation(self, relation: Relation) -> dict[str, Any]:
        def node(end: str) -> dict[str, str]:
            item, entity, user = (getattr(relation, f"{end}_{kind}") for kind in ("item", "entity", "user"))
            if item is not None:
                return {"type": "item", "id": item.external_id}
            if user is not None:
                return {"type": "user", "id": user.external_id}
            return {"type": entity.entity_type, "id": entity.name}

        return {
            "id": relation.pk,
            "head": node("head"),
            "relation": relation.relation,
            "tail": node("tail"),
            "weight": relation.weight,
            "created_at": serializers.DateTimeField().to_representation(relation.created_at),
        }


class RelationUpdateSerializer(serializers.Serializer):
    weight = serializers.FloatField()

    def validate_weight(self, value: float) -> float:
        return RelationSerializer().validate_weight(value)


# --- users -----------------------------------------------------------------------------------


class UserProfileSerializer(serializers.ModelSerializer):
    class Meta:
        model = UserProfile
        fields = [
            "external_id",
            "profile_text",
            "profile_text_source",
            "preferences",
            "personalisation_enabled",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class InterestProfileSerializer(serializers.Serializer):
    """The interest profile as its user sees it (``llmrec_django.catalogue.interest_profile.describe``)."""

    external_id = serializers.CharField()
    profile_text = serializers.CharField(
        allow_blank=True, help_text="The interests in plain words; they feed the interest vector."
    )
    profile_text_source = serializers.ChoiceField(
        choices=UserProfile.TextSource.choices,
        help_text="generated: learnt from behaviour (rewritten as it changes); user: written by the user (kept); "
        "site: given by the site.",
    )
    generated_text = serializers.CharField(
        allow_blank=True, help_text="What the system would write from the user's behaviour now."
    )
    personalisation_enabled = serializers.BooleanField(
        help_text="false: popular lists for this user, no interest vector (events are still stored)."
    )
    profile_generated_at = serializers.DateTimeField(allow_null=True, help_text="When the system last wrote the text.")
    updated_at = serializers.DateTimeField()


class InterestProfileUpdateSerializer(serializers.Serializer):
    """A change to the interest profile: at least one field; ``profile_text`` and ``reset`` are
    exclusive."""

    profile_text = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text='The user\'s own words, kept from now on (at most LLMREC["INTEREST_PROFILE"]["MAX_USER_CHARS"]).',
    )
    reset = serializers.BooleanField(
        required=False, default=False, help_text="true: go back to the text generated from behaviour."
    )
    personalisation_enabled = serializers.BooleanField(required=False)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        limit = int(llmrec_settings.INTEREST_PROFILE["MAX_USER_CHARS"])
        self.fields["profile_text"].max_length = limit
        self.fields["profile_text"].validators.append(MaxLengthValidator(limit))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "profile_text" not in attrs and not attrs.get("reset") and "personalisation_enabled" not in attrs:
            raise serializers.ValidationError("Give profile_text, reset or personalisation_enabled.")
        if "profile_text" in attrs and attrs.get("reset"):
            raise serializers.ValidationError("Give either profile_text or reset, not both.")
        return attrs


# --- conversations ---------------------------------------------------------------------------


class ConversationStartSerializer(ContextFields):
    user = serializers.CharField(
        required=False, max_length=255, help_text="External id of the user; by default the logged-in user's own."
    )
    message = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    k = KField()


class ConversationMessageSerializer(serializers.Serializer):
    message = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="",
        help_text='e.g. "something lighter, less violent"; may be empty when drop is given.',
    )  # fmt: skip
    drop = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, default=list, max_length=20,
        help_text='Attributes whose constraints to remove first (a chip the user closed), e.g. ["price", "category"].',
    )  # fmt: skip
    k = KField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("message", "").strip() and not attrs.get("drop"):
            raise serializers.ValidationError("Give a message, or constraints to drop.")
        return attrs


class ConversationFeedbackSerializer(serializers.Serializer):
    liked = serializers.ListField(child=serializers.CharField(max_length=255), required=False, default=list,
                                  max_length=100, help_text="External ids of shown items the user liked.")  # fmt: skip
    disliked = serializers.ListField(child=serializers.CharField(max_length=255), required=False, default=list,
                                     max_length=100, help_text="External ids of shown items the user disliked.")  # fmt: skip
    k = KField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("liked") and not attrs.get("disliked"):
            raise serializers.ValidationError("Give at least one liked or disliked item.")
        return attrs


class ConversationTurnSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    kind = serializers.CharField()
    message = serializers.CharField(allow_blank=True)
    liked = serializers.ListField(child=serializers.CharField())
    disliked = serializers.ListField(child=serializers.CharField())
    reply = serializers.CharField()
    recommended = serializers.ListField(child=serializers.CharField())
    source = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class ConversationSessionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user = serializers.CharField(source="user.external_id")
    version_id = serializers.IntegerField(allow_null=True)
    category = serializers.CharField(allow_blank=True)
    max_price = serializers.FloatField(allow_null=True)
    intent = serializers.JSONField(help_text="What the conversation asks for so far (as in a list's intent).")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ConversationDetailSerializer(ConversationSessionSerializer):
    turns = ConversationTurnSerializer(many=True, source="turns.all")


class ConversationTurnResponseSerializer(serializers.Serializer):
    session = ConversationSessionSerializer()
    turn = ConversationTurnSerializer()
    reply = serializers.CharField()
    recommendations = RecommendationListSerializer()


# --- online measurement ----------------------------------------------------------------------


class ExperimentArmSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExperimentArm
        fields = ["name", "traffic", "is_control", "is_shadow", "strategy"]


class ExperimentSerializer(serializers.ModelSerializer):
    arms = ExperimentArmSerializer(many=True, read_only=True)
    running = serializers.SerializerMethodField()

    class Meta:
        model = Experiment
        fields = ["name", "description", "is_active", "starts_at", "ends_at", "running", "arms", "created_at"]

    def get_running(self, experiment: Experiment) -> bool:
        return experiment.is_running()


class OnlineReportQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=366, default=30, help_text="The last N days (30).")
