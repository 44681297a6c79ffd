"""The API's one error body: {"detail": "...", "errors": {field: [messages]}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import BadRequest, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.defaults import page_not_found
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


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
        data = response.data
        errors = data if isinstance(data, dict) else {"non_field_errors": data}
        response.data = {"detail": "Invalid input.", "errors": errors}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": response.data["detail"], "errors": {}}
    return response


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The URL conf's handler404. Under /api/, the API's error body: a URL
    that matches no route (a mistyped path, a non-numeric id) never reaches
    DRF's exception_handler, and a pipeline must not get an HTML page.
    Elsewhere, Django's page."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "errors": {}}, status=404)
    return page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The URL conf's handler400 (a BadRequest, such as a query parameter
    that is not a number): the API's error body under /api/, elsewhere a
    page saying what was wrong."""
    message = str(exception) or "Bad request."
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": message, "errors": {}}, status=400)
    return render(request, "400.html", {"message": message}, status=400)
