"""The manager's members page: who is in the project, adding people, roles,
deactivation, and revoking a member's API tokens.

Every action answers htmx with the members panel, and a plain POST with a
redirect back to the page (PRG), except where a new user's one-time password
or invitation link is shown: that answer is the page itself, never cached,
so the secret is stored nowhere (not in the session, nor in a cookie).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from annotate.access import access_member, access_project
from annotate.forms import MemberAddForm, MemberRoleForm, add_service_errors
from annotate.http import AuthenticatedHtmxRequest
from annotate.models import Membership, Role
from annotate.services.members import (
    Credentials,
    NewMember,
    membership_add,
    membership_deactivate,
    membership_reactivate,
    membership_role_set,
)
from annotate.services.tokens import api_tokens_revoke

TEMPLATE = "annotate/manager/members.html"


@require_http_methods(["GET", "POST"])
@login_required
def members(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    """The members; POST adds one."""
    manager = access_project(request.user, project_id, role=Role.MANAGER)
    form = MemberAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            added = membership_add(
                project=manager.project,
                role=Role(form.cleaned_data["role"]),
                credentials=Credentials(form.cleaned_data["credentials"]),
                actor=request.user,
                now=timezone.now(),
                **form.lookup(),
            )
        except ValidationError as e:
            add_service_errors(form, e, fields=MemberAddForm.SERVICE_FIELDS)
        else:
            if added.created_user:
                return _secret_page(request, manager, added)
            return _done(request, manager, f"{_added(added)}.")
    return _page(request, manager, form=form)


@require_POST
@login_required
def member_role(
    request: AuthenticatedHtmxRequest, project_id: int, user_id: int
) -> HttpResponse:
    manager, member = access_member(request.user, project_id, user_id)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        return _page(
            request,
            manager,
            row_errors=(user_id, [str(e) for e in form.errors["role"]]),
        )
    role = Role(form.cleaned_data["role"])
    try:
        membership_role_set(
            membership=member, role=role, actor=request.user, now=timezone.now()
        )
    except ValidationError as e:
        return _page(request, manager, row_errors=(user_id, e.messages))
    if user_id == request.user.pk and role != Role.MANAGER:
        return _leave(request, reverse("annotate:project", args=[project_id]))
    return _done(request, manager, f"{member.user} is now {role.label}.")


@require_POST
@login_required
def member_deactivate(
    request: AuthenticatedHtmxRequest, project_id: int, user_id: int
) -> HttpResponse:
    manager, member = access_member(request.user, project_id, user_id)
    try:
        _, released = membership_deactivate(
            membership=member, actor=request.user, now=timezone.now()
        )
    except ValidationError as e:
        return _page(request, manager, row_errors=(user_id, e.messages))
    if user_id == request.user.pk:
        return _leave(request, reverse("annotate:home"))
    claims = f"; {released} claimed item went back to the queue" if released else ""
    return _done(request, manager, f"{member.user} is deactivated{claims}.")


@require_POST
@login_required
def member_reactivate(
    request: AuthenticatedHtmxRequest, project_id: int, user_id: int
) -> HttpResponse:
    manager, member = access_member(request.user, project_id, user_id)
    membership_reactivate(membership=member, actor=request.user, now=timezone.now())
    return _done(request, manager, f"{member.user} is active again.")


@require_POST
@login_required
def member_tokens_revoke(
    request: AuthenticatedHtmxRequest, project_id: int, user_id: int
) -> HttpResponse:
    manager, member = access_member(request.user, project_id, user_id)
    n = api_tokens_revoke(user=member.user, by=request.user, now=timezone.now())
    tokens = "API token" if n == 1 else "API tokens"
    return _done(request, manager, f"Revoked {n} {tokens} of {member.user}.")


def _added(added: NewMember) -> str:
    m = added.membership
    return f"{m.user} is added as {Role(m.role).label}"


def _page(
    request: AuthenticatedHtmxRequest,
    manager: Membership,
    *,
    form: MemberAddForm | None = None,
    notice: str = "",
    added: NewMember | None = None,
    row_errors: tuple[int, list[str]] | None = None,
) -> HttpResponse:
    """The page, or its panel for htmx; errors re-render with status 200
    (htmx swaps no 4xx)."""
    project = manager.project
    ctx = {
        "project": project,
        "me": request.user,
        "members": Membership.objects.filter(project=project)
        .with_activity(timezone.now().date())
        .order_by("-is_active", "user__username"),
        "roles": Role.choices,
        "form": form or MemberAddForm(),
        "notice": notice,
        "added": added,
        "invitation_url": request.build_absolute_uri(added.invitation_path)
        if added and added.invitation_path
        else "",
        "login_url": request.build_absolute_uri("/login/"),
        # An action's errors show in the member's row.
        "error_user": row_errors[0] if row_errors else None,
        "row_errors": row_errors[1] if row_errors else [],
        "invitation_days": settings.PASSWORD_RESET_TIMEOUT // 86400,
    }
    return render(
        request, f"{TEMPLATE}#members-panel" if request.htmx else TEMPLATE, ctx
    )


def _secret_page(
    request: AuthenticatedHtmxRequest, manager: Membership, added: NewMember
) -> HttpResponse:
    response = _page(request, manager, notice=f"{_added(added)}.", added=added)
    add_never_cache_headers(response)
    return response


def _done(
    request: AuthenticatedHtmxRequest, manager: Membership, notice: str
) -> HttpResponse:
    if request.htmx:
        return _page(request, manager, notice=notice)
    messages.success(request, notice)
    return redirect("annotate:members", project_id=manager.project_id)  # PRG


def _leave(request: AuthenticatedHtmxRequest, url: str) -> HttpResponse:
    """Off the page a manager no longer manages (they demoted or retired
    themselves)."""
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)
