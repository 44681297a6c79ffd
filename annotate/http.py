"""The typed request that views receive, and responses the pages and the API share."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.http import FileResponse, Http404, HttpRequest
from django.utils.text import slugify
from django_htmx.middleware import HtmxDetails

from annotate.models import Job, JobKind, JobStatus
from annotate.services.exports import export_card_path, export_paths


class AuthenticatedHtmxRequest(HttpRequest):
    user: User
    htmx: HtmxDetails


def export_download(job: Job, part: str) -> FileResponse:
    """The file of a finished export (`data`, `manifest` or `card`, its
    README.md); 404 otherwise. Shared by the page's link and the API."""
    if job.kind != JobKind.EXPORT or job.status != JobStatus.SUCCEEDED:
        raise Http404("No finished export here.")
    data, manifest = export_paths(job)
    card = export_card_path(job)
    path = {"data": data, "manifest": manifest, "card": card}.get(part)
    if path is None or not path.exists():
        raise Http404("No such file.")
    kind = job.params.get("kind") or "gold"
    name = f"{slugify(job.project.name) or 'project'}-{kind}-{job.pk}"
    filename = {
        "data": f"{name}.{job.params['fmt']}",
        "manifest": f"{name}.manifest.json",
        "card": f"{name}.README.md",
    }[part]
    return FileResponse(path.open("rb"), as_attachment=True, filename=filename)


def client_address(request: HttpRequest) -> str:
    """The address a request came from, for login throttling.

    Behind settings.PROXY_COUNT proxies, the address the outermost one saw:
    that many entries from the right of X-Forwarded-For, since each proxy
    appends the address it received from. Entries further left are the
    client's own to forge, so they are never read; with no proxy, the
    header is ignored and REMOTE_ADDR is the address."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    if not settings.PROXY_COUNT:
        return remote
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    hops = [h.strip() for h in forwarded.split(",")]
    hops = [h for h in hops if h]
    if len(hops) < settings.PROXY_COUNT:
        return remote
    return hops[-int(settings.PROXY_COUNT)]
