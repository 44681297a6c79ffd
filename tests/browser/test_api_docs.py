"""The API docs (Swagger UI at /api/docs/, ReDoc at /api/docs/redoc/) in a
real browser, under the app's CSP: the operations render, served from the
app alone, and no violation is reported."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# ReDoc's sidebar always shows its maker's logo from their CDN (hard-coded in
# the bundle, hidden again when it fails to load): the CSP blocks it, and
# that is the one violation either page may report.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def watch(page: Page, origin: str) -> list[str]:
    """What went wrong: console errors and warnings (CSP violations land
    there; a failed load is checked by its response instead), failed
    responses, and any request that left the app."""
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type in ("error", "warning")
            and "Failed to load resource" not in m.text
            and f"Loading the image '{REDOC_LOGO}'" not in m.text
            else None
        ),
    )
    page.on(
        "request",
        lambda r: (
            problems.append(f"external {r.url}")
            if not r.url.startswith((origin, "data:", "blob:")) and r.url != REDOC_LOGO
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    return problems


def test_swagger_ui_renders_the_operations_under_the_csp(page: Page, live_server):
    problems = watch(page, live_server.url)

    page.goto(f"{live_server.url}/api/docs/")

    expect(
        page.get_by_text("/api/projects/{project_id}/agreement/").first
    ).to_be_visible()
    expect(
        page.get_by_text("The projects the caller is a member of").first
    ).to_be_visible()
    assert problems == []


def test_redoc_renders_the_operations_under_the_csp(page: Page, live_server):
    problems = watch(page, live_server.url)

    page.goto(f"{live_server.url}/api/docs/redoc/")

    expect(
        page.get_by_role(
            "heading", name="The projects the caller is a member of, with their role"
        )
    ).to_be_visible()
    assert problems == []
