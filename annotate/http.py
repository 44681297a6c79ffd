"""The typed request that views receive."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class AuthenticatedHtmxRequest(HttpRequest):
    user: User
    htmx: HtmxDetails
