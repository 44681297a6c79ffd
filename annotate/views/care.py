"""Annotator care for managers: an item's content warning set or cleared on
its transcript page, and the annotators' flags waiting for review."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from annotate.access import access_project
from annotate.forms import ItemFlagForm, add_service_errors
from annotate.http import AuthenticatedHtmxRequest
from annotate.models import Item, Membership, Role, Transcript
from annotate.queries import flags_to_review, item_flags
from annotate.services.care import item_flag_set

REVIEW_PAGE = 100


@require_POST
@login_required
def transcript_flag(
    request: AuthenticatedHtmxRequest, project_id: int, transcript_id: int
) -> HttpResponse:
    membership = access_project(request.user, project_id, role=Role.MANAGER)
    item = Item.objects.filter(project=membership.project, pk=transcript_id).first()
    if item is None:
        raise Http404("No such transcript in this project.")
    form = ItemFlagForm(request.POST)
    if form.is_valid():
        try:
            item = item_flag_set(
                item=item,
                flagged=form.cleaned_data["flagged"],
                note=form.cleaned_data["note"],
                by=request.user,
                now=timezone.now(),
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            if not request.htmx:  # no-JS: PRG back to the transcript
                return redirect("annotate:transcript", project_id, transcript_id)
    ctx = flag_context(membership, item.transcript, form=form)
    return render(request, "annotate/review/transcript.html#flag", ctx)


@require_GET
@login_required
def flags(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    """The annotators' flags waiting for a manager's review, oldest first."""
    project = access_project(request.user, project_id, role=Role.MANAGER).project
    pending = flags_to_review(project, limit=REVIEW_PAGE + 1)
    ctx = {
        "project": project,
        "flags": pending[:REVIEW_PAGE],
        "more": len(pending) > REVIEW_PAGE,
    }
    return render(request, "annotate/manager/flags.html", ctx)


def flag_context(
    membership: Membership, transcript: Transcript, *, form: ItemFlagForm | None = None
) -> dict[str, object]:
    """What the transcript page's content warning section shows: the item's
    flag, its records, and a manager's form."""
    return {
        "project": membership.project,
        "transcript": transcript,
        "flag_records": item_flags(transcript.pk),
        "is_manager": membership.has_role(Role.MANAGER),
        "flag_form": form,
    }
