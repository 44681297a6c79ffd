"""The annotator's labelling loop: claim, label, submit, skip, correct; and
their own labels."""

from __future__ import annotations

import copy
import uuid
from datetime import datetime
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import retarget

from annotate.access import access_annotation, access_assignment, access_project
from annotate.forms import LabelSearchForm, add_service_errors
from annotate.http import AuthenticatedHtmxRequest
from annotate.inputs import query_number
from annotate.models import Annotation, Assignment, Membership, SkipKind
from annotate.queries import annotations_of, progress_for
from annotate.services.care import flagged_pause_until, window_words
from annotate.services.quality import claim_blocked
from annotate.services.queue import (
    EDIT_WINDOW,
    annotation_editable,
    annotation_submit,
    annotation_update,
    assignment_skip,
    item_claim_next,
)
from labelsets.forms import label_form_for

PAGE = 50


class SubmitMeta(forms.Form):
    """What a submit carries besides the labels."""

    client_uuid = forms.UUIDField(required=False)
    seconds = forms.FloatField(required=False, min_value=0)


class SkipInput(forms.Form):
    reason = forms.CharField(required=False, max_length=500, strip=True)
    kind = forms.TypedChoiceField(
        choices=SkipKind.choices,
        coerce=SkipKind,
        required=False,
        empty_value=SkipKind.OTHER,
    )


SKIPPED = {
    SkipKind.OTHER: "Skipped.",
    SkipKind.FLAG: "Skipped and flagged: the next annotators get a content warning, "
    "and a manager will review it. This does not count as a skip.",
    SkipKind.WELLBEING: "Skipped for your wellbeing. This never counts as a skip.",
}


@require_GET
@login_required
def queue(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    membership = access_project(request.user, project_id)
    now = timezone.now()
    # ?reveal=<item>: the transcript shown at once, without JavaScript.
    revealed = query_number(request.GET, "reveal")
    # ?reopen=1: my latest label; ?correct=<id>: that one (from my labels page).
    correct = query_number(request.GET, "correct")
    if request.GET.get("reopen") or correct is not None:
        editing = annotation_editable(
            membership=membership, now=now, annotation_id=correct
        )
        if editing is not None:
            form = label_form_for(editing.label_set_version)(initial=editing.values)
            return _item_panel(
                request,
                membership,
                None,
                now=now,
                form=form,
                editing=editing,
                revealed=revealed,
            )
        message = (
            "That label can no longer be changed: corrections are open for an hour."
            if correct is not None
            else "Nothing to reopen: your last label is older than an hour, or there is none."
        )
        return _next_item(request, membership, now=now, message=message)
    if request.GET.get("pause") and flagged_pause_until(membership=membership, now=now):
        return _item_panel(request, membership, None, now=now, care_break=True)
    return _next_item(request, membership, now=now, revealed=revealed)


@require_GET
@login_required
def my_labels(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    """My labels in the project, newest first and searchable, each with a
    link to correct it while the correction window is open; my counts."""
    membership = access_project(request.user, project_id)
    project, now = membership.project, timezone.now()
    form = LabelSearchForm(request.GET)
    search = form.cleaned_data["q"] if form.is_valid() else ""
    page = annotations_of(
        project=project,
        user_id=request.user.pk,
        search=search,
        before=query_number(request.GET, "before"),
        limit=PAGE + 1,
    )
    fields = project.label_set_version.schema.fields
    ctx = {
        "project": project,
        "membership": membership,
        "today": membership.today_count if membership.today == now.date() else 0,
        "form": form,
        "search": search,
        "fields": fields,
        "rows": [
            (
                a,
                [f.shown(a.values.get(f.name)) for f in fields],
                a.created_at > now - EDIT_WINDOW,
            )
            for a in page[:PAGE]
        ],
        "next_before": page[PAGE - 1].pk if len(page) > PAGE else None,
    }
    return render(request, "annotate/annotator/labels.html", ctx)


@require_POST
@login_required
def submit(request: AuthenticatedHtmxRequest, assignment_id: int) -> HttpResponse:
    assignment, membership = access_assignment(request.user, assignment_id)
    now = timezone.now()
    form = label_form_for(membership.project.label_set_version)(request.POST)
    meta = SubmitMeta(request.POST)
    if form.is_valid() and meta.is_valid():
        # Without JavaScript there is no client timer: count from the claim.
        seconds = meta.cleaned_data["seconds"]
        if seconds is None:
            seconds = (now - assignment.claimed_at).total_seconds()
        paused = flagged_pause_until(membership=membership, now=now)
        try:
            annotation_submit(
                assignment=assignment,
                values=form.cleaned_data,
                client_uuid=meta.cleaned_data["client_uuid"] or uuid.uuid4(),
                seconds=seconds,
                now=now,
                membership=membership,
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            if paused is None and flagged_pause_until(membership=membership, now=now):
                return _care_break(request, membership, now=now)
            return _next_item(request, membership, now=now)
    return _item_panel(request, membership, assignment, now=now, form=form)


@require_POST
@login_required
def skip(request: AuthenticatedHtmxRequest, assignment_id: int) -> HttpResponse:
    assignment, membership = access_assignment(request.user, assignment_id)
    now = timezone.now()
    form = SkipInput(request.POST)
    if not form.is_valid():
        message = "Not skipped: choose why from the list, and keep the reason to 500 characters."
        return _next_item(request, membership, now=now, message=message)
    kind = form.cleaned_data["kind"]
    try:
        assignment_skip(
            assignment=assignment,
            reason=form.cleaned_data["reason"],
            kind=kind,
            now=now,
        )
    except ValidationError as e:
        return _next_item(request, membership, now=now, message=" ".join(e.messages))
    return _next_item(request, membership, now=now, message=SKIPPED[kind])


@require_POST
@login_required
def edit(request: AuthenticatedHtmxRequest, annotation_id: int) -> HttpResponse:
    annotation, membership = access_annotation(request.user, annotation_id)
    now = timezone.now()
    form = label_form_for(annotation.label_set_version)(request.POST)
    if form.is_valid():
        try:
            annotation_update(annotation=annotation, values=form.cleaned_data, now=now)
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            return _next_item(request, membership, now=now, message="Correction saved.")
    return _item_panel(
        request, membership, None, now=now, form=form, editing=annotation
    )


def _next_item(
    request: AuthenticatedHtmxRequest,
    membership: Membership,
    *,
    now: datetime,
    message: str = "",
    revealed: int | None = None,
) -> HttpResponse:
    if request.method == "POST" and not request.htmx:
        return redirect(
            "annotate:queue", project_id=membership.project_id
        )  # no-JS: PRG
    assignment = item_claim_next(membership=membership, now=now)
    if assignment is None and not message:
        # Read afresh: the submit just before may have paused them or settled
        # their qualification (one query, only when the queue gives nothing).
        fresh = Membership.objects.get(pk=membership.pk)
        fresh.project = membership.project
        message = claim_blocked(membership=fresh, now=now)
    return _item_panel(
        request, membership, assignment, now=now, message=message, revealed=revealed
    )


def _care_break(
    request: AuthenticatedHtmxRequest, membership: Membership, *, now: datetime
) -> HttpResponse:
    """The submit that reached the project's cap on flagged items: a break
    offered instead of the next item, which is one click or Enter away."""
    if not request.htmx:
        url = reverse("annotate:queue", kwargs={"project_id": membership.project_id})
        return redirect(f"{url}?pause=1")  # no-JS: PRG, to the same offer
    return _item_panel(request, membership, None, now=now, care_break=True)


def _item_panel(
    request: AuthenticatedHtmxRequest,
    membership: Membership,
    assignment: Assignment | None,
    *,
    now: datetime,
    form: forms.Form | None = None,
    editing: Annotation | None = None,
    message: str = "",
    revealed: int | None = None,
    care_break: bool = False,
) -> HttpResponse:
    project = membership.project
    if assignment is not None and "item" not in assignment._state.fields_cache:
        assignment = Assignment.objects.select_related("item__transcript").get(
            pk=assignment.pk
        )
    form = form or label_form_for(project.label_set_version)()
    if assignment is not None and assignment.prelabels:
        _mark_prelabels(form, assignment.prelabels)
    shown = editing.item if editing else assignment.item if assignment else None
    ctx = {
        "project": project,
        "assignment": assignment,
        "editing": editing,
        "transcript": editing.item.transcript if editing else None,
        "form": form,
        "client_uuid": uuid.uuid4(),
        "progress": progress_for(membership=membership, now=now),
        "message": message,
        # Annotator care: a flagged transcript is blurred until revealed; past
        # the cap, the queue holds flagged items back until paused_until.
        "veiled": shown is not None and shown.distressing and shown.pk != revealed,
        "paused_until": flagged_pause_until(membership=membership, now=now),
        "care_window": window_words(project.flagged_window),
        "care_break": care_break,
    }
    if request.htmx:
        response = render(request, "annotate/annotator/queue.html#item-panel", ctx)
        return retarget(response, "#item-panel")
    return render(request, "annotate/annotator/queue.html", ctx)


def _mark_prelabels(form: forms.Form, prelabels: dict[str, Any]) -> None:
    """Put the model's suggestion on each target field of the form, as the
    option's label and a percentage, for the template to mark (never to
    choose: the annotator still picks)."""
    for name, suggestion in prelabels.items():
        field = form.fields.get(name)
        if field is None or not isinstance(suggestion, dict):
            continue
        options = {o.value: o.label for o in field.schema_field.options}  # type: ignore[attr-defined]
        value = suggestion.get("value")
        if value in options:
            # This form's own copy: the form class's fields are shared.
            form.fields[name] = field = copy.copy(field)
            field.prelabel = {  # type: ignore[attr-defined]
                "value": value,
                "label": options[value],
                "percent": round(100 * float(suggestion.get("p", 0))),
            }
