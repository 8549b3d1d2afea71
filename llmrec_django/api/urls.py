"""The API's URLs; a site mounts them with ``path("api/llmrec/", include("llmrec_django.api.urls"))``,
which serves version 1 under ``api/llmrec/v1/`` (schema at ``v1/schema/``, Swagger UI at
``v1/docs/``, Redoc at ``v1/redoc/``)."""

from django.urls import include, path, register_converter

from llmrec_django.api import digest_views, report_views, user_views, views
from llmrec_django.api.schema import RedocView, SchemaView, SwaggerView

app_name = "llmrec_api"


class ExternalIdConverter:
    """An external id in a path: any text but a NUL (PostgreSQL text cannot hold one, so such a
    path is simply not found), slashes included, so that ids such as ``shoes/trail-42`` can be
    read, exported and erased. The routes that end in a fixed word (``.../export/``,
    ``.../similar/``) are tried before the plain ``users/<id>/`` and ``items/<id>/``, so
    ``users/a/b/export/`` is the export of ``a/b``."""

    regex = "[^\x00]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class RowIdConverter:
    """A primary key: at most 18 digits, so it always fits a bigint (larger ones are not found)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(ExternalIdConverter, "llmrec_external_id")
register_converter(RowIdConverter, "llmrec_row_id")

v1 = [
    path("", views.RootView.as_view(), name="root"),
    path("health/", views.HealthView.as_view(), name="health"),
    path("events/", views.EventView.as_view(), name="events"),
    path("events/bulk/", views.EventBulkView.as_view(), name="events-bulk"),
    path("search/", views.SearchView.as_view(), name="search"),
    path("items/", views.ItemListView.as_view(), name="items"),
    path("items/<llmrec_external_id:external_id>/similar/", views.SimilarItemsView.as_view(), name="similar"),
    path("items/<llmrec_external_id:external_id>/", views.ItemDetailView.as_view(), name="item"),
    path("relations/", views.RelationListView.as_view(), name="relations"),
    path("relations/<llmrec_row_id:pk>/", views.RelationDetailView.as_view(), name="relation"),
    path("me/", user_views.MeView.as_view(), name="me"),
    path("me/profile/", user_views.MeProfileView.as_view(), name="me-profile"),
    path(
        "users/<llmrec_external_id:external_id>/profile/",
        user_views.UserInterestProfileView.as_view(),
        name="user-profile",
    ),
    path(
        "users/<llmrec_external_id:external_id>/recommendations/",
        views.UserRecommendationsView.as_view(),
        name="recommendations",
    ),
    path("users/<llmrec_external_id:external_id>/export/", user_views.UserExportView.as_view(), name="export"),
    path("users/<llmrec_external_id:external_id>/batch/", user_views.UserBatchListView.as_view(), name="user-batch"),
    path("users/<llmrec_external_id:external_id>/", user_views.UserView.as_view(), name="user"),
    path("conversations/", user_views.ConversationListView.as_view(), name="conversations"),
    path("conversations/<llmrec_row_id:pk>/", user_views.ConversationDetailView.as_view(), name="conversation"),
    path(
        "conversations/<llmrec_row_id:pk>/messages/",
        user_views.ConversationMessageView.as_view(),
        name="conversation-messages",
    ),
    path(
        "conversations/<llmrec_row_id:pk>/feedback/",
        user_views.ConversationFeedbackView.as_view(),
        name="conversation-feedback",
    ),
    path("experiments/", report_views.ExperimentListView.as_view(), name="experiments"),
    path("experiments/<slug:name>/report/", report_views.ExperimentReportView.as_view(), name="experiment-report"),
    path("reports/online/", report_views.OnlineReportView.as_view(), name="online-report"),
]
# The schema documents the routes above and nothing else of the site.
v1 += [
    path("schema/", SchemaView.as_view(api_urlpatterns=tuple(v1)), name="schema"),
    path("docs/", SwaggerView.as_view(url_name="llmrec_api:schema"), name="docs"),
    path("redoc/", RedocView.as_view(url_name="llmrec_api:schema"), name="redoc"),
]

urlpatterns = [
    path("v1/", include(v1)),
    # The e-mail digest's links: plain Django views for browsers and mail clients, not API
    # endpoints (nor in the schema).
    path("v1/digest/click/<str:token>/", digest_views.digest_click, name="digest-click"),
    path("v1/digest/unsubscribe/<str:token>/", digest_views.digest_unsubscribe, name="digest-unsubscribe"),
]
