"""Server-Timing on every response: the server's own time, for the benchmarks
and the browser's network panel, without client or network noise; the
API's URL rules: a length limit and no slash redirect for writes; and a 503,
not a 500, while the database is down."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.middleware import common

from annotate.api.errors import database_unavailable, is_api, uri_too_long


class ServerTimingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = self.get_response(request)
        response["Server-Timing"] = (
            f"app;dur={(time.perf_counter() - start) * 1000:.2f}"
        )
        return response


class UriLengthMiddleware:
    """A 414 for a path and query string over settings.MAX_URI_LENGTH
    (gunicorn lets longer ones through: its limit_request_line is set above it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        uri = len(request.path_info) + len(request.META.get("QUERY_STRING", ""))
        if uri > settings.MAX_URI_LENGTH:
            return uri_too_long(request)
        return self.get_response(request)


class CommonMiddleware(common.CommonMiddleware):
    """Django's, with the API's rule for a missing trailing slash."""

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        # APPEND_SLASH's redirect would turn an API write into a GET without
        # its body (and in DEBUG Django raises RuntimeError instead): under
        # /api/ only reads are redirected, a write gets the JSON 404.
        if is_api(request) and request.method not in {"GET", "HEAD"}:
            return False
        return bool(super().should_redirect_with_slash(request))


class DatabaseUnavailableMiddleware:
    """A 503 with Retry-After when a view cannot reach the database.

    PostgreSQL restarting or failing over: the connect is refused
    (OperationalError), or a kept connection is cut mid-request
    (OperationalError, or InterfaceError once it is closed). The view's
    transaction is rolled back, so nothing is half-stored, and Django drops
    the broken connection at the request's end; the client may retry (a
    submit is idempotent by client_uuid).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if isinstance(exception, OperationalError | InterfaceError):
            return database_unavailable(request)
        return None
