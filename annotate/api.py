"""REST API for the researcher/pipeline audience: the same services as the HTML views.

Every error answers with one body: {"detail": "...", "errors": {field: [messages]}}.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.defaults import page_not_found
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from annotate import importers
from annotate.access import access_assignment, access_job, access_project
from annotate.http import export_download
from annotate.models import (
    Annotation,
    Job,
    JobKind,
    JobStatus,
    Membership,
    Role,
    SkipKind,
    Transcript,
)
from annotate.queries import (
    agreement_job_for,
    job_for,
    job_live,
    label_sets_visible_to,
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
    import_job_create,
)
from annotate.services.queue import annotation_submit, assignment_skip, item_claim_next
from labelsets.models import LabelSetVersion
from labelsets.services import labelset_dump


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Turn every expected error into {"detail", "errors"}; services' ValidationErrors become 400."""
    if isinstance(exc, DjangoValidationError):
        errors = (
            exc.message_dict
            if hasattr(exc, "error_dict")
            else {"non_field_errors": exc.messages}
        )
        return Response({"detail": "Invalid input.", "errors": errors}, status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        data = response.data
        errors = data if isinstance(data, dict) else {"non_field_errors": data}
        response.data = {"detail": "Invalid input.", "errors": errors}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": response.data["detail"], "errors": {}}
    return response


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The URL conf's handler404. Under /api/, the API's error body: a URL
    that matches no route (a mistyped path, a non-numeric id) never reaches
    DRF's exception_handler, and a pipeline must not get an HTML page.
    Elsewhere, Django's page."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "errors": {}}, status=404)
    return page_not_found(request, exception)


def authenticated_user(request: Request) -> User:
    """The request's user; the default IsAuthenticated permission has let only users in."""
    if not isinstance(request.user, User):
        raise exceptions.NotAuthenticated()
    return request.user


class ProjectOutputSerializer(serializers.Serializer[Membership]):
    id = serializers.IntegerField(source="project.id")
    name = serializers.CharField(source="project.name")
    role = serializers.CharField()
    label_set = serializers.CharField(source="project.label_set_version.label_set.name")
    label_set_version = serializers.IntegerField(
        source="project.label_set_version.number"
    )
    overlap = serializers.IntegerField(source="project.overlap")
    items_total = serializers.IntegerField(source="project.items_total")
    items_complete = serializers.IntegerField(source="project.items_complete")
    annotations_total = serializers.IntegerField(source="project.annotations_total")
    # Set while the project is archived (read-only; still exported).
    archived_at = serializers.DateTimeField(source="project.archived_at")


class ProjectListApi(APIView):
    def get(self, request: Request) -> Response:
        memberships = (
            Membership.objects.active()
            .filter(user=authenticated_user(request))
            .select_related("project__label_set_version__label_set")
            .order_by("project__name")
        )
        return Response(
            {"results": [ProjectOutputSerializer(m).data for m in memberships]}
        )


class ProjectDetailApi(APIView):
    def get(self, request: Request, project_id: int) -> Response:
        membership = access_project(request.user, project_id)
        return Response(ProjectOutputSerializer(membership).data)


class JobOutputSerializer(serializers.ModelSerializer[Job]):
    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "project",
            "status",
            "stage",
            "progress_done",
            "progress_total",
            "result",
            "errors",
            "created_at",
            "started_at",
            "finished_at",
        ]


class ProjectImportApi(APIView):
    """Upload a transcript file; the import runs as a job (202, then poll the job)."""

    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer[Any]):
        file = serializers.FileField()
        format = serializers.ChoiceField(choices=importers.FORMATS, required=False)

    def post(self, request: Request, project_id: int) -> Response:
        project = access_project(request.user, project_id, role=Role.MANAGER).project
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        job = import_job_create(
            project=project,
            upload=upload,
            filename=upload.name,
            fmt=data.validated_data.get("format"),
            created_by=authenticated_user(request),
            now=timezone.now(),
        )
        job.refresh_from_db()  # eager mode has already run it
        return Response(
            JobOutputSerializer(job).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": f"/api/jobs/{job.pk}/"},
        )


class JobDetailApi(APIView):
    def get(self, request: Request, job_id: int) -> Response:
        return Response(
            JobOutputSerializer(job_live(access_job(request.user, job_id))).data
        )


def _transcript_data(transcript: Transcript) -> dict[str, object]:
    # A plain dict: a ModelSerializer costs a millisecond on the claim path.
    return {
        "id": transcript.pk,
        "messages": transcript.messages,
        "source_model": transcript.source_model,
        "dataset": transcript.dataset,
        "external_id": transcript.external_id,
        "prompt_group": transcript.prompt_group,
        "metadata": transcript.annotator_metadata,
    }


class ProjectClaimApi(APIView):
    """Claim the next item (or get the live claim back); 204 when the queue is empty."""

    def post(self, request: Request, project_id: int) -> Response:
        membership = access_project(request.user, project_id)
        # 400 with the reason, not the empty queue's 204: a pipeline should stop.
        membership.project.refuse_if_archived("nothing can be claimed")
        assignment = item_claim_next(membership=membership, now=timezone.now())
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        version = membership.project.label_set_version
        return Response(
            {
                "id": assignment.pk,
                "expires_at": assignment.expires_at,
                "transcript": _transcript_data(assignment.item.transcript),
                # Annotator care: show the warning, and the text on request.
                "content_warning": (
                    assignment.item.content_warning
                    if assignment.item.distressing
                    else None
                ),
                # The schema itself once per client, not with every claim.
                "label_set": {
                    "name": version.label_set.name,
                    "version": version.number,
                    "url": f"/api/label-sets/{version.label_set.name}/{version.number}/",
                },
            }
        )


def _annotation_data(annotation: Annotation) -> dict[str, object]:
    # A plain dict, as for the transcript: the submit's answer.
    return {
        "id": annotation.pk,
        "item": annotation.item_id,
        "values": annotation.values,
        "seconds_spent": annotation.seconds_spent,
        "client_uuid": annotation.client_uuid,
        "created_at": annotation.created_at,
        "updated_at": annotation.updated_at,
    }


class AssignmentAnnotationApi(APIView):
    """Submit labels for a claim: 201 when stored, 200 when the client_uuid was seen."""

    class InputSerializer(serializers.Serializer[Any]):
        values = serializers.DictField()
        client_uuid = serializers.UUIDField()
        seconds = serializers.FloatField(min_value=0, required=False, default=0.0)

    def post(self, request: Request, assignment_id: int) -> Response:
        assignment, _ = access_assignment(request.user, assignment_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        annotation, created = annotation_submit(
            assignment=assignment,
            values=data.validated_data["values"],
            client_uuid=data.validated_data["client_uuid"],
            seconds=data.validated_data["seconds"],
            now=timezone.now(),
        )
        return Response(
            _annotation_data(annotation),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class AssignmentSkipApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        reason = serializers.CharField(
            required=False, allow_blank=True, max_length=500, default=""
        )
        kind = serializers.ChoiceField(
            choices=SkipKind.choices, required=False, default=SkipKind.OTHER
        )

    def post(self, request: Request, assignment_id: int) -> Response:
        assignment, _ = access_assignment(request.user, assignment_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        skipped = assignment_skip(
            assignment=assignment,
            reason=data.validated_data["reason"],
            kind=SkipKind(data.validated_data["kind"]),
            now=timezone.now(),
        )
        return Response(
            {"id": skipped.pk, "status": skipped.status, "kind": skipped.skip_kind}
        )


class ProjectExportApi(APIView):
    """Start a gold export: 202 with the job; when it has succeeded, download
    the data at /api/jobs/{id}/download/data/ and its manifest at .../manifest/."""

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


class JobDownloadApi(APIView):
    def get(self, request: Request, job_id: int, part: str) -> FileResponse:
        return export_download(access_job(request.user, job_id), part)


class ProjectCalibrationApi(APIView):
    """The calibration report of the gold, per source model and per value of
    the metadata key `breakdown` (default category): 200 with it once computed
    (`refresh=true` recomputes), else 202 with the job to poll."""

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


class LabelSetVersionApi(APIView):
    """A label set version's schema (fields, options, hotkeys, rules); 404
    unless the user may see the label set."""

    def get(self, request: Request, name: str, number: int) -> Response:
        # Only a label set the user may see (queries.label_sets_visible_to).
        visible = label_sets_visible_to(authenticated_user(request))
        version = (
            LabelSetVersion.objects.filter(
                label_set__in=visible, label_set__name=name, number=number
            )
            .select_related("label_set")
            .first()
        )
        if version is None:
            raise exceptions.NotFound()
        return Response(labelset_dump(version=version))
