"""A judge's labels (a classifier's or an LLM's), imported as manage.py
import_judgements does: all or none, kept apart from people's labels."""

from __future__ import annotations

import io
import json
from typing import Any, BinaryIO

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import access_project
from annotate.api.common import responses
from annotate.models import Role
from annotate.services.imports import ImportRejected
from annotate.services.judges import judgements_import


class JudgementSerializer(serializers.Serializer[Any]):
    id = serializers.JSONField(
        help_text="The transcript's external id, or its number when it has none."
    )
    values = serializers.DictField()


class JudgementsUploadSerializer(serializers.Serializer[Any]):
    judge = serializers.CharField(max_length=100, help_text="E.g. gpt-judge-v2.")
    file = serializers.FileField(help_text="JSONL of {id, values}, or a gold export.")


class JudgementsBodySerializer(serializers.Serializer[Any]):
    judge = serializers.CharField(max_length=100, help_text="E.g. gpt-judge-v2.")
    judgements = JudgementSerializer(many=True, allow_empty=False)


class JudgementSummarySerializer(serializers.Serializer[Any]):
    judge = serializers.CharField()
    stored = serializers.IntegerField()
    replaced = serializers.IntegerField(help_text="The judge's labels it replaced.")


class ProjectJudgementsApi(APIView):
    """Upload a judge's labels as a file (multipart: judge, file) or as a
    JSON body ({judge, judgements: [{id, values}]}). Importing the same
    judge again replaces its labels; a bad line refuses the whole import.
    No parser list of its own: the default parsers take all three (JSON,
    form, multipart), and the project's JSON parser and its limits apply."""

    @extend_schema(
        summary="Import a judge's labels (managers)",
        request={
            "application/json": JudgementsBodySerializer,
            "multipart/form-data": JudgementsUploadSerializer,
        },
        responses=responses({201: JudgementSummarySerializer}, invalid=True),
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = access_project(request.user, project_id, role=Role.MANAGER).project
        judge, stream, where = _judgements_input(request)
        try:
            summary = judgements_import(
                project=project, stream=stream, judge=judge, now=timezone.now()
            )
        except ImportRejected as e:
            # Every bad line, under the part of the input that held it.
            return Response(
                {"detail": e.message, "errors": {where: e.errors}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(
            JudgementSummarySerializer(summary).data, status=status.HTTP_201_CREATED
        )


def _judgements_input(request: Request) -> tuple[str, BinaryIO, str]:
    """(the judge, the JSONL the service reads, the input's field name)."""
    if not request.content_type.startswith("application/json"):
        upload = JudgementsUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        return upload.validated_data["judge"], upload.validated_data["file"], "file"
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError({"non_field_errors": ["Send a JSON object."]})
    body = JudgementsBodySerializer(data=request.data)
    body.is_valid(raise_exception=True)
    lines = (
        json.dumps(row).encode() + b"\n" for row in body.validated_data["judgements"]
    )
    return body.validated_data["judge"], io.BytesIO(b"".join(lines)), "judgements"
