"""The API's one error body: {"detail": "...", "errors": {field: [messages]}}."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Turn every expected error into {"detail", "errors"}; services' ValidationErrors become 400."""
    if isinstance(exc, DjangoValidationError):
        errors = (
            exc.message_dict
            if hasattr(exc, "error_dict")
            else {"non_field_errors": exc.messages}
        )
        return Response({"detail": "Invalid input.", "errors": errors}, status=400)
    if isinstance(exc, BadRequest):
        return Response(
            {"detail": str(exc) or "Bad request.", "errors": {}}, status=400
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": "Invalid input.",
            "errors": flat_errors(response.data),
        }
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": response.data["detail"], "errors": {}}
    return response


def flat_errors(data: Any, path: str = "") -> dict[str, list[str]]:
    """DRF's nested errors (a list's items, a nested serializer's fields) as
    the documented {key path: [messages]}: `to_annotators[0]`, `a.b`; a
    nested non_field_errors is its parent's."""
    if isinstance(data, dict):
        out: dict[str, list[str]] = {}
        for key, value in data.items():
            inner = path if key == "non_field_errors" and path else _join(path, key)
            for k, messages in flat_errors(value, inner).items():
                out.setdefault(k, []).extend(messages)
        return out
    if isinstance(data, list) and any(isinstance(v, dict | list) for v in data):
        out = {}
        for i, value in enumerate(data):
            if value:  # DRF gives {} for a list item without errors
                out.update(flat_errors(value, f"{path}[{i}]"))
        return out
    messages = data if isinstance(data, list) else [data]
    return {path or "non_field_errors": [str(m) for m in messages]}


def _join(path: str, key: object) -> str:
    if isinstance(key, int) or (isinstance(key, str) and key.isdecimal()):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def error_body(detail: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": detail, "errors": {}}, status=status)


# The URL conf's handlers: errors that never reach DRF's exception_handler
# (no route matched, the request refused before or while it was parsed, a
# crash) answer the API's error body under /api/, since a pipeline must not
# get an HTML page; elsewhere Django's pages.


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: a URL that matches no route (a mistyped path, a non-numeric id)."""
    if is_api(request):
        return error_body("Not found.", 404)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: a BadRequest (a query parameter that is not a number) or
    Django's SuspiciousOperations, raised while the request is read; a body
    over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413, saying the limit."""
    if not is_api(request):
        if isinstance(exception, BadRequest):
            # Ours (a query parameter that is not a number): say what was wrong.
            message = str(exception) or "Bad request."
            return render(request, "400.html", {"message": message}, status=400)
        return defaults.bad_request(request, exception)
    if isinstance(exception, BadRequest):
        return error_body(str(exception) or "Bad request.", 400)
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return error_body(
            f"The request body is too large: at most {limit} bytes, besides files.",
            413,
        )
    if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        return error_body(str(exception), 400)
    return error_body("Bad request.", 400)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the crash is logged by Django; the caller gets no details."""
    if is_api(request):
        return error_body("Server error.", 500)
    return defaults.server_error(request)


def uri_too_long(request: HttpRequest) -> HttpResponse:
    """414 for a path and query string over settings.MAX_URI_LENGTH."""
    detail = f"The URI is too long: at most {settings.MAX_URI_LENGTH} characters."
    if is_api(request):
        return error_body(detail, 414)
    return HttpResponse(detail, status=414, content_type="text/plain")


# Long enough for PostgreSQL to restart or fail over, short enough that a
# pipeline honouring it does not idle.
RETRY_AFTER_SECONDS = 5


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After while the database cannot be reached: the API's
    error body under /api/, elsewhere a page (htmx does not swap it, so the
    labelling form stays as it is and label.js says what happened).

    The page is rendered without the database: `user` and `messages` would
    read the session from it, so both are given here rather than loaded.
    """
    logger.warning("database unavailable: %s %s", request.method, request.path)
    detail = "The database is unavailable for a moment; try again in a few seconds."
    if is_api(request):
        response: HttpResponse = error_body(detail, 503)
    else:
        ctx = {"message": detail, "user": AnonymousUser(), "messages": ()}
        response = render(request, "503.html", ctx, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
