"""Pages every member sees: the project list and a project's overview."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotate.access import access_project
from annotate.http import AuthenticatedHtmxRequest
from annotate.models import Job, JobKind, Membership, Role


@require_GET
@login_required
def home(request: AuthenticatedHtmxRequest) -> HttpResponse:
    memberships = (
        Membership.objects.active()
        .filter(user=request.user)
        .select_related("project__label_set_version__label_set")
        .order_by("project__name")
    )
    return render(request, "annotate/home.html", {"memberships": memberships})


@require_GET
@login_required
def project_detail(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    membership = access_project(request.user, project_id)
    is_manager = membership.has_role(Role.MANAGER)
    imports = Job.objects.for_project(membership.project).filter(kind=JobKind.IMPORT)
    ctx = {
        "membership": membership,
        "project": membership.project,
        "is_manager": is_manager,
        "is_reviewer": membership.has_role(Role.REVIEWER),
        # Imports only: agreement jobs show on the agreement page.
        "jobs": imports[:10] if is_manager else [],
    }
    return render(request, "annotate/project.html", ctx)


@require_GET
@login_required
def label_set(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    """The project's label set and guidelines, for everyone in the project."""
    membership = access_project(request.user, project_id)
    project = membership.project
    ctx = {"project": project, "schema": project.label_set_version.schema}
    return render(request, "annotate/labelset.html", ctx)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for the load balancer and compose: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
