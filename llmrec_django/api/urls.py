"""The API's URLs; a site mounts them with ``path("api/llmrec/", include("llmrec_django.api.urls"))``,
which serves version 1 under ``api/llmrec/v1/`` (schema at ``v1/schema/``, Swagger UI at
``v1/docs/``, Redoc at ``v1/redoc/``)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from llmrec_django.api import views

app_name = "llmrec_api"

v1 = [
    path("", views.RootView.as_view(), name="root"),
    path("events/", views.EventView.as_view(), name="events"),
    path("events/bulk/", views.EventBulkView.as_view(), name="events-bulk"),
    path("search/", views.SearchView.as_view(), name="search"),
    path("items/", views.ItemListView.as_view(), name="items"),
    path("items/<str:external_id>/", views.ItemDetailView.as_view(), name="item"),
    path("items/<str:external_id>/similar/", views.SimilarItemsView.as_view(), name="similar"),
    path("relations/", views.RelationListView.as_view(), name="relations"),
    path("relations/<int:pk>/", views.RelationDetailView.as_view(), name="relation"),
    path("me/", views.MeView.as_view(), name="me"),
    path("users/<str:external_id>/", views.UserView.as_view(), name="user"),
    path("users/<str:external_id>/recommendations/", views.UserRecommendationsView.as_view(), name="recommendations"),
    path("users/<str:external_id>/export/", views.UserExportView.as_view(), name="export"),
    path("conversations/", views.ConversationListView.as_view(), name="conversations"),
    path("conversations/<int:pk>/", views.ConversationDetailView.as_view(), name="conversation"),
    path("conversations/<int:pk>/messages/", views.ConversationMessageView.as_view(), name="conversation-messages"),
    path("conversations/<int:pk>/feedback/", views.ConversationFeedbackView.as_view(), name="conversation-feedback"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="llmrec_api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="llmrec_api:schema"), name="redoc"),
]

urlpatterns = [path("v1/", include(v1))]
