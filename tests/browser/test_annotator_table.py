"""A manager sorts the annotator table with the keyboard, then follows a row
to that annotator's labels."""

from __future__ import annotations

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.factories import ItemFactory
from tests.labelling import label, new_annotator

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_a_manager_sorts_the_table_by_keyboard_and_opens_a_row(
    page: Page, live_server, project, manager
):
    project.overlap = 1
    project.save()
    ItemFactory.create_batch(4, project=project)
    ann, bob = new_annotator(project, "ann"), new_annotator(project, "bob")
    label(ann, project, "policy")
    for refusal_type in ("capability", "scope", "policy"):
        label(bob, project, refusal_type)
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("mona")
    page.get_by_label("Password").fill("pw-for-tests")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.get_by_role("link", name="Annotators", exact=True).click()

    rows = page.locator("#annotator-table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_have_attribute("data-user", "ann")  # by name at first

    # Tab along the headings to "Total", as a keyboard user would.
    page.locator("#sort-annotator").focus()
    for _ in range(3):  # role, today, total
        page.keyboard.press("Tab")
    total = page.locator("#sort-total")
    expect(total).to_be_focused()
    page.keyboard.press("Enter")

    heading = page.locator("th", has=total)
    expect(heading).to_have_attribute("aria-sort", "descending")
    expect(rows.nth(0)).to_have_attribute("data-user", "bob")  # 3 labels
    expect(rows.nth(1)).to_have_attribute("data-user", "ann")
    expect(page.locator("#sort-total")).to_be_focused()  # the swap kept the focus
    assert page.url.endswith("?sort=-total")

    page.keyboard.press("Enter")  # again: the other way round
    expect(heading).to_have_attribute("aria-sort", "ascending")
    expect(rows.nth(0)).to_have_attribute("data-user", "mona")  # no labels

    bob_link = page.locator("#annotator-table").get_by_role("link", name="bob")
    bob_link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Labels by bob")).to_be_visible()
    expect(page.locator("table.data tbody tr")).to_have_count(3)
    expect(page.locator("table.data")).to_contain_text("Capability")
    assert errors == []
