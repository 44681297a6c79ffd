"""A reviewer decides one item by keyboard, and the next item swaps in."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from annotate.models import Decision, Gold
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_a_reviewer_adjudicates_an_item_with_the_keyboard(
    page: Page, live_server, labelled
):
    project = ProjectFactory(overlap=2)
    first = ItemFactory(project=project)
    second = ItemFactory(project=project)
    labelled(project, "policy", "capability")  # ties on refusal_type
    labelled(project, "scope", "conditional")
    reviewer = UserFactory(username="rita")
    MembershipFactory(user=reviewer, project=project, role="reviewer")

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill("pw-for-tests")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/projects/{project.pk}/review/")
    page.get_by_role("link", name="Start reviewing").click()
    expect(page.locator("#item-panel")).to_have_attribute("data-item", str(first.pk))
    expect(page.locator("#item-panel")).to_contain_text("Labels side by side")
    expect(page.locator("#field-request_harm")).to_have_class(
        "field kind-single is-current"
    )

    page.keyboard.press("ArrowDown")  # refusal_type: left empty by the tie
    page.keyboard.press("3")  # capability; on to appropriateness (prefilled)
    page.keyboard.press("1")  # appropriate refusal
    for _ in range(5):  # failure modes and the four ratings, prefilled
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Escape")  # out of the notes box
    page.keyboard.press("ArrowDown")
    expect(page.locator("#decision-reason")).to_be_focused()
    page.keyboard.type("It says it cannot browse the web.")
    page.keyboard.press("Enter")

    expect(page.locator("#item-panel")).to_contain_text("Decision saved.")
    expect(page.locator("#item-panel")).to_have_attribute("data-item", str(second.pk))
    decision = Decision.objects.get(item=first)
    assert decision.values["refusal_type"] == "capability"
    assert decision.reason == "It says it cannot browse the web."
    assert (
        Gold.objects.get(item=first).values["refusal_type"]["method"] == "adjudicated"
    )
