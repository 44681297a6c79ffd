"""Annotator care in a real browser, keyboard only: a content warning, the
transcript revealed by key, a skip for wellbeing, the break at the cap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from annotate.models import Annotation, Assignment, Item
from annotate.services.care import project_care_set
from tests.browser.test_labelling import label_compliance, log_in
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

# Read from the page's computed style (a function, not a string for eval,
# which the CSP forbids).
FILTER = "el => getComputedStyle(el).filter"
SELECT = "el => getComputedStyle(el).userSelect"


def make_project(flagged: int, plain: int):
    """A project whose first `flagged` items (by priority) are flagged as
    self-harm, then `plain` unflagged ones; annotator alice."""
    project = ProjectFactory(overlap=1, items_total=flagged + plain)
    MembershipFactory(user=UserFactory(username="alice"), project=project)
    for n in range(flagged + plain):
        item = ItemFactory(
            project=project,
            priority=-n,
            transcript__messages=[
                {"role": "user", "content": f"Question {n}?"},
                {"role": "assistant", "content": f"Answer {n}."},
            ],
        )
        if n < flagged:
            Item.objects.filter(pk=item.pk).update(
                distressing=True, content_warning="self-harm"
            )
    return project


def open_queue(page: Page, live_server, project) -> None:
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")


def veil(page: Page) -> Locator:
    return page.locator("#transcript-veil")


def test_an_annotator_meets_a_content_warning_and_reveals_the_text_by_key(
    page: Page, live_server
):
    project = make_project(flagged=1, plain=1)
    open_queue(page, live_server, project)

    warning = page.get_by_role("region", name="Content warning: self-harm")
    expect(warning).to_be_visible()
    expect(page.locator("#reveal-button")).to_be_focused()
    expect(veil(page)).to_have_attribute("aria-hidden", "true")
    # Blurred and unselectable, and out of the accessibility tree.
    assert "blur(" in veil(page).evaluate(FILTER)
    assert veil(page).evaluate(SELECT) == "none"
    expect(page.get_by_text("Question 0?")).to_have_count(1)
    expect(page.get_by_role("article", name="Transcript")).to_have_count(0)

    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard")).to_contain_text(
        "Show a transcript blurred behind a content warning"
    )
    page.keyboard.press("Escape")
    page.keyboard.press("r")

    assert veil(page).evaluate(FILTER) == "none"
    expect(veil(page)).not_to_have_attribute("aria-hidden", "true")
    expect(page.get_by_role("article", name="Transcript")).to_contain_text(
        "Question 0?"
    )
    expect(page.locator("#reveal-button")).to_be_hidden()
    expect(warning).to_contain_text("The transcript is shown.")
    # Focus is on the form, ready for the labels.
    expect(page.locator("#field-request_harm input").first).to_be_focused()
    label_compliance(page)
    page.keyboard.press("Enter")

    # The next item has no warning and nothing veiled.
    expect(page.get_by_role("article", name="Transcript")).to_contain_text(
        "Question 1?"
    )
    expect(page.locator("#content-warning")).to_have_count(0)
    assert veil(page).evaluate(FILTER) == "none"
    assert Annotation.objects.count() == 1


def test_the_reveal_button_shows_the_text_by_click_too(page: Page, live_server):
    project = make_project(flagged=1, plain=0)
    open_queue(page, live_server, project)

    page.get_by_role("button", name="Show the transcript").click()

    assert veil(page).evaluate(FILTER) == "none"
    assert "reveal=" not in page.url  # revealed here, not by the no-JS reload


def test_a_skip_for_wellbeing_from_the_skip_box_by_keyboard(page: Page, live_server):
    project = make_project(flagged=1, plain=1)
    open_queue(page, live_server, project)
    page.keyboard.press("r")

    page.keyboard.press("s")
    page.keyboard.type("not today")
    page.keyboard.press("Tab")  # to the "why" radios: Something else
    page.keyboard.press("ArrowDown")  # the item is flagged: no "flag it"
    expect(page.get_by_role("radio", name="For my wellbeing")).to_be_checked()
    page.keyboard.press("Enter")

    expect(page.locator("#item-panel")).to_contain_text(
        "Skipped for your wellbeing. This never counts as a skip."
    )
    skipped = Assignment.objects.get(status="skipped")
    assert (skipped.skip_kind, skipped.skip_reason) == ("wellbeing", "not today")


def test_at_the_cap_a_break_then_enter_continues_with_unflagged_items(
    page: Page, live_server
):
    project = make_project(flagged=2, plain=1)
    project_care_set(
        now=timezone.now(),
        actor=None,
        project=project,
        flagged_cap=1,
        flagged_window=timedelta(hours=4),
    )
    open_queue(page, live_server, project)
    page.keyboard.press("r")
    label_compliance(page)

    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Time for a break")).to_be_visible()
    expect(page.locator("#care-continue")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("article", name="Transcript")).to_contain_text(
        "Question 2?"  # the unflagged one, past the second flagged
    )
    expect(page.locator("#care-notice")).to_contain_text("held back")
    expect(page.locator("#field-request_harm input").first).to_be_focused()
