"""Reports and exports: gold export, calibration, agreement."""

from __future__ import annotations

from django.http import QueryDict
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import access_project
from annotate.api.common import (
    JOB_ACCEPTED,
    JOB_LOCATION,
    NotComputedSerializer,
    authenticated_user,
    job_accepted,
    not_computed,
    responses,
)
from annotate.models import (
    Job,
    JobKind,
    JobStatus,
    Project,
    Role,
)
from annotate.queries import job_for
from annotate.services.agreement import agreement_request_parse
from annotate.services.exports import (
    calibration_breakdown_parse,
    export_options_parse,
)
from annotate.services.jobs import (
    agreement_job_create,
    calibration_job_create,
    calibration_params,
    export_job_create,
)


class ProjectExportApi(APIView):
    """Start a gold export: 202 with the job; when it has succeeded, download
    the data at /api/jobs/{id}/download/data/ and its manifest at .../manifest/."""

    @extend_schema(
        summary="Start a gold export (reviewers and managers)",
        request=OpenApiTypes.OBJECT,
        parameters=[JOB_LOCATION],
        responses=responses(JOB_ACCEPTED, invalid=True),
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = access_project(request.user, project_id, role=Role.REVIEWER).project
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError(
                {"non_field_errors": ["Send a JSON object."]}
            )
        job = export_job_create(
            project=project,
            options=export_options_parse(request.data),
            created_by=authenticated_user(request),
            now=timezone.now(),
        )
        return job_accepted(job)


def report_response(job: Job, project: Project) -> Response:
    """A computed report: the job's result, the job's id, and whether
    annotations have come or gone since it was computed."""
    report = dict(job.result)
    report["job"] = job.pk
    report["stale"] = (
        report["counts"]["project_annotations"] != project.annotations_total
    )
    return Response(report)


BREAKDOWN = OpenApiParameter(
    "breakdown", str, description="Metadata key (default category)."
)
REPORT_RESPONSES = responses(
    {200: OpenApiTypes.OBJECT, 404: NotComputedSerializer}, invalid=True
)


class ProjectCalibrationApi(APIView):
    """The calibration report of the gold, per source model and per value of
    the metadata key `breakdown` (default category). GET answers with the
    last computed report (404 with the link to start one if none); POST
    starts computing it (202 with the job to poll, then GET again)."""

    @extend_schema(
        summary="The last computed calibration report of the gold per source model",
        parameters=[BREAKDOWN],
        responses=REPORT_RESPONSES,
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = access_project(request.user, project_id, role=Role.REVIEWER).project
        breakdown = calibration_breakdown_parse(request.query_params)
        job = job_for(
            project=project,
            kind=JobKind.CALIBRATION,
            params=calibration_params(breakdown),
            status=JobStatus.SUCCEEDED,
        )
        if job is None:
            return not_computed(request)
        return report_response(job, project)

    @extend_schema(
        summary="Start computing the calibration report",
        request=None,
        parameters=[BREAKDOWN, JOB_LOCATION],
        responses=responses(JOB_ACCEPTED, invalid=True),
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = access_project(request.user, project_id, role=Role.REVIEWER).project
        job = calibration_job_create(
            project=project,
            breakdown=calibration_breakdown_parse(request.query_params),
            created_by=authenticated_user(request),
            now=timezone.now(),
        )
        return job_accepted(job)


AGREEMENT_FILTERS = [
    OpenApiParameter("field", str, description="Only this field's figures."),
    *(
        OpenApiParameter(name, str)
        for name in ("source_model", "dataset", "category", "annotators")
    ),
    OpenApiParameter("since", OpenApiTypes.DATE),
    OpenApiParameter("until", OpenApiTypes.DATE),
    OpenApiParameter("resamples", int, description="0..10,000 (default 1000)."),
    OpenApiParameter("seed", int),
]


def agreement_field_parse(project: Project, query: QueryDict) -> str:
    """The one field whose figures a GET answers with ("" for all). POST
    checks it too: it comes in the link a GET's 404 gives to start them."""
    field = query.get("field", "")
    if field and field not in {f.name for f in project.label_set_version.schema.fields}:
        raise exceptions.ValidationError({"field": ["No such field in the label set."]})
    return str(field)


class ProjectAgreementApi(APIView):
    """Agreement figures for a project and filters. GET answers with the last
    computed figures for these filters (404 with the link to start them if
    none); POST starts computing them (202 with the job to poll, then GET again)."""

    @extend_schema(
        summary="The last computed agreement figures (Krippendorff's alpha and more) per field",
        parameters=AGREEMENT_FILTERS,
        responses=REPORT_RESPONSES,
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = access_project(request.user, project_id, role=Role.REVIEWER).project
        query = request.query_params
        field = agreement_field_parse(project, query)
        params = agreement_request_parse(project=project, data=query).params
        job = job_for(
            project=project,
            kind=JobKind.AGREEMENT,
            params=params,
            status=JobStatus.SUCCEEDED,
        )
        if job is None:
            return not_computed(request)
        response = report_response(job, project)
        if field:
            response.data["fields"] = [
                f for f in response.data["fields"] if f["name"] == field
            ]
        return response

    @extend_schema(
        summary="Start computing the agreement figures for these filters",
        request=None,
        parameters=[*AGREEMENT_FILTERS, JOB_LOCATION],
        responses=responses(JOB_ACCEPTED, invalid=True),
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = access_project(request.user, project_id, role=Role.REVIEWER).project
        agreement_field_parse(project, request.query_params)
        params = agreement_request_parse(project=project, data=request.query_params)
        job = agreement_job_create(
            project=project,
            params=params.params,
            created_by=authenticated_user(request),
            now=timezone.now(),
        )
        return job_accepted(job)
