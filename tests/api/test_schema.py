"""The API's OpenAPI schema documents the API's own routes, at the paths the site mounts them on,
and nothing else of the site: a host site's own REST endpoints stay out of it."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from llmrec_django.api import urls as api_urls


class HostOrdersView(APIView):
    """An endpoint of the host site's own (its orders), which anonymous callers must not learn of."""

    def get(self, request):
        return Response([])


urlpatterns = [
    path("shop-api/orders/", HostOrdersView.as_view()),
    path("recommendations/api/v1/orders/", HostOrdersView.as_view()),  # even beside the app's routes
    path("recommendations/api/", include("llmrec_django.api.urls")),
]


def _documented_routes() -> int:
    [v1] = [p for p in api_urls.urlpatterns if isinstance(p, URLResolver)]
    return len([p for p in v1.url_patterns if isinstance(p, URLPattern)]) - 3  # not the schema and docs pages


@pytest.mark.urls("tests.api.test_schema")
def test_the_schema_holds_the_apis_routes_at_the_sites_mount_and_no_host_endpoint(client):
    response = client.get("/recommendations/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = set(response.json()["paths"])
    assert "/shop-api/orders/" not in paths and "/recommendations/api/v1/orders/" not in paths
    assert all(p.startswith("/recommendations/api/v1/") for p in paths), paths
    assert len(paths) == _documented_routes()
    assert "/recommendations/api/v1/users/{external_id}/recommendations/" in paths
