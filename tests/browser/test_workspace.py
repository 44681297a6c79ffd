"""The managers' workspace in a real browser: upload a label set, try its form
with the keyboard, save it, create a project with it, land on the project."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from annotate.models import Membership, Project
from labelsets.models import LabelSetVersion

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

TINY = """\
name: tiny
description: Is the answer a refusal?
fields:
  - name: refused
    kind: single
    label: Refused
    key: true
    options:
      - {value: "yes", label: "Yes, refused", hotkey: "y"}
      - {value: "no", label: "No, answered", hotkey: "n"}
  - name: tone
    kind: single
    label: Tone
    options:
      - {value: kind, label: Kind}
      - {value: curt, label: Curt}
rules:
  - when: {refused: {in: ["no"]}}
    require: {tone: {in: [kind]}}
"""

CURRENT = re.compile(r"\bis-current\b")


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw-for-tests")
    page.get_by_role("button", name="Log in").click()


def test_a_manager_creates_a_project_from_an_uploaded_label_set(
    page: Page, live_server, project, manager, tmp_path
):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            problems.append(message.text)

    page.on("console", on_console)
    log_in(page, live_server.url, "mona")

    # Upload: the preview shows the real form, nothing saved yet.
    page.get_by_role("link", name="Label sets").click()
    page.get_by_role("link", name="Upload a label set").click()
    page.get_by_label("Label set file").set_input_files(str(path))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview: tiny v1")).to_be_visible()
    assert not LabelSetVersion.objects.filter(label_set__name="tiny").exists()

    # The hotkeys work as when labelling; Enter checks the labels against the rules.
    expect(page.locator("#field-refused")).to_have_class(CURRENT)
    page.keyboard.press("n")
    expect(page.locator("#field-tone")).to_have_class(CURRENT)
    page.keyboard.press("2")  # Curt: the rule wants Kind after "No, answered"
    page.keyboard.press("Enter")
    expect(page.locator("#item-panel")).to_contain_text(
        "Refused “No, answered” allows only Tone “Kind”."
    )
    expect(page.locator("#field-tone")).to_have_class(CURRENT)
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.locator("#check-result")).to_contain_text("pass every check")

    # Save, then start a project with the version saved.
    page.get_by_role("button", name="Save tiny v1").click()
    expect(page.get_by_role("status")).to_contain_text("Saved tiny v1.")
    page.get_by_role("link", name="New project with v1").click()
    expect(page.get_by_label("Label set")).to_have_value(
        str(LabelSetVersion.objects.get(label_set__name="tiny").pk)
    )
    page.get_by_label("Name").fill("Refusals, tiny")
    page.get_by_label("Labels per item").fill("2")
    page.get_by_label("Guidelines").fill(
        "Read **every** turn. <script>alert(1)</script>"
    )
    # The live preview, rendered by the server's sanitising filter.
    preview = page.locator("#guidelines-preview")
    expect(preview.locator("strong")).to_have_text("every")
    expect(preview).to_contain_text("<script>alert(1)</script>")
    page.get_by_role("button", name="Create project").click()

    expect(page.get_by_role("heading", name="Refusals, tiny")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Created Refusals, tiny.")
    expect(page.locator("dl.stats")).to_contain_text("tiny v1")
    created = Project.objects.get(name="Refusals, tiny")
    assert created.overlap == 2
    assert Membership.objects.get(project=created, user=manager).role == "manager"
    assert problems == []
