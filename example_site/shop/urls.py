from django.urls import path

from example_site.shop import views

app_name = "shop"

urlpatterns = [
    path("", views.catalogue, name="catalogue"),
    path("items/<path:external_id>/", views.item_detail, name="item"),
    path("for-you/", views.for_you, name="for_you"),
    path("search/", views.search_page, name="search"),
    path("chat/", views.chat, name="chat"),
    path("interests/", views.interests, name="interests"),
    path("accounts/signup/", views.signup, name="signup"),
]
