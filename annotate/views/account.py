"""Everyone's own pages: the profile, with API tokens, and the password.

A new token's key is shown in the answer to the POST that made it, never
cached, and stored nowhere else (not in the session, nor in a cookie): a
redirect would have to keep it somewhere to show it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.messages.views import SuccessMessageMixin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from annotate.access import access_api_token
from annotate.forms import ApiTokenForm, add_service_errors
from annotate.http import AuthenticatedHtmxRequest
from annotate.models import ApiToken, Membership
from annotate.services.tokens import (
    TOKEN_USE_EVERY,
    api_token_create,
    api_token_revoke,
)

TEMPLATE = "annotate/account/profile.html"


@require_GET
@login_required
def profile(request: AuthenticatedHtmxRequest) -> HttpResponse:
    return _page(request, form=ApiTokenForm())


@require_POST
@login_required
def token_create(request: AuthenticatedHtmxRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST)
    if form.is_valid():
        try:
            token, key = api_token_create(
                user=request.user, name=form.cleaned_data["name"], now=timezone.now()
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            response = _page(request, form=ApiTokenForm(), created=token, key=key)
            add_never_cache_headers(response)
            return response
    return _page(request, form=form)


@require_POST
@login_required
def token_revoke(request: AuthenticatedHtmxRequest, token_id: int) -> HttpResponse:
    token = access_api_token(request.user, token_id)  # 404 unless it is theirs
    api_token_revoke(token=token, by=request.user, now=timezone.now())
    notice = f"Revoked the token {token.name!r}: its key no longer works."
    if request.htmx:
        return _page(request, form=ApiTokenForm(), notice=notice)
    messages.success(request, notice)
    return redirect("annotate:profile")  # PRG


def _page(
    request: AuthenticatedHtmxRequest,
    *,
    form: ApiTokenForm,
    created: ApiToken | None = None,
    key: str = "",
    notice: str = "",
) -> HttpResponse:
    """The profile, or its tokens panel for htmx; an invalid form re-renders
    with status 200 (htmx swaps no 4xx)."""
    ctx = {
        "tokens": ApiToken.objects.filter(user=request.user)
        .select_related("revoked_by")
        .order_by("revoked_at", "-created_at"),
        "memberships": Membership.objects.active()
        .filter(user=request.user)
        .select_related("project")
        .order_by("project__name"),
        "form": form,
        "created": created,
        "key": key,
        "notice": notice,
        "use_minutes": int(TOKEN_USE_EVERY.total_seconds() // 60),
        "api_url": request.build_absolute_uri("/api/projects/"),
    }
    return render(
        request, f"{TEMPLATE}#tokens-panel" if request.htmx else TEMPLATE, ctx
    )


class PasswordChange(SuccessMessageMixin, auth_views.PasswordChangeView):  # type: ignore[type-arg]
    """Django's password change, saying so on the profile when done."""

    template_name = "annotate/account/password.html"
    success_url = reverse_lazy("annotate:profile")
    success_message = "Your password is changed."


def login_locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None,
    credentials: dict[str, Any] | None,
) -> HttpResponse:
    """django-axes' answer to a login from a locked-out username and address
    (settings.AXES_LOCKOUT_CALLABLE): the login page saying why and when to
    try again, with status 429. Each try while locked out restarts the wait,
    so the time counts from now."""
    cool_off = settings.AXES_COOLOFF_TIME
    ctx = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": int(cool_off.total_seconds() // 60),
        "try_again_at": timezone.now() + cool_off,
    }
    return render(request, "registration/locked_out.html", ctx, status=429)
