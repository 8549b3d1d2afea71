from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/llmrec/", include("llmrec_django.api.urls")),
    path("accounts/", include("django.contrib.auth.urls")),  # login, logout (POST), password change
    path("", include("example_site.shop.urls")),
]
