"""Manager pages: create and change projects, archive them, upload label
sets; import transcripts, export gold, follow the jobs they start."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import Max, QuerySet
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotate.access import (
    access_job,
    access_job_retry,
    access_label_set,
    access_project,
    access_workspace,
    job_start_role,
)
from annotate.forms import (
    GUIDELINES_MAX,
    ExportForm,
    ImportForm,
    LabelSetTokenForm,
    LabelSetUploadForm,
    ProjectForm,
    add_service_errors,
    labelset_upload_token,
)
from annotate.http import AuthenticatedHtmxRequest, export_download
from annotate.inputs import query_number
from annotate.models import Job, JobKind, JobStatus, Project, Role
from annotate.queries import job_live, label_set_projects, label_sets_visible_to
from annotate.services.exports import export_options_parse
from annotate.services.jobs import (
    export_job_create,
    import_job_create,
    job_fail_if_stale,
    job_retry,
)
from annotate.services.learning import queue_job_create
from annotate.services.projects import (
    labelset_upload,
    labelset_upload_plan,
    project_archive,
    project_create,
    project_unarchive,
    project_update,
)
from labelsets.diff import schema_diff
from labelsets.forms import label_form_for_schema
from labelsets.models import LabelSetVersion
from labelsets.schema import SchemaError
from labelsets.services import LabelSetPlan, labelset_version_allowed


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
        try:
            job = import_job_create(
                project=project,
                upload=upload,
                filename=upload.name,
                fmt=form.cleaned_data["format"] or None,
                created_by=request.user,
                now=timezone.now(),
            )
        except ValidationError as e:  # an archived project
            add_service_errors(form, e)
        else:
            return redirect("annotate:job", job_id=job.pk)
    return render(
        request, "annotate/manager/import.html", {"project": project, "form": form}
    )


@require_GET
@login_required
def job_detail(request: AuthenticatedHtmxRequest, job_id: int) -> HttpResponse:
    job = access_job(request.user, job_id)
    # Seen failed here even while no worker runs beat's sweep.
    job = job_live(job_fail_if_stale(job=job, now=timezone.now()))
    can_retry = job.status == JobStatus.FAILED and (
        access_project(request.user, job.project_id).has_role(job_start_role(job.kind))
    )
    # htmx polls only the status panel until the job ends.
    template = (
        "annotate/manager/job.html#job-status"
        if request.htmx
        else "annotate/manager/job.html"
    )
    ctx = {"job": job, "project": job.project, "can_retry": can_retry}
    return render(request, template, ctx)


@require_POST
@login_required
def job_run_again(request: AuthenticatedHtmxRequest, job_id: int) -> HttpResponse:
    """Run a failed job again, as a new job with its kind and params."""
    job = access_job_retry(request.user, job_id)
    try:
        new = job_retry(job=job, created_by=request.user, now=timezone.now())
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
        return redirect("annotate:job", job_id=job.pk)
    return redirect("annotate:job", job_id=new.pk)


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
    try:
        job = queue_job_create(
            project=project,
            kind=JobKind.RETRAIN,
            created_by=request.user,
            now=timezone.now(),
        )
    except ValidationError as e:  # an archived project
        messages.error(request, " ".join(e.messages))
        return redirect("annotate:project", project_id=project.pk)
    return redirect("annotate:job", job_id=job.pk)


# Projects -------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def project_new(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """Create a project (staff and managers); its creator becomes its manager."""
    access_workspace(request.user)
    versions = _versions_for(request.user)
    initial = {"label_set_version": request.GET.get("version")}
    data = request.POST if request.method == "POST" else None
    form = ProjectForm(data, versions=versions, initial=initial)
    if request.method == "POST" and "preview" not in request.POST and form.is_valid():
        s = form.settings()
        try:
            project = project_create(
                **{f.name: getattr(s, f.name) for f in fields(s)},
                created_by=request.user,
                now=timezone.now(),
            )
        except ValidationError as e:
            add_service_errors(form, e, fields=ProjectForm.SERVICE_NAMES)
        else:
            messages.success(request, f"Created {project.name}.")
            return redirect("annotate:project", project_id=project.pk)
    return _project_form(request, form, project=None)


@require_http_methods(["GET", "POST"])
@login_required
def project_settings(
    request: AuthenticatedHtmxRequest, project_id: int
) -> HttpResponse:
    """Change a project's settings: what would break existing data is
    refused, what acts on its items is confirmed first."""
    project = access_project(request.user, project_id, role=Role.MANAGER).project
    versions = _versions_for(request.user)
    initial = ProjectForm.initial_for(project)
    data = request.POST if request.method == "POST" else None
    form = ProjectForm(data, versions=versions, initial=initial)
    consequences: list[str] = []
    if request.method == "POST" and "preview" not in request.POST and form.is_valid():
        try:
            result = project_update(
                project=project,
                settings=form.settings(),
                confirmed=request.POST.get("confirm") == "yes",
                updated_by=request.user,
                now=timezone.now(),
            )
        except ValidationError as e:
            add_service_errors(form, e, fields=ProjectForm.SERVICE_NAMES)
        else:
            if result.applied:
                saved = " ".join(["Settings saved.", *result.consequences])
                messages.success(request, saved)
                return redirect("annotate:project", project_id=project.pk)
            consequences = result.consequences
    return _project_form(request, form, project=project, consequences=consequences)


def _versions_for(user: User) -> QuerySet[LabelSetVersion]:
    return (
        LabelSetVersion.objects.filter(label_set__in=label_sets_visible_to(user))
        .select_related("label_set")
        .defer("schema_data")
        .order_by("label_set__name", "-number")
    )


def _project_form(
    request: AuthenticatedHtmxRequest,
    form: ProjectForm,
    *,
    project: Project | None,
    consequences: Sequence[str] = (),
) -> HttpResponse:
    ctx = {
        "form": form,
        "project": project,
        "consequences": consequences,
        # The no-JavaScript preview: the Preview button posts the form back.
        "guidelines": form["guidelines"].value() or "",
        "queue_fields": [form[name] for name in ProjectForm.QUEUE_FIELDS],
    }
    return render(request, "annotate/manager/project_form.html", ctx)


@require_POST
@login_required
def guidelines_preview(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """The guidelines as the labelling screen shows them (htmx, as they are
    typed): the same sanitising markdown filter, server-side."""
    access_workspace(request.user)
    text = request.POST.get("guidelines", "")[:GUIDELINES_MAX]
    return render(
        request,
        "annotate/manager/project_form.html#guidelines-preview",
        {"guidelines": text},
    )


@require_POST
@login_required
def project_archive_view(
    request: AuthenticatedHtmxRequest, project_id: int
) -> HttpResponse:
    """Archive the project: read-only, off the home page, still exportable."""
    project = access_project(request.user, project_id, role=Role.MANAGER).project
    project_archive(project=project, actor=request.user, now=timezone.now())
    messages.success(
        request,
        f"{project.name} is archived: read-only, listed under Archived projects, "
        "still exportable.",
    )
    return redirect("annotate:project", project_id=project.pk)


@require_POST
@login_required
def project_unarchive_view(
    request: AuthenticatedHtmxRequest, project_id: int
) -> HttpResponse:
    project = access_project(request.user, project_id, role=Role.MANAGER).project
    project_unarchive(project=project, actor=request.user, now=timezone.now())
    messages.success(request, f"{project.name} is open again.")
    return redirect("annotate:project", project_id=project.pk)


# Label sets -----------------------------------------------------------------


@require_GET
@login_required
def labelset_list(request: AuthenticatedHtmxRequest) -> HttpResponse:
    access_workspace(request.user)
    label_sets = (
        label_sets_visible_to(request.user)
        .select_related("created_by")
        .annotate(latest=Max("versions__number"))
        .order_by("name")
    )
    return render(
        request, "annotate/manager/labelsets.html", {"label_sets": label_sets}
    )


@require_http_methods(["GET", "POST"])
@login_required
def labelset_upload_view(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """Upload a label set file: its errors with their paths, or a preview of
    the form it makes and what it changes; nothing is stored here."""
    access_workspace(request.user)
    post = request.method == "POST"
    form = (
        LabelSetUploadForm(request.POST, request.FILES)
        if post
        else LabelSetUploadForm()
    )
    errors: tuple[SchemaError, ...] = ()
    if post and form.is_valid():
        data = form.cleaned_data["file"]
        try:
            plan = labelset_upload_plan(data=data, user=request.user)
        except SchemaError as e:
            errors = e.errors
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            token = labelset_upload_token(request.user, data)
            return _preview(request, plan, token)
    ctx = {"form": form, "schema_errors": errors}
    return render(request, "annotate/manager/labelset_upload.html", ctx)


@require_POST
@login_required
def labelset_try(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """Check labels typed into an upload's preview form against its schema
    (its rules too); stores nothing."""
    access_workspace(request.user)
    token_form = LabelSetTokenForm(request.POST, user=request.user)
    if not token_form.is_valid():
        return _upload_again(request, token_form)
    data = token_form.cleaned_data["upload"]
    try:
        plan = labelset_upload_plan(data=data, user=request.user)
    except (SchemaError, ValidationError):
        return _upload_again(request, token_form)
    labels = label_form_for_schema(plan.file.schema)(request.POST)
    message = ""
    if labels.is_valid():
        message = "These labels pass every check of the label set. Nothing is stored."
    token = token_form["upload"].value()
    return _preview(request, plan, token, labels=labels, message=message)


@require_POST
@login_required
def labelset_save(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """Store the previewed label set: a new label set, or a new version when
    its schema changed; all or nothing."""
    access_workspace(request.user)
    token_form = LabelSetTokenForm(request.POST, user=request.user)
    if not token_form.is_valid():
        return _upload_again(request, token_form)
    try:
        version, created = labelset_upload(
            data=token_form.cleaned_data["upload"],
            user=request.user,
            now=timezone.now(),
        )
    except (SchemaError, ValidationError):
        # Someone else took the name since the preview, or the rules moved on.
        return _upload_again(request, token_form)
    name = version.label_set.name
    messages.success(
        request,
        f"Saved {name} v{version.number}."
        if created
        else f"{name} is unchanged: v{version.number} already has this schema.",
    )
    return redirect("annotate:labelset", name=name)


def _preview(
    request: AuthenticatedHtmxRequest,
    plan: LabelSetPlan,
    token: str,
    *,
    labels: forms.Form | None = None,
    message: str = "",
) -> HttpResponse:
    ctx = {
        "plan": plan,
        "token": token,
        "form": labels or label_form_for_schema(plan.file.schema)(),
        "message": message,
    }
    # htmx swaps the panel only: the choices and the checks stay in view.
    template = "annotate/manager/labelset_preview.html"
    return render(request, f"{template}#item-panel" if request.htmx else template, ctx)


def _upload_again(
    request: AuthenticatedHtmxRequest, token_form: LabelSetTokenForm
) -> HttpResponse:
    """The upload page, saying why the preview can no longer be used."""
    problems = token_form.errors.get("upload") or [
        "The label set no longer fits (someone may have taken its name): "
        "upload the file again to see why."
    ]
    ctx = {"form": LabelSetUploadForm(), "schema_errors": (), "problems": problems}
    return render(request, "annotate/manager/labelset_upload.html", ctx)


@require_GET
@login_required
def labelset_detail(request: AuthenticatedHtmxRequest, name: str) -> HttpResponse:
    """A label set's versions, the projects using each, and the changes
    between two of them (the latest two unless ?from=&to=)."""
    label_set = access_label_set(request.user, name)
    versions = list(label_set.versions.order_by("number"))
    numbers = [v.number for v in versions]
    to = _number(request, "to", numbers, default=numbers[-1])
    since = _number(request, "from", numbers, default=max(numbers[0], to - 1))
    by_number = {v.number: v for v in versions}
    changes = schema_diff(by_number[since].schema, by_number[to].schema)
    projects = label_set_projects(label_set, request.user)
    ctx = {
        "label_set": label_set,
        "versions": versions,
        "rows": [(v, projects.get(v.pk, [])) for v in versions],
        "since": since,
        "to": to,
        "changes": changes,
        "may_add_version": labelset_version_allowed(label_set, request.user),
    }
    return render(request, "annotate/manager/labelset.html", ctx)


def _number(
    request: AuthenticatedHtmxRequest, name: str, numbers: list[int], *, default: int
) -> int:
    """A version number from the query string; the default when it names
    none. Not a number at all: BadRequest (400)."""
    number = query_number(request.GET, name)
    return number if number in numbers else default
