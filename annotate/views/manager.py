"""Manager pages: import transcripts and follow the jobs they start."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from annotate import services
from annotate.access import access_job, access_project
from annotate.forms import ImportForm
from annotate.http import AuthenticatedHtmxRequest
from annotate.models import Role
from annotate.queries import job_live


@require_http_methods(["GET", "POST"])
@login_required
def project_import(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    project = access_project(request.user, project_id, role=Role.MANAGER).project
    if request.method == "GET":
        return render(
            request,
            "annotate/manager/import.html",
            {"project": project, "form": ImportForm()},
        )
    form = ImportForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        job = services.import_job_create(
            project=project,
            upload=upload,
            filename=upload.name,
            fmt=form.cleaned_data["format"] or None,
            created_by=request.user,
            now=timezone.now(),
        )
        return redirect("annotate:job", job_id=job.pk)
    return render(
        request, "annotate/manager/import.html", {"project": project, "form": form}
    )


@require_GET
@login_required
def job_detail(request: AuthenticatedHtmxRequest, job_id: int) -> HttpResponse:
    job = job_live(access_job(request.user, job_id))
    # htmx polls only the status panel until the job ends.
    template = (
        "annotate/manager/job.html#job-status"
        if request.htmx
        else "annotate/manager/job.html"
    )
    return render(request, template, {"job": job, "project": job.project})
