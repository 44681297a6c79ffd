"""The agreement page in a real browser: compute, see the charts, no script
from the data, nothing blocked by the CSP; and the README's screenshot."""

from __future__ import annotations

import os
import random
import uuid
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Dialog, Page, expect

from annotate.models import Annotation, Project
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "agreement.png"
REFUSALS = ["none", "policy", "capability", "scope", "conditional"]


def labelled_project(items: int = 80) -> Project:
    """Three annotators who mostly agree; the third is careless."""
    project = ProjectFactory(name="XSTest eval <b>v2</b>", overlap=3)
    coders = [UserFactory(username=n) for n in ("ana", "ben", "cleo")]
    for coder in coders:
        MembershipFactory(user=coder, project=project)
    reviewer = UserFactory(username="rita")
    MembershipFactory(user=reviewer, project=project, role="reviewer")
    rng = random.Random(4)  # noqa: S311 - test data, not a secret
    now = timezone.now()
    rows = []
    for _ in range(items):
        item = ItemFactory(project=project, slots_left=0)
        true = rng.choice(REFUSALS)
        quality = rng.randint(2, 4)  # the response's true quality
        for c, coder in enumerate(coders):
            careful = rng.random() < (0.9 if c < 2 else 0.55)
            refusal = true if careful else rng.choice(REFUSALS)
            values: dict[str, object] = {
                "request_harm": "benign" if refusal == "none" else "harmful",
                "refusal_type": refusal,
                "appropriateness": "appropriate_compliance"
                if refusal == "none"
                else "appropriate_refusal",
                "failure_modes": [],
            }
            if refusal != "none":
                for k, name in enumerate(
                    ("acknowledge", "explain", "redirect", "respect")
                ):
                    off = 0 if careful else rng.choice((-1, 1))
                    values[name] = min(5, max(1, quality + (k % 2) + off))
            rows.append(
                Annotation(
                    item=item,
                    annotator=coder,
                    label_set_version=project.label_set_version,
                    values=values,
                    client_uuid=uuid.uuid4(),
                    created_at=now,
                    updated_at=now,
                )
            )
    Annotation.objects.bulk_create(rows)
    Project.objects.filter(pk=project.pk).update(
        annotations_total=len(rows), items_total=items, items_complete=items
    )
    return project


def test_a_reviewer_computes_agreement_and_reads_the_charts(
    page: Page, live_server, tmp_path
):
    project = labelled_project()
    problems: list[str] = []
    # CSP violations and script errors land in the console; failed loads are
    # checked by their responses (Chromium asks for /favicon.ico regardless).
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type in ("error", "warning")
            and "Failed to load resource" not in m.text
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

    def on_dialog(dialog: Dialog) -> None:
        problems.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)

    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill("pw-for-tests")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.get_by_role("link", name="Agreement").click()
    expect(page.locator("#agreement-status")).to_contain_text("Not computed yet")
    url_before = page.url

    page.get_by_role("button", name="Compute").click()

    status = page.locator("#agreement-status")
    expect(status).to_contain_text("Up to date.")
    assert page.url == url_before  # swapped in place, no page load
    expect(page.get_by_role("img", name="Alpha per field")).to_be_visible()
    expect(status.locator("svg")).to_have_count(1 + 1 + 3 + 1)
    expect(page.get_by_role("row", name="cleo")).to_contain_text("drags alpha down")
    expect(page.locator("h1")).to_have_text("Agreement")
    assert "<b>" in page.title()  # the project's name shown as text, not markup
    assert problems == []

    target = (
        SCREENSHOT
        if os.environ.get("SCREENSHOTS") == "1"
        else tmp_path / "agreement.png"
    )
    target.parent.mkdir(exist_ok=True)
    # The top of the page: filters, the state line and the alpha chart.
    page.screenshot(
        path=str(target),
        full_page=True,
        clip={"x": 0, "y": 0, "width": 1280, "height": 1450},
    )
    assert target.stat().st_size > 10_000
