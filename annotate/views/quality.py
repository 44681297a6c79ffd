"""The managers' quality-control page: gold questions, their share of the
queue, the qualification, and the annotators paused or failed."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from annotate.access import access_project
from annotate.forms import QualityForm, add_service_errors
from annotate.http import AuthenticatedHtmxRequest
from annotate.models import GoldQuestion, Item, Membership, Project, Role
from annotate.services.quality import (
    accuracy_table,
    gold_question_remove,
    gold_question_set,
    membership_pause_undo,
    project_quality_set,
    qualification_retry,
)
from annotate.stats.aggregation import gold_chosen

SHOWN_QUESTIONS = 50


@require_GET
@login_required
def quality(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    project = access_project(request.user, project_id, role=Role.MANAGER).project
    return _page(request, project, _settings_form(project))


@require_POST
@login_required
def quality_settings(
    request: AuthenticatedHtmxRequest, project_id: int
) -> HttpResponse:
    project = access_project(request.user, project_id, role=Role.MANAGER).project
    form = QualityForm(request.POST)
    if form.is_valid():
        try:
            project_quality_set(
                project=project,
                actor=request.user,
                now=timezone.now(),
                **form.cleaned_data,
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            return redirect("annotate:quality", project_id=project.pk)
    return _page(request, project, form)


@require_POST
@login_required
def question_set(
    request: AuthenticatedHtmxRequest, project_id: int, item_id: int
) -> HttpResponse:
    """Make the item a gold question expecting its gold (choices and ratings)."""
    project = access_project(request.user, project_id, role=Role.MANAGER).project
    item = get_object_or_404(
        Item.objects.select_related("gold"), project=project, pk=item_id
    )
    gold = getattr(item, "gold", None)
    if gold is None:
        raise Http404("This item has no gold yet to expect.")
    expected = gold_chosen(gold.values)
    try:
        gold_question_set(
            item=item,
            values=expected,
            source="manager",
            created_by=request.user,
            now=timezone.now(),
        )
    except ValidationError as e:
        return _page(
            request, project, _settings_form(project), error=" ".join(e.messages)
        )
    return redirect("annotate:quality", project_id=project.pk)


@require_POST
@login_required
def question_remove(
    request: AuthenticatedHtmxRequest, project_id: int, item_id: int
) -> HttpResponse:
    project = access_project(request.user, project_id, role=Role.MANAGER).project
    try:
        gold_question_remove(item=get_object_or_404(Item, project=project, pk=item_id))
    except ValidationError as e:
        return _page(
            request, project, _settings_form(project), error=" ".join(e.messages)
        )
    return redirect("annotate:quality", project_id=project.pk)


@require_POST
@login_required
def member_unblock(
    request: AuthenticatedHtmxRequest, project_id: int, user_id: int
) -> HttpResponse:
    """Undo a pause, or let a member retake the qualification."""
    project = access_project(request.user, project_id, role=Role.MANAGER).project
    membership = get_object_or_404(Membership, project=project, user_id=user_id)
    if membership.paused_at is not None:
        membership_pause_undo(membership=membership)
    else:
        qualification_retry(membership=membership)
    return redirect("annotate:quality", project_id=project.pk)


def _settings_form(project: Project) -> QualityForm:
    return QualityForm(
        initial={
            "check_rate": project.check_rate,
            "qualification_size": project.qualification_size,
            "qualification_pass": project.qualification_pass,
            "pause_below": project.pause_below,
            "pause_window": project.pause_window,
        }
    )


def _page(
    request: AuthenticatedHtmxRequest,
    project: Project,
    form: QualityForm,
    *,
    error: str = "",
) -> HttpResponse:
    fields = {f.name: f for f in project.label_set_version.schema.fields}
    questions = [
        {
            "question": q,
            "expected": [
                (fields[name].label, fields[name].shown(value))
                for name, value in q.values.items()
                if name in fields
            ],
        }
        for q in GoldQuestion.objects.filter(project=project)
        .select_related("item__transcript")
        .order_by("-created_at")[:SHOWN_QUESTIONS]
    ]
    ctx = {
        "project": project,
        "form": form,
        "questions": questions,
        "rows": accuracy_table(project),
        "error": error,
    }
    return render(request, "annotate/manager/quality.html", ctx)
