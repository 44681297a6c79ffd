"""Jobs: poll one, download its files."""

from __future__ import annotations

from django.http import FileResponse
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import access_job
from annotate.api.common import JobOutputSerializer
from annotate.http import export_download
from annotate.queries import (
    job_live,
)


class JobDetailApi(APIView):
    def get(self, request: Request, job_id: int) -> Response:
        return Response(
            JobOutputSerializer(job_live(access_job(request.user, job_id))).data
        )


class JobDownloadApi(APIView):
    def get(self, request: Request, job_id: int, part: str) -> FileResponse:
        return export_download(access_job(request.user, job_id), part)
