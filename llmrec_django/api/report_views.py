"""The API's views of online measurement: experiments and their reports, the online report."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from llmrec_django.api import serializers as s
from llmrec_django.api.permissions import (
    READ_REPORTS,
    HasGrant,
)
from llmrec_django.api.views import TENANT_PARAMETER, LLMRecView
from llmrec_django.learning.online_report import online_report
from llmrec_django.models import Experiment

# --- online measurement ----------------------------------------------------------------------


class ExperimentListView(LLMRecView):
    permission_classes = [HasGrant]
    grant = READ_REPORTS

    @extend_schema(
        summary="The tenant's experiments and their arms (staff and API keys)",
        parameters=[TENANT_PARAMETER],
        responses={200: s.ExperimentSerializer(many=True)},
    )
    def get(self, request):
        found = Experiment.objects.filter(tenant=self.tenant).prefetch_related("arms")
        return Response(s.ExperimentSerializer(found, many=True).data)


class ExperimentReportView(LLMRecView):
    permission_classes = [HasGrant]
    grant = READ_REPORTS

    @extend_schema(
        summary="Online metrics of an experiment per arm and day, with intervals and tests (staff and API keys)",
        parameters=[TENANT_PARAMETER],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, "see llmrec_django.learning.online_report")},
    )
    def get(self, request, name: str):
        experiment = Experiment.objects.filter(tenant=self.tenant, name=name).first()
        if experiment is None:
            raise NotFound(f"No experiment {name!r} in tenant {self.tenant.slug!r}.")
        return Response(online_report(experiment))


class OnlineReportView(LLMRecView):
    permission_classes = [HasGrant]
    grant = READ_REPORTS

    @extend_schema(
        summary="Online metrics of every served list of the last days, per surface (staff and API keys)",
        parameters=[s.OnlineReportQuerySerializer, TENANT_PARAMETER],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, "see llmrec_django.learning.online_report")},
    )
    def get(self, request):
        params = self.query(s.OnlineReportQuerySerializer)
        return Response(online_report(tenant=self.tenant, days=params["days"]))
