"""The typed request that views receive, and responses the pages and the API share."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import FileResponse, Http404, HttpRequest
from django.utils.text import slugify
from django_htmx.middleware import HtmxDetails

from annotate.models import Job, JobKind, JobStatus
from annotate.services.exports import export_paths


class AuthenticatedHtmxRequest(HttpRequest):
    user: User
    htmx: HtmxDetails


def export_download(job: Job, part: str) -> FileResponse:
    """The file of a finished export (`data` or `manifest`); 404 otherwise.
    Shared by the page's link and the API."""
    if job.kind != JobKind.EXPORT or job.status != JobStatus.SUCCEEDED:
        raise Http404("No finished export here.")
    data, manifest = export_paths(job)
    path = {"data": data, "manifest": manifest}.get(part)
    if path is None or not path.exists():
        raise Http404("No such file.")
    name = f"{slugify(job.project.name) or 'project'}-gold-{job.pk}"
    filename = (
        f"{name}.{job.params['fmt']}" if part == "data" else f"{name}.manifest.json"
    )
    return FileResponse(path.open("rb"), as_attachment=True, filename=filename)
