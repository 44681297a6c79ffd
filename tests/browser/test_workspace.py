"""The managers' workspace in a real browser, end to end: upload a label set,
try its form with the keyboard, save it, create a project with it, import a
file, add an annotator and assign them a batch, which the queue serves them
first, labelled by keyboard."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from annotate.models import Annotation, Membership, Project
from labelsets.models import LabelSetVersion
from tests.factories import UserFactory

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


def transcripts_file(path) -> list[str]:
    """Four transcripts: two plain refusals first in the file, then the two
    red-team ones the batch picks. Their ids."""
    rows = [
        {
            "id": f"{model}-{n}",
            "model": model,
            "prompt": f"Question {model} {n}",
            "response": answer,
        }
        for model, answer in (
            ("pool-model", "I can't help with that."),
            ("red-team", "Here is how."),
        )
        for n in range(2)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return [r["id"] for r in rows]


def test_a_manager_sets_up_a_project_whose_batch_its_annotator_gets_first(
    page: Page, browser: Browser, live_server, project, manager, tmp_path
):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    UserFactory(username="alice")
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

    # Import a file.
    ids = transcripts_file(tmp_path / "four.jsonl")
    page.get_by_role("link", name="Import transcripts").click()
    page.get_by_label("File").set_input_files(str(tmp_path / "four.jsonl"))
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#job-status")).to_contain_text("Imported 4 transcripts")

    # Add alice, then assign her the red-team transcripts.
    page.get_by_role("link", name="Refusals, tiny").first.click()
    page.get_by_role("link", name="Members").click()
    page.get_by_label("Username or e-mail").fill("alice")
    page.get_by_label("Username or e-mail").press("Enter")
    expect(page.get_by_role("status")).to_have_text("alice is added as Annotator.")
    page.goto(f"{live_server.url}/projects/{created.pk}/")
    page.get_by_role("link", name="Assign work and set quotas").click()
    page.get_by_label("Model").fill("red-team")
    page.get_by_role("button", name="Preview the items").click()
    expect(page.locator("#preview")).to_contain_text("2 open items match")
    page.get_by_role("group", name="To whom").get_by_label("alice").check()
    page.get_by_role("button", name="Assign").click()
    progress = page.get_by_role("table", name="Progress per annotator")
    expect(progress).to_contain_text("0 of 2")

    # alice is served the batch first, before the file's first rows, and
    # labels it by keyboard alone.
    annotator = browser.new_page()
    annotator.on("console", on_console)
    log_in(annotator, live_server.url, "alice")
    annotator.goto(f"{live_server.url}/projects/{created.pk}/label/")
    for done in range(2):
        expect(annotator.locator("#my-today")).to_have_text(str(done))
        annotator.keyboard.press("y")
        annotator.keyboard.press("1")
        annotator.keyboard.press("Enter")
    expect(annotator.locator("#my-today")).to_have_text("2")
    labelled = (
        Annotation.objects.filter(item__project=created)
        .order_by("created_at")
        .values_list("item__transcript__external_id", flat=True)
    )
    assert sorted(labelled) == ids[2:]
    page.reload()
    expect(progress).to_contain_text("2 of 2")
    assert problems == []
