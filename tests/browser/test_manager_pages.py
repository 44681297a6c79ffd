"""The manager's first steps in a real browser: log in, import a file, see it land."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import ConsoleMessage, Dialog, Page, expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw-for-tests")
    page.get_by_role("button", name="Log in").click()


def test_a_manager_logs_in_and_imports_a_file(
    page: Page, live_server, project, manager, tmp_path
):
    rows = [
        {"prompt": "<script>alert(1)</script> hi", "response": "No.", "model": "m-x"},
        {"prompt": "Explain photosynthesis", "response": "Plants...", "model": "m-y"},
    ]
    path = tmp_path / "two.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)

    log_in(page, live_server.url, "mona")
    expect(page.get_by_role("heading", name="Your projects")).to_be_visible()
    page.get_by_role("link", name=project.name).click()
    page.get_by_role("link", name="Import transcripts").click()
    page.get_by_label("File").set_input_files(str(path))
    page.get_by_role("button", name="Import").click()

    expect(page.locator("#job-status")).to_contain_text("Imported 2 transcripts")
    expect(page.locator("#job-status")).to_contain_text("m-x")
    assert dialogs == []


def test_a_bad_file_shows_its_errors_in_the_browser(
    page: Page, live_server, project, manager, tmp_path
):
    path = tmp_path / "bad.csv"
    path.write_text("prompt,model\nhello,m\n")

    log_in(page, live_server.url, "mona")
    page.goto(f"{live_server.url}/projects/{project.pk}/import/")
    page.get_by_label("File").set_input_files(str(path))
    page.get_by_role("button", name="Import").click()

    expect(page.get_by_role("alert")).to_contain_text("Nothing was imported")
    expect(page.locator("ol.errors")).to_contain_text("response")


def test_pages_load_no_resource_from_another_host(
    page: Page, live_server, project, manager
):
    hosts: set[str] = set()
    page.on("request", lambda req: hosts.add(req.url.split("/")[2]))
    csp_errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            csp_errors.append(message.text)

    page.on("console", on_console)

    log_in(page, live_server.url, "mona")
    page.goto(f"{live_server.url}/projects/{project.pk}/import/")

    assert hosts == {live_server.url.split("/")[2]}
    assert csp_errors == []
