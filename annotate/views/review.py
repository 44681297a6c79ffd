"""Reviewer pages: browse the project's transcripts."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotate.access import access_project
from annotate.http import AuthenticatedHtmxRequest
from annotate.models import Role, Transcript

PAGE = 50


@require_GET
@login_required
def transcript_list(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    project = access_project(request.user, project_id, role=Role.REVIEWER).project
    # Keyset pagination: no COUNT over the table, flat cost on any page.
    after = int(request.GET["after"]) if request.GET.get("after", "").isdigit() else 0
    page = list(
        Transcript.objects.filter(project=project, pk__gt=after)
        .select_related("item")
        .order_by("pk")[: PAGE + 1]
    )
    ctx = {
        "project": project,
        "transcripts": page[:PAGE],
        "next_after": page[PAGE - 1].pk if len(page) > PAGE else None,
    }
    return render(request, "annotate/review/transcripts.html", ctx)


@require_GET
@login_required
def transcript_detail(
    request: AuthenticatedHtmxRequest, project_id: int, transcript_id: int
) -> HttpResponse:
    project = access_project(request.user, project_id, role=Role.REVIEWER).project
    transcript = Transcript.objects.filter(project=project, pk=transcript_id).first()
    if transcript is None:
        raise Http404("No such transcript in this project.")
    ctx = {"project": project, "transcript": transcript}
    return render(request, "annotate/review/transcript.html", ctx)
