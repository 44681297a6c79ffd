"""The OpenAPI schema and its two docs pages (Swagger UI, ReDoc)."""

from __future__ import annotations

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


class RedocDocs(JsonErrors, SpectacularRedocView):
    http_method_names = ["get", "head"]
