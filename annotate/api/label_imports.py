"""Labels and decisions made elsewhere: a file in, all of it or none."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, BinaryIO

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser, FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import access_project
from annotate.api.common import authenticated_user, responses
from annotate.models import Role
from annotate.services.imports import ImportRejected
from annotate.services.label_imports import annotations_import, decisions_import

_BODY = "_body"  # bytes, so no form field can pass for it


class _BodyParser(BaseParser):
    """The body as it came: the service reads JSON Lines or a JSON array itself,
    line by line, so errors can name their line."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Mapping[str, bytes]:
        return {_BODY: bytes(stream.read()) if stream is not None else b""}


class JsonBodyParser(_BodyParser):
    media_type = "application/json"


class JsonLinesBodyParser(_BodyParser):
    media_type = "application/x-ndjson"


PARSERS = [MultiPartParser, FormParser, JsonBodyParser, JsonLinesBodyParser]


class _UploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField()


def _stream(request: Request) -> BinaryIO:
    """The uploaded file, or the body itself."""
    data: Any = request.data
    body = data.get(_BODY) if isinstance(data, Mapping) else None
    if isinstance(body, bytes):
        return io.BytesIO(body)
    upload = _UploadSerializer(data=request.data)
    upload.is_valid(raise_exception=True)
    file: BinaryIO = upload.validated_data["file"]
    return file


def _rejected(e: ImportRejected) -> Response:
    return Response(
        {"detail": e.message, "errors": {"file": e.errors}},
        status=status.HTTP_400_BAD_REQUEST,
    )


def _request_body(record: serializers.Serializer[Any]) -> dict[str, Any]:
    return {
        "multipart/form-data": _UploadSerializer,
        "application/json": serializers.ListSerializer(child=record),
        "application/x-ndjson": OpenApiTypes.STR,
    }


class AnnotationImportApi(APIView):
    """People's labels given elsewhere, stored as submits store them (managers)."""

    parser_classes = PARSERS

    @extend_schema(
        summary="Import people's labels (managers), all or none",
        description=(
            "A file upload (field `file`) or the body itself: JSON Lines or a "
            'JSON array of {"id", "annotator", "values"[, "seconds", '
            '"created_at"]}. A 400 lists the bad lines under errors.file.'
        ),
        request=_request_body(
            inline_serializer(
                "AnnotationImportRecord",
                {
                    "id": serializers.CharField(),
                    "annotator": serializers.CharField(),
                    "values": serializers.DictField(),
                    "seconds": serializers.FloatField(required=False),
                    "created_at": serializers.DateTimeField(required=False),
                },
            )
        ),
        responses=responses(
            {
                201: inline_serializer(
                    "AnnotationImportSummary",
                    {
                        "stored": serializers.IntegerField(),
                        "items": serializers.IntegerField(),
                        "annotators_created": serializers.ListField(
                            child=serializers.CharField()
                        ),
                    },
                )
            },
            invalid=True,
        ),
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = access_project(request.user, project_id, role=Role.MANAGER).project
        stream = _stream(request)
        try:
            summary = annotations_import(
                project=project,
                stream=stream,
                actor=authenticated_user(request),
                now=timezone.now(),
            )
        except ImportRejected as e:
            return _rejected(e)
        return Response(summary.as_dict(), status=status.HTTP_201_CREATED)


class DecisionImportApi(APIView):
    """Reviewers' decisions given elsewhere, recorded as the adjudication page
    records them (reviewers and managers)."""

    parser_classes = PARSERS

    @extend_schema(
        summary="Import reviewers' decisions (reviewers), all or none",
        description=(
            "A file upload (field `file`) or the body itself: JSON Lines or a "
            'JSON array of {"id", "values", "reason"[, "reviewer"]}; a line '
            "without a reviewer is the caller's. A 400 lists the bad lines "
            "under errors.file."
        ),
        request=_request_body(
            inline_serializer(
                "DecisionImportRecord",
                {
                    "id": serializers.CharField(),
                    "values": serializers.DictField(),
                    "reason": serializers.CharField(),
                    "reviewer": serializers.CharField(required=False),
                },
            )
        ),
        responses=responses(
            {
                201: inline_serializer(
                    "DecisionImportSummary", {"stored": serializers.IntegerField()}
                )
            },
            invalid=True,
        ),
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = access_project(request.user, project_id, role=Role.REVIEWER).project
        stream = _stream(request)
        try:
            summary = decisions_import(
                project=project,
                stream=stream,
                reviewer=authenticated_user(request),
                now=timezone.now(),
            )
        except ImportRejected as e:
            return _rejected(e)
        return Response(summary.as_dict(), status=status.HTTP_201_CREATED)
