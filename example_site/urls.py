from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/llmrec/", include("llmrec_django.api.urls")),
    path("accounts/", include("django.contrib.auth.urls")),  # login, logout (POST), password change
    # Browsers ask every page's host for /favicon.ico (the admin's pages name no icon).
    path("favicon.ico", RedirectView.as_view(url=static("shop/favicon.svg"), permanent=True)),
    path("", include("example_site.shop.urls")),
]
