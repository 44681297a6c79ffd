"""Jobs: poll one, download its files."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
)
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import access_job
from annotate.api.common import JobOutputSerializer, responses
from annotate.http import export_download
from annotate.queries import (
    job_live,
)


class JobDetailApi(APIView):
    @extend_schema(
        summary="A job: status, stage, progress, result or errors",
        responses=responses({200: JobOutputSerializer}),
    )
    def get(self, request: Request, job_id: int) -> Response:
        return Response(
            JobOutputSerializer(job_live(access_job(request.user, job_id))).data
        )


class JobDownloadApi(APIView):
    @extend_schema(
        summary="A finished export's file: part is data or manifest",
        responses=responses(
            {200: OpenApiResponse(OpenApiTypes.BINARY, description="The file.")}
        ),
    )
    def get(self, request: Request, job_id: int, part: str) -> FileResponse:
        return export_download(access_job(request.user, job_id), part)
