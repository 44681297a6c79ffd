"""Manager pages: import transcripts, export gold, follow the jobs they start."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotate.access import access_job, access_project
from annotate.forms import ExportForm, ImportForm, add_service_errors
from annotate.http import AuthenticatedHtmxRequest, export_download
from annotate.models import Job, JobKind, Role
from annotate.queries import job_live
from annotate.services.exports import export_options_parse
from annotate.services.jobs import export_job_create, import_job_create
from annotate.services.learning import queue_job_create


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
        job = import_job_create(
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


@require_http_methods(["GET", "POST"])
@login_required
def project_export(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    """Start a gold export; it runs as a job, with a download link when done."""
    project = access_project(request.user, project_id, role=Role.REVIEWER).project
    form = ExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = export_job_create(
                project=project,
                options=export_options_parse(form.export_input()),
                created_by=request.user,
                now=timezone.now(),
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            return redirect("annotate:job", job_id=job.pk)
    exports = Job.objects.for_project(project).filter(kind=JobKind.EXPORT)[:10]
    return render(
        request,
        "annotate/manager/export.html",
        {"project": project, "form": form, "exports": exports},
    )


@require_GET
@login_required
def job_download(
    request: AuthenticatedHtmxRequest, job_id: int, part: str
) -> FileResponse:
    """An export job's data file or manifest."""
    return export_download(access_job(request.user, job_id), part)


@require_POST
@login_required
def queue_retrain(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    """Retrain the queue model and rescore now (or join the retrain running)."""
    project = access_project(request.user, project_id, role=Role.MANAGER).project
    job = queue_job_create(
        project=project,
        kind=JobKind.RETRAIN,
        created_by=request.user,
        now=timezone.now(),
    )
    return redirect("annotate:job", job_id=job.pk)
