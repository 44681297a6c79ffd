"""The OpenAPI schema and its two docs pages (Swagger UI, ReDoc)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, cast

from django.conf import settings
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response


class JsonErrors:
    """Errors as the API's JSON body: these views render YAML or HTML, and a
    405 would otherwise come in the schema's own format."""

    def handle_exception(self, exc: Exception) -> Response:
        response: Response = super().handle_exception(exc)  # type: ignore[misc]
        request = self.request  # type: ignore[attr-defined]
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
        return response


class SchemaApi(JsonErrors, SpectacularAPIView):
    http_method_names = ["get", "head"]


class SwaggerDocs(JsonErrors, SpectacularSwaggerSplitView):
    http_method_names = ["get", "head"]


# ReDoc styles itself by injecting <style> elements at run time
# (styled-components) and parses in a worker started from a blob: this page
# alone allows inline styles and blob workers; scripts stay the app's own.
REDOC_CSP: dict[str, Collection[str] | str] = {
    **cast("dict[str, Collection[str] | str]", settings.SECURE_CSP),
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "worker-src": [CSP.SELF, "blob:"],
}


class RedocDocs(JsonErrors, SpectacularRedocView):
    http_method_names = ["get", "head"]

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        return csp_override(REDOC_CSP)(super().as_view(**initkwargs))
