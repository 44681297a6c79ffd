"""The audit log: who changed what in a project, for its managers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import access_project
from annotate.api.common import paged, paged_response, responses
from annotate.forms import HistoryFilterForm
from annotate.models import AuditAction, AuditEntry, Role
from annotate.queries import audit_entries


class AuditEntrySerializer(serializers.ModelSerializer[AuditEntry]):
    actor = serializers.CharField(
        source="actor.username",
        allow_null=True,
        help_text="Who made the change; null for the system (a command).",
    )
    before = serializers.JSONField(
        help_text="The changed fields' stored values before."
    )
    after = serializers.JSONField(help_text="The changed fields' stored values after.")

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "created_at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
        ]


class ProjectAuditApi(APIView):
    """The project's audit log, newest first, one cursor page at a time."""

    class FilterSerializer(serializers.Serializer[Any]):
        action = serializers.ChoiceField(
            choices=AuditAction.choices, required=False, allow_blank=True
        )
        actor = serializers.CharField(required=False, allow_blank=True, max_length=150)
        object_type = serializers.ChoiceField(
            choices=[t for t, _ in HistoryFilterForm.OBJECT_TYPES if t],
            required=False,
            allow_blank=True,
        )
        object_id = serializers.IntegerField(
            required=False, min_value=1, max_value=2**63 - 1
        )
        since = serializers.DateTimeField(required=False)

    @extend_schema(
        summary="The project's audit log, newest first (managers)",
        parameters=[
            OpenApiParameter("action", str, enum=AuditAction.values),
            OpenApiParameter(
                "actor", str, description="The username of who changed it."
            ),
            OpenApiParameter(
                "object_type",
                str,
                enum=[t for t, _ in HistoryFilterForm.OBJECT_TYPES if t],
            ),
            OpenApiParameter("object_id", int),
            OpenApiParameter(
                "since", OpenApiTypes.DATETIME, description="Changes at or after it."
            ),
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int, description="1..1000 (default 100)."),
        ],
        responses=responses({200: paged(AuditEntrySerializer)}, invalid=True),
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = access_project(request.user, project_id, role=Role.MANAGER).project
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        entries = audit_entries(project, **filters.validated_data)
        return paged_response(
            request, self, entries, AuditEntrySerializer, ordering="-id"
        )
