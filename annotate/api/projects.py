"""Projects: list, detail, import."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import (
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate import importers
from annotate.access import access_project
from annotate.api.common import (
    JOB_ACCEPTED,
    JOB_LOCATION,
    authenticated_user,
    job_accepted,
    responses,
)
from annotate.models import (
    Membership,
    Role,
)
from annotate.services.jobs import (
    import_job_create,
)


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
    @extend_schema(
        summary="The projects the caller is a member of, with their role",
        responses=responses(
            {
                200: inline_serializer(
                    "ProjectList", {"results": ProjectOutputSerializer(many=True)}
                )
            }
        ),
    )
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
    @extend_schema(
        summary="One project, with the caller's role",
        responses=responses({200: ProjectOutputSerializer}),
    )
    def get(self, request: Request, project_id: int) -> Response:
        membership = access_project(request.user, project_id)
        return Response(ProjectOutputSerializer(membership).data)


class ProjectImportApi(APIView):
    """Upload a transcript file; the import runs as a job (202, then poll the job)."""

    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer[Any]):
        file = serializers.FileField()
        format = serializers.ChoiceField(choices=importers.FORMATS, required=False)

    @extend_schema(
        summary="Import a transcript file (managers); poll the job",
        request=InputSerializer,
        parameters=[JOB_LOCATION],
        responses=responses(JOB_ACCEPTED, invalid=True),
    )
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
        return job_accepted(job)
