"""The API's views of users (their profile, interest profile, export and erasure) and of
conversations: thin, as every view (see ``llmrec_django.api.views``)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from llmrec_django.api import serializers as s
from llmrec_django.api.permissions import (
    CHANGE_USERS,
    ERASE_USERS,
    EXPORT_USERS,
    READ_USERS,
    check_profile_access,
    own_profile,
)
from llmrec_django.api.views import TENANT_PARAMETER, LLMRecView
from llmrec_django.catalogue import interest_profile
from llmrec_django.copywriting import replies
from llmrec_django.models import ApiKey, ConversationSession, UserProfile
from llmrec_django.recommend import batch, conversations, privacy

# --- users: profile, export, erasure ---------------------------------------------------------


class MeView(LLMRecView):
    serializer_class = s.UserProfileSerializer

    @extend_schema(summary="The logged-in user's own profile", parameters=[TENANT_PARAMETER])
    def get(self, request):
        profile = own_profile(request, self.tenant)
        if profile is None:
            raise NotFound("Your account has no recommendation profile in this tenant yet.")
        return Response(s.UserProfileSerializer(profile).data)


class _InterestProfileView(LLMRecView):
    """Read and change an interest profile (``llmrec_django.catalogue.interest_profile``)."""

    serializer_class = s.InterestProfileSerializer

    def shown(self, profile: UserProfile) -> Response:
        return Response(s.InterestProfileSerializer(interest_profile.describe(profile)).data)

    def change(self, profile: UserProfile) -> Response:
        data = self.body(s.InterestProfileUpdateSerializer)
        try:
            profile = interest_profile.update(
                profile,
                text=data.get("profile_text"),
                reset=data.get("reset", False),
                personalisation_enabled=data.get("personalisation_enabled"),
            )
        except ValueError as exc:
            raise ValidationError({"profile_text": [str(exc)]}) from None
        return self.shown(profile)


INTEREST_PROFILE_DESCRIPTION = (
    "profile_text is the interest profile in plain words: written by the system from the user's "
    "behaviour (profile_text_source generated, rewritten as behaviour changes), by the user (kept), or by "
    "the site. It feeds the user's interest vector. generated_text is what the system would write now. "
    "With personalisation_enabled false the user gets popular lists and has no interest vector."
)
INTEREST_PROFILE_CHANGE = (
    "Send profile_text (the user's own words, kept from now on), or reset: true (back to the generated "
    "text), and/or personalisation_enabled. The interest vector is refreshed afterwards."
)


class MeProfileView(_InterestProfileView):
    def own(self, *, create: bool) -> UserProfile:
        profile = own_profile(self.request, self.tenant, create=create)
        if profile is None:
            if isinstance(self.request.auth, ApiKey):
                raise NotFound("An API key has no profile of its own; use users/{id}/profile/.")
            raise NotFound("Your account has no recommendation profile in this tenant yet.")
        return profile

    @extend_schema(
        summary="The logged-in user's interest profile",
        description=INTEREST_PROFILE_DESCRIPTION,
        parameters=[TENANT_PARAMETER],
    )
    def get(self, request):
        return self.shown(self.own(create=False))

    @extend_schema(
        summary="Edit or reset the logged-in user's interest profile, or switch personalisation",
        description=INTEREST_PROFILE_CHANGE,
        request=s.InterestProfileUpdateSerializer,
        parameters=[TENANT_PARAMETER],
    )
    def patch(self, request):
        return self.change(self.own(create=True))


class UserInterestProfileView(_InterestProfileView):
    @extend_schema(
        summary="A user's interest profile", description=INTEREST_PROFILE_DESCRIPTION, parameters=[TENANT_PARAMETER]
    )
    def get(self, request, external_id: str):
        return self.shown(self.profile(external_id))

    @extend_schema(
        summary="Edit or reset a user's interest profile, or switch personalisation",
        description=INTEREST_PROFILE_CHANGE,
        request=s.InterestProfileUpdateSerializer,
        parameters=[TENANT_PARAMETER],
    )
    def patch(self, request, external_id: str):
        return self.change(self.profile(external_id, CHANGE_USERS))


class UserView(LLMRecView):
    serializer_class = s.UserProfileSerializer

    @extend_schema(summary="A user's profile", parameters=[TENANT_PARAMETER])
    def get(self, request, external_id: str):
        return Response(s.UserProfileSerializer(self.profile(external_id)).data)

    @extend_schema(
        summary="Erase everything stored about a user",
        description="Deletes the profile, its events, interest vectors, conversations and the knowledge-graph "
        "relations naming the user, and drops the user from the collaborative model. 204 when erased; "
        "a profile that does not exist (e.g. erased before) is a 404.",
        parameters=[TENANT_PARAMETER],
        responses={204: None},
    )
    def delete(self, request, external_id: str):
        privacy.erase_user(self.profile(external_id, ERASE_USERS))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserExportView(LLMRecView):
    @extend_schema(
        summary="Export everything stored about a user (JSON)",
        parameters=[TENANT_PARAMETER],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, "profile, events, relations, conversations")},
    )
    def get(self, request, external_id: str):
        profile = self.profile(external_id, EXPORT_USERS)
        response = Response(privacy.export_user(profile))
        response["Content-Disposition"] = f'attachment; filename="llmrec-user-{profile.pk}.json"'
        return response


class UserBatchListView(LLMRecView):
    serves_lists = True

    @extend_schema(
        summary="A user's latest batch list",
        description="The list the latest batch run (llmrec_batch) computed for the user; list_id is its "
        "recommendation id (tracked links carry it, so clicks are attributed). 404 when no run has a list "
        "for the user.",
        parameters=[TENANT_PARAMETER],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, "run, created_at, list_id, source, k, items")},
    )
    def get(self, request, external_id: str):
        profile = self.profile(external_id)
        found = batch.latest_list(profile)
        if found is None:
            raise NotFound(f"No batch list for user {external_id!r} yet.")
        return Response(
            {
                "run": found.run_id,
                "created_at": found.created_at,
                "list_id": str(found.served_list_id) if found.served_list_id else None,
                "source": found.source,
                "k": found.run.k,
                "items": [
                    {"position": position, "external_id": item["item"], "score": item["score"],
                     "explanation": item["explanation"]}
                    for position, item in enumerate(found.items, start=1)
                ],
            }
        )  # fmt: skip


# --- conversations ---------------------------------------------------------------------------


def _turn_response(turn: conversations.TurnResult, status_code: int = 200) -> Response:
    turn = replies.add_model_sentence(turn)
    body = {
        "session": s.ConversationSessionSerializer(turn.session).data,
        "turn": s.ConversationTurnSerializer(turn.turn).data,
        "reply": turn.reply,
        "recommendations": s.recommendation_list_data(turn.recommendations),
    }
    return Response(body, status=status_code)


class ConversationListView(LLMRecView):
    serves_lists = True

    @extend_schema(
        summary="Start a conversation (optionally with a first message)",
        request=s.ConversationStartSerializer,
        parameters=[TENANT_PARAMETER],
        responses={201: s.ConversationTurnResponseSerializer},
    )
    def post(self, request):
        data = self.body(s.ConversationStartSerializer)
        profile = self.named_or_own_profile(data.get("user"), create=True, grant=CHANGE_USERS)
        turn = conversations.start_session(
            profile, message=data.get("message", ""), k=data.get("k"), context=s.ContextFields.context_of(data)
        )
        return _turn_response(turn, status.HTTP_201_CREATED)


class _ConversationView(LLMRecView):
    serves_lists = True

    def session(self, pk: int) -> ConversationSession:
        """The conversation if the caller may see it; another user's answers exactly like one that
        does not exist (never naming its owner: ids are sequential)."""
        missing = NotFound(f"No conversation {pk} among those you may access.")
        session = (
            ConversationSession.objects.select_related("user", "tenant", "version")
            .filter(tenant=self.tenant, pk=pk)
            .first()
        )
        if session is None:
            raise missing
        try:
            check_profile_access(
                self.request, session.user, READ_USERS if self.request.method == "GET" else CHANGE_USERS
            )
        except NotFound:
            raise missing from None
        return session


class ConversationDetailView(_ConversationView):
    @extend_schema(
        summary="A conversation with its turns",
        parameters=[TENANT_PARAMETER],
        responses={200: s.ConversationDetailSerializer},
    )
    def get(self, request, pk: int):
        return Response(s.ConversationDetailSerializer(self.session(pk)).data)


class ConversationMessageView(_ConversationView):
    @extend_schema(
        summary="Send a message; the answer refines the session's query",
        request=s.ConversationMessageSerializer,
        parameters=[TENANT_PARAMETER],
        responses={200: s.ConversationTurnResponseSerializer},
    )
    def post(self, request, pk: int):
        data = self.body(s.ConversationMessageSerializer)
        turn = conversations.send_message(self.session(pk), data["message"], k=data.get("k"), drop=data["drop"])
        return _turn_response(turn)


class ConversationFeedbackView(_ConversationView):
    @extend_schema(
        summary="Like or dislike shown items; the answer moves toward the liked ones",
        request=s.ConversationFeedbackSerializer,
        parameters=[TENANT_PARAMETER],
        responses={200: s.ConversationTurnResponseSerializer},
    )
    def post(self, request, pk: int):
        data = self.body(s.ConversationFeedbackSerializer)
        turn = conversations.give_feedback(
            self.session(pk), liked=data["liked"], disliked=data["disliked"], k=data.get("k")
        )
        return _turn_response(turn)
