"""Pages every member sees: the project list and a project's overview."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotate.access import access_project
from annotate.charts import learning_chart
from annotate.exporters import SPLITS
from annotate.http import AuthenticatedHtmxRequest
from annotate.models import Job, JobKind, Membership, Project, QueueModel, Role
from annotate.queries import manages_projects
from annotate.services.deferred import rescore_waiting
from annotate.services.learning import prelabels_shown, queue_settings_of


@require_GET
@login_required
def home(request: AuthenticatedHtmxRequest) -> HttpResponse:
    mine = Membership.objects.active().filter(user=request.user)
    memberships = (
        mine.filter(project__archived_at__isnull=True)
        .select_related("project__label_set_version__label_set")
        .order_by("project__name")
    )
    ctx = {
        "memberships": memberships,
        "archived": mine.filter(project__archived_at__isnull=False).count(),
        "manages": manages_projects(request.user),
    }
    return render(request, "annotate/home.html", ctx)


@require_GET
@login_required
def archived(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """The user's archived projects: read-only, still open to read and export."""
    memberships = (
        Membership.objects.active()
        .filter(user=request.user, project__archived_at__isnull=False)
        .select_related("project__label_set_version__label_set")
        .order_by("-project__archived_at")
    )
    return render(request, "annotate/archived.html", {"memberships": memberships})


@require_GET
@login_required
def project_detail(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    membership = access_project(request.user, project_id)
    is_manager = membership.has_role(Role.MANAGER)
    imports = Job.objects.for_project(membership.project).filter(kind=JobKind.IMPORT)
    is_reviewer = membership.has_role(Role.REVIEWER)
    ctx = {
        "membership": membership,
        "project": membership.project,
        "is_manager": is_manager,
        "is_reviewer": is_reviewer,
        # Imports only: agreement jobs show on the agreement page.
        "jobs": imports[:10] if is_manager else [],
        # Exports, for those who may start them (reviewers up).
        "exports": [
            (job, _export_summary(job))
            for job in Job.objects.for_project(membership.project).filter(
                kind=JobKind.EXPORT
            )[:10]
        ]
        if is_reviewer
        else [],
        **(_queue_context(membership.project) if is_reviewer else {}),
        "rescore_waiting": rescore_waiting(membership.project) if is_manager else 0,
    }
    return render(request, "annotate/project.html", ctx)


def _export_summary(job: Job) -> str:
    """A finished export's manifest in a line: rows per split, the items left
    out, and the filters it was made with (from the job, not the file)."""
    result, params = job.result, job.params
    splits = result.get("by_split", {})
    # In the splits' own order: jsonb keeps no key order.
    order = [s for s in SPLITS if s in splits] + sorted(set(splits) - set(SPLITS))
    parts = [", ".join(f"{split} {splits[split]}" for split in order)]
    if result.get("left_out_unresolved"):
        parts.append(f"{result['left_out_unresolved']} unresolved left out")
    if params.get("include_unresolved"):
        parts.append(f"{result.get('key_unresolved', 0)} unresolved included")
    for key, label in (("source_model", "model"), ("dataset", "dataset")):
        if params.get(key):
            parts.append(f"{label} {params[key]}")
    if params.get("min_agreement") is not None:
        parts.append(f"agreement at least {params['min_agreement']}")
    if params.get("adjudicated_only"):
        parts.append("adjudicated only")
    if params.get("since") or params.get("until"):
        parts.append(
            f"gold changed {params.get('since') or '…'} to {params.get('until') or '…'}"
        )
    if params.get("with_annotations"):
        parts.append("with every label")
    return "; ".join(p for p in parts if p)


def _queue_context(project: Project) -> dict[str, object]:
    """The queue's strategy, its current model's figures and the learning
    curve so far (one point per trained model; the artefacts are not read)."""
    models = list(
        QueueModel.objects.filter(project=project)
        .defer("artefact")
        .order_by("-version")[:CURVE_POINTS]
    )[::-1]
    trained = [m for m in models if not m.heuristic]
    current = models[-1] if models else None
    labels = {f.name: f.label for f in project.label_set_version.schema.fields}
    return {
        "queue_model": current,
        # Each target field in the screen's words, with its figures.
        "queue_fields": [
            {"label": labels.get(name, name), **figures}
            for name, figures in (current.fields if current else {}).items()
        ],
        "queue_settings": queue_settings_of(project),
        "prelabels_shown": prelabels_shown(project),
        "learning_curve": learning_chart([(m.labels_used, m.macro_f1) for m in trained])
        if trained
        else None,
    }


CURVE_POINTS = 50


@require_GET
@login_required
def label_set(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    """The project's label set and guidelines, for everyone in the project."""
    membership = access_project(request.user, project_id)
    project = membership.project
    ctx = {"project": project, "schema": project.label_set_version.schema}
    return render(request, "annotate/labelset.html", ctx)
