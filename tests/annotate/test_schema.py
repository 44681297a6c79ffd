"""The OpenAPI schema: valid, without a warning, and covering every route."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

# The schema and its docs pages are not operations of the API.
NOT_OPERATIONS = {"schema", "docs", "redoc"}


def api_routes() -> list[str]:
    """Every route under /api/ as an OpenAPI path, e.g. /api/jobs/{job_id}/."""
    api = next(
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and p.namespace == "api"
    )
    routes = []
    for pattern in api.url_patterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name in NOT_OPERATIONS:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        routes.append(f"/api/{path}")
    return routes


def schema(tmp_path) -> dict[str, Any]:
    out = tmp_path / "schema.yaml"
    # --fail-on-warn: an endpoint whose shapes drf-spectacular had to guess
    # (or left out) fails here, with the view named in the message.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    loaded: dict[str, Any] = yaml.safe_load(out.read_text())
    return loaded


def test_the_schema_is_valid_with_no_warnings_and_every_route_in_it(tmp_path):
    loaded = schema(tmp_path)
    paths, components = loaded["paths"], loaded["components"]["schemas"]
    routes = api_routes()
    assert routes
    missing = [r for r in routes if r not in paths]
    assert missing == []
    for route in routes:
        for method, operation in paths[route].items():
            where = f"{method.upper()} {route}"
            assert operation.get("summary"), f"{where} has no summary"
            # Every operation documents the error body beside its successes.
            codes = operation["responses"]
            assert "404" in codes, where
            error = codes["404"]["content"]["application/json"]["schema"]["$ref"]
            # The error body, or one that says more (a report's link to start it).
            properties = components[error.rsplit("/", 1)[-1]]["properties"]
            assert {"detail", "errors"} <= set(properties), where


def test_the_schema_is_served_to_anyone(client):
    r = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200
    assert r.json()["info"]["title"] == "refusal-annotate API"
