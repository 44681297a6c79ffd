"""The managers' assignment page: batches by selection, their progress per
annotator, moving unstarted work, and quotas."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from annotate.access import access_project
from annotate.forms import BatchForm, MoveForm, QuotaForm, add_service_errors
from annotate.http import AuthenticatedHtmxRequest
from annotate.models import Batch, Item, Membership, Project, Role
from annotate.queries import active_members, batches_of, saved_searches_of
from annotate.services.assignments import (
    allocations_move,
    batch_create,
    batch_items_preview,
    batch_progress,
    membership_quota_set,
)

PREVIEW_ITEMS = 20


@require_GET
@login_required
def assignments(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    project = access_project(request.user, project_id, role=Role.MANAGER).project
    return _page(request, project)


@require_POST
@login_required
def batch_new(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    project = access_project(request.user, project_id, role=Role.MANAGER).project
    form = _batch_form(project, request.POST)
    if form.is_valid():
        try:
            result = batch_create(
                project=project,
                name=form.cleaned_data["name"],
                selection=form.selection(),
                usernames=form.cleaned_data["annotators"],
                mode=Batch.Mode(form.cleaned_data["mode"]),
                created_by=request.user,
                now=timezone.now(),
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            return redirect(
                "annotate:batch", project_id=project.pk, batch_id=result.batch.pk
            )
    return _page(request, project, batch_form=form)


@require_GET
@login_required
def batch_preview(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    """The items a selection would pick, the first PREVIEW_ITEMS of them."""
    project = access_project(request.user, project_id, role=Role.MANAGER).project
    form = _batch_form(project, request.GET)
    form.is_valid()  # the selection's own fields; annotators are not needed here
    items: list[Item] = []
    errors: list[str] = []
    try:
        items = batch_items_preview(
            project=project, selection=form.selection(), limit=PREVIEW_ITEMS + 1
        )
    except ValidationError as e:
        errors = e.messages
    ctx = {
        "project": project,
        "preview": items[:PREVIEW_ITEMS],
        "more": len(items) > PREVIEW_ITEMS,
        "preview_errors": errors,
    }
    return render(request, "annotate/manager/assignments.html#preview", ctx)


@require_GET
@login_required
def batch_detail(
    request: AuthenticatedHtmxRequest, project_id: int, batch_id: int
) -> HttpResponse:
    project = access_project(request.user, project_id, role=Role.MANAGER).project
    batch = get_object_or_404(Batch, project=project, pk=batch_id)
    ctx = {"project": project, "batch": batch, "progress": batch_progress(batch)}
    return render(request, "annotate/manager/batch.html", ctx)


@require_POST
@login_required
def allocations_move_view(
    request: AuthenticatedHtmxRequest, project_id: int
) -> HttpResponse:
    project = access_project(request.user, project_id, role=Role.MANAGER).project
    form = MoveForm(request.POST, usernames=_usernames(project, everyone=True))
    moved: dict[str, int] | None = None
    if form.is_valid():
        try:
            moved = allocations_move(
                project=project,
                from_username=form.cleaned_data["from_annotator"],
                to_usernames=form.cleaned_data["to_annotators"],
                actor=request.user,
                now=timezone.now(),
            )
        except ValidationError as e:
            add_service_errors(form, e)
    return _page(request, project, move_form=form, moved=moved)


@require_POST
@login_required
def quota_set(
    request: AuthenticatedHtmxRequest, project_id: int, user_id: int
) -> HttpResponse:
    project = access_project(request.user, project_id, role=Role.MANAGER).project
    membership = get_object_or_404(Membership, project=project, user_id=user_id)
    form = QuotaForm(request.POST, prefix=f"q{user_id}")
    if form.is_valid():
        try:
            membership_quota_set(
                membership=membership,
                quota_day=form.cleaned_data["quota_day"],
                quota_total=form.cleaned_data["quota_total"],
                actor=request.user,
                now=timezone.now(),
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            if not request.htmx:
                return redirect("annotate:assignments", project_id=project.pk)
            form = _quota_form(Membership.objects.get(pk=membership.pk))
    ctx = {"project": project, "row": {"membership": membership, "form": form}}
    return render(request, "annotate/manager/assignments.html#quota-row", ctx)


def _usernames(project: Project, *, everyone: bool = False) -> list[str]:
    """Active members' usernames; with everyone, the deactivated too (whose
    unstarted work a manager moves to others)."""
    return [m.user.username for m in active_members(project, everyone=everyone)]


def _batch_form(project: Project, data: QueryDict | None = None) -> BatchForm:
    searches = list(saved_searches_of(project).values_list("pk", "name"))
    return BatchForm(data, usernames=_usernames(project), searches=searches)


def _quota_form(m: Membership) -> QuotaForm:
    return QuotaForm(
        initial={"quota_day": m.quota_day, "quota_total": m.quota_total},
        prefix=f"q{m.user_id}",
    )


def _page(
    request: AuthenticatedHtmxRequest,
    project: Project,
    *,
    batch_form: forms.Form | None = None,
    move_form: forms.Form | None = None,
    moved: dict[str, int] | None = None,
) -> HttpResponse:
    members = list(active_members(project))
    every = _usernames(project, everyone=True)
    batches = list(batches_of(project)[:50])
    ctx: dict[str, Any] = {
        "project": project,
        "batch_form": batch_form or _batch_form(project),
        "move_form": move_form or MoveForm(usernames=every),
        "moved": moved,
        "batches": batches,
        "quotas": [{"membership": m, "form": _quota_form(m)} for m in members],
        "today": timezone.now().date(),
    }
    return render(request, "annotate/manager/assignments.html", ctx)
