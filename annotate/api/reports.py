"""Reports and exports: gold export, calibration, agreement."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import access_project
from annotate.api.common import (
    JobOutputSerializer,
    JobStartedSerializer,
    authenticated_user,
    responses,
)
from annotate.models import (
    JobKind,
    JobStatus,
    Role,
)
from annotate.queries import (
    agreement_job_for,
    job_for,
    job_live,
)
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
        responses=responses({202: JobStartedSerializer}, invalid=True),
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
        job.refresh_from_db()  # eager mode has already run it
        return Response(
            {"job": JobOutputSerializer(job_live(job)).data},
            status=status.HTTP_202_ACCEPTED,
        )


class ProjectCalibrationApi(APIView):
    """The calibration report of the gold, per source model and per value of
    the metadata key `breakdown` (default category): 200 with it once computed
    (`refresh=true` recomputes), else 202 with the job to poll."""

    @extend_schema(
        summary="The calibration report of the gold per source model",
        parameters=[
            OpenApiParameter(
                "breakdown", str, description="Metadata key (default category)."
            ),
            OpenApiParameter(
                "refresh", bool, description="Recompute even if computed."
            ),
        ],
        responses=responses(
            {200: OpenApiTypes.OBJECT, 202: JobStartedSerializer}, invalid=True
        ),
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = access_project(request.user, project_id, role=Role.REVIEWER).project
        refresh = request.query_params.get("refresh", "").lower() in {"1", "true"}
        breakdown = calibration_breakdown_parse(request.query_params)
        job = (
            None
            if refresh
            else job_for(
                project=project,
                kind=JobKind.CALIBRATION,
                params=calibration_params(breakdown),
            )
        )
        if job is None or job.status == JobStatus.FAILED:
            job = calibration_job_create(
                project=project,
                breakdown=breakdown,
                created_by=authenticated_user(request),
                now=timezone.now(),
            )
            job.refresh_from_db()  # eager mode has already run it
        if job.status == JobStatus.FAILED:
            return Response(
                {"detail": " ".join(map(str, job.errors)), "errors": {}}, status=400
            )
        if job.status != JobStatus.SUCCEEDED:
            return Response(
                {"job": JobOutputSerializer(job_live(job)).data},
                status=status.HTTP_202_ACCEPTED,
            )
        report = dict(job.result)
        report["job"] = job.pk
        report["stale"] = (
            report["counts"]["project_annotations"] != project.annotations_total
        )
        return Response(report)


class ProjectAgreementApi(APIView):
    """Agreement figures for a project: 200 with them when computed for these
    filters, else 202 with the job computing them (poll it, then GET again)."""

    @extend_schema(
        summary="Agreement figures (Krippendorff's alpha and more) per field",
        parameters=[
            OpenApiParameter("field", str, description="Only this field's figures."),
            *(
                OpenApiParameter(name, str)
                for name in ("source_model", "dataset", "category", "annotators")
            ),
            OpenApiParameter("since", OpenApiTypes.DATE),
            OpenApiParameter("until", OpenApiTypes.DATE),
            OpenApiParameter("resamples", int, description="0..10,000 (default 1000)."),
            OpenApiParameter("seed", int),
            OpenApiParameter(
                "refresh", bool, description="Recompute even if computed."
            ),
        ],
        responses=responses(
            {200: OpenApiTypes.OBJECT, 202: JobStartedSerializer}, invalid=True
        ),
    )
    def get(self, request: Request, project_id: int) -> Response:
        membership = access_project(request.user, project_id, role=Role.REVIEWER)
        project = membership.project
        query = request.query_params
        field = query.get("field", "")
        if field and field not in {
            f.name for f in project.label_set_version.schema.fields
        }:
            raise exceptions.ValidationError(
                {"field": ["No such field in the label set."]}
            )
        params = agreement_request_parse(project=project, data=query).params
        refresh = query.get("refresh", "").lower() in {"1", "true"}
        job = None if refresh else agreement_job_for(project=project, params=params)
        if job is None or job.status == JobStatus.FAILED:
            job = agreement_job_create(
                project=project,
                params=params,
                created_by=authenticated_user(request),
                now=timezone.now(),
            )
            job.refresh_from_db()  # eager mode has already run it
        if job.status != JobStatus.SUCCEEDED:
            return Response(
                {"job": JobOutputSerializer(job_live(job)).data},
                status=status.HTTP_202_ACCEPTED,
            )
        report = dict(job.result)
        if field:
            report["fields"] = [f for f in report["fields"] if f["name"] == field]
        report["job"] = job.pk
        report["stale"] = (
            report["counts"]["project_annotations"] != project.annotations_total
        )
        return Response(report)
