"""Projects: list, create, change, archive, import."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import BaseParser, FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate import importers
from annotate.access import access_project, access_workspace
from annotate.api.common import (
    JOB_ACCEPTED,
    JOB_LOCATION,
    ErrorSerializer,
    authenticated_user,
    job_accepted,
    paged,
    paged_response,
    responses,
)
from annotate.forms import ProjectForm
from annotate.models import (
    GoldMethod,
    Membership,
    Project,
    QueueStrategy,
    Role,
)
from annotate.queries import label_sets_visible_to
from annotate.services.jobs import (
    import_job_create,
)
from annotate.services.projects import (
    label_set_version_get,
    project_archive,
    project_create,
    project_unarchive,
    project_update,
)
from labelsets.models import LabelSetVersion


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
    archived_at = serializers.DateTimeField(
        source="project.archived_at", allow_null=True
    )


class ProjectSettingsSerializer(serializers.Serializer[Any]):
    """A project's settings as the project form takes them (annotate.forms
    .ProjectForm holds their shapes, the services their rules); the label
    set by name and version number instead of the form's choice."""

    name = serializers.CharField(max_length=200)
    label_set = serializers.CharField(help_text="The label set's name.")
    label_set_version = serializers.IntegerField(
        required=False, help_text="Its version number; default the newest."
    )
    overlap = serializers.IntegerField(required=False, min_value=1, max_value=50)
    lease_minutes = serializers.IntegerField(required=False)
    extra_labels_max = serializers.IntegerField(required=False)
    disagreement_threshold = serializers.FloatField(required=False)
    gold_method = serializers.ChoiceField(choices=GoldMethod.choices, required=False)
    guidelines = serializers.CharField(required=False, allow_blank=True)
    queue_strategy = serializers.ChoiceField(
        choices=QueueStrategy.choices, required=False
    )
    target_fields = serializers.CharField(
        required=False, allow_blank=True, help_text="One-of fields, comma-separated."
    )
    uncertainty = serializers.ChoiceField(choices=["margin", "entropy"], required=False)
    weight_uncertainty = serializers.FloatField(required=False)
    weight_relabel = serializers.FloatField(required=False)
    weight_coverage = serializers.FloatField(required=False)
    coverage_floor = serializers.FloatField(required=False)
    started_bonus = serializers.FloatField(required=False)
    exploration = serializers.FloatField(required=False)
    retrain_every = serializers.IntegerField(required=False)
    retrain_rest_seconds = serializers.IntegerField(required=False)
    min_labels = serializers.IntegerField(required=False)
    seed = serializers.IntegerField(required=False)
    blind = serializers.BooleanField(required=False)
    prelabels = serializers.BooleanField(required=False)
    flagged_cap = serializers.IntegerField(required=False, allow_null=True)
    flagged_window_hours = serializers.FloatField(required=False)


def _project_form(
    request: Request, initial: dict[str, Any], project: Project | None
) -> ProjectForm:
    """The project form, bound to `initial` overlaid with the request's
    settings, so the API checks exactly what the page checks. Raises
    ValidationError (400) naming each bad setting."""
    user = authenticated_user(request)
    body = request.data if isinstance(request.data, dict) else {}
    versions: QuerySet[LabelSetVersion] = LabelSetVersion.objects.filter(
        label_set__in=label_sets_visible_to(user)
    ).select_related("label_set")
    data = {**initial}
    data.update(
        {
            k: v
            for k, v in body.items()
            if k in ProjectForm.base_fields and k != "label_set_version"
        }
    )
    if "label_set" in body or "label_set_version" in body:
        number_field = serializers.IntegerField(min_value=1, allow_null=True)
        try:
            number = number_field.run_validation(body.get("label_set_version"))
        except serializers.ValidationError as e:
            raise ValidationError({"label_set_version": e.detail}) from e
        name = body.get("label_set") or (
            project.label_set_version.label_set.name if project else ""
        )
        if not isinstance(name, str) or not name:
            raise ValidationError({"label_set": "Name the label set."})
        data["label_set_version"] = label_set_version_get(name=name, number=number).pk
    form = ProjectForm(data, versions=versions)
    if not form.is_valid():
        raise ValidationError(form.errors.as_data())
    return form


class ProjectListApi(APIView):
    @extend_schema(
        summary="The projects the caller is a member of, with their role",
        responses=responses({200: paged(ProjectOutputSerializer)}),
    )
    def get(self, request: Request) -> Response:
        memberships = (
            Membership.objects.active()
            .filter(user=authenticated_user(request))
            .select_related("project__label_set_version__label_set")
        )
        return paged_response(request, self, memberships, ProjectOutputSerializer)

    @extend_schema(
        summary="Create a project (staff and managers); the caller becomes its manager",
        request=ProjectSettingsSerializer,
        responses=responses({201: ProjectOutputSerializer}, invalid=True),
    )
    def post(self, request: Request) -> Response:
        user = authenticated_user(request)
        access_workspace(user)
        initial = {name: f.initial for name, f in ProjectForm.base_fields.items()} | {
            "name": ""
        }
        s = _project_form(request, initial, None).settings()
        project = project_create(
            **{f.name: getattr(s, f.name) for f in fields(s)},
            created_by=user,
            now=timezone.now(),
        )
        membership = access_project(user, project.pk)
        return Response(
            ProjectOutputSerializer(membership).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/projects/{project.pk}/"},
        )


class ProjectDetailApi(APIView):
    @extend_schema(
        summary="One project, with the caller's role",
        responses=responses({200: ProjectOutputSerializer}),
    )
    def get(self, request: Request, project_id: int) -> Response:
        membership = access_project(request.user, project_id)
        return Response(ProjectOutputSerializer(membership).data)

    class PatchInputSerializer(ProjectSettingsSerializer):
        name = serializers.CharField(max_length=200, required=False)
        label_set = serializers.CharField(required=False)
        confirm = serializers.BooleanField(
            required=False,
            help_text="Apply a change that acts on existing items; without it "
            "such a change answers 409 listing what it would do.",
        )

    @extend_schema(
        summary="Change a project's settings (managers); what acts on existing "
        "items answers 409 with its consequences until confirmed",
        request=PatchInputSerializer,
        responses=responses(
            {200: ProjectOutputSerializer, 409: ErrorSerializer}, invalid=True
        ),
    )
    def patch(self, request: Request, project_id: int) -> Response:
        membership = access_project(request.user, project_id, role=Role.MANAGER)
        project = membership.project
        form = _project_form(request, ProjectForm.initial_for(project), project)
        confirm = serializers.BooleanField(default=False).run_validation(
            request.data.get("confirm", False)
            if isinstance(request.data, dict)
            else False
        )
        result = project_update(
            project=project,
            settings=form.settings(),
            confirmed=confirm,
            updated_by=authenticated_user(request),
            now=timezone.now(),
        )
        if not result.applied:
            return Response(
                {
                    "detail": "This change acts on existing items: send it again "
                    'with "confirm": true to apply it.',
                    "errors": {"confirm": result.consequences},
                },
                status=status.HTTP_409_CONFLICT,
            )
        membership.project = result.project
        return Response(ProjectOutputSerializer(membership).data)


class ProjectArchiveApi(APIView):
    @extend_schema(
        summary="Archive a project (managers): read-only, still exportable",
        request=None,
        responses=responses({200: ProjectOutputSerializer}),
    )
    def post(self, request: Request, project_id: int) -> Response:
        membership = access_project(request.user, project_id, role=Role.MANAGER)
        membership.project = project_archive(
            project=membership.project,
            actor=authenticated_user(request),
            now=timezone.now(),
        )
        return Response(ProjectOutputSerializer(membership).data)


class ProjectUnarchiveApi(APIView):
    @extend_schema(
        summary="Open an archived project again (managers)",
        request=None,
        responses=responses({200: ProjectOutputSerializer}),
    )
    def post(self, request: Request, project_id: int) -> Response:
        membership = access_project(request.user, project_id, role=Role.MANAGER)
        membership.project = project_unarchive(
            project=membership.project,
            actor=authenticated_user(request),
            now=timezone.now(),
        )
        return Response(ProjectOutputSerializer(membership).data)


class TranscriptBodyParser(BaseParser):
    """Transcripts sent as the request body: left unread here, for the
    import job's own parser (annotate.importers), as an uploaded file is."""

    media_type = "application/json"

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        return {"body": stream}


class JsonLinesBodyParser(TranscriptBodyParser):
    media_type = "application/x-ndjson"


class JsonlBodyParser(TranscriptBodyParser):
    media_type = "application/jsonl"


# A body's media type -> the importer's format.
BODY_FORMATS = {
    "application/json": "json",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
}


class ProjectImportApi(APIView):
    """Import transcripts: a file upload, or the transcripts as the body (a
    JSON array, or JSON Lines); the import runs as a job (202, then poll the
    job), all or nothing."""

    parser_classes = [
        MultiPartParser,
        FormParser,
        TranscriptBodyParser,
        JsonLinesBodyParser,
        JsonlBodyParser,
    ]

    class InputSerializer(serializers.Serializer[Any]):
        file = serializers.FileField()
        format = serializers.ChoiceField(choices=importers.FORMATS, required=False)

    @extend_schema(
        summary="Import transcripts (managers): a file, or a JSON array or JSON "
        "Lines body; poll the job",
        request={
            "multipart/form-data": InputSerializer,
            "application/json": {
                "type": "array",
                "items": {"type": "object", "additionalProperties": True},
            },
            "application/x-ndjson": {
                "type": "string",
                "description": "One transcript object per line.",
            },
            "application/jsonl": {
                "type": "string",
                "description": "One transcript object per line.",
            },
        },
        parameters=[JOB_LOCATION],
        responses=responses(JOB_ACCEPTED, invalid=True),
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = access_project(request.user, project_id, role=Role.MANAGER).project
        media_type = request.content_type.split(";")[0].strip().lower()
        if media_type in BODY_FORMATS:
            body = request.data.get("body") if isinstance(request.data, dict) else None
            if body is None:  # DRF's stream of an empty body
                raise exceptions.ValidationError(
                    {"body": ["Send the transcripts in the body."]}
                )
            fmt = BODY_FORMATS[media_type]
            upload, filename = body, f"body.{fmt}"
        else:
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            upload = data.validated_data["file"]
            fmt, filename = data.validated_data.get("format"), upload.name
        job = import_job_create(
            project=project,
            upload=upload,
            filename=filename,
            fmt=fmt,
            created_by=authenticated_user(request),
            now=timezone.now(),
        )
        return job_accepted(job)
