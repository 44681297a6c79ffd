"""Jobs: poll one, download its files, run a failed one again."""

from __future__ import annotations

from django.http import FileResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
)
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import access_job, access_job_retry
from annotate.api.common import (
    JOB_ACCEPTED,
    JOB_LOCATION,
    JobOutputSerializer,
    authenticated_user,
    job_accepted,
    responses,
)
from annotate.http import export_download
from annotate.queries import (
    job_live,
)
from annotate.services.jobs import job_fail_if_stale, job_retry


class JobDetailApi(APIView):
    @extend_schema(
        summary="A job: status, stage, progress, result or errors",
        responses=responses({200: JobOutputSerializer}),
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = access_job(request.user, job_id)
        # Seen failed here even while no worker runs beat's sweep.
        job = job_fail_if_stale(job=job, now=timezone.now())
        return Response(JobOutputSerializer(job_live(job)).data)


class JobRetryApi(APIView):
    """Run a failed job again (its worker died, the database was down, ...):
    202 with a new job of the same kind and params. The role that starts
    such a job is needed: managers for imports, retrains and rescores,
    reviewers for reports and exports. 400 (`not_failed`) unless the job
    failed; 400 (`missing_file`) for an import whose upload is gone."""

    @extend_schema(
        summary="Run a failed job again, as a new job",
        request=None,
        parameters=[JOB_LOCATION],
        responses=responses(JOB_ACCEPTED, invalid=True),
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = access_job_retry(request.user, job_id)
        new = job_retry(
            job=job, created_by=authenticated_user(request), now=timezone.now()
        )
        return job_accepted(new)


class JobDownloadApi(APIView):
    @extend_schema(
        summary="A finished export's file: part is data or manifest",
        responses=responses(
            {200: OpenApiResponse(OpenApiTypes.BINARY, description="The file.")}
        ),
    )
    def get(self, request: Request, job_id: int, part: str) -> FileResponse:
        return export_download(access_job(request.user, job_id), part)
