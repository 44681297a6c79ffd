"""Directed work and quality control in a real browser: a manager assigns a
batch to one annotator, who is served it first by keyboard; a qualification
keeps a new annotator out of the pool until they pass."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from annotate.models import Annotation, Assignment, Project
from annotate.services.quality import gold_question_set
from tests.browser.test_labelling import label_compliance, log_in
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def submit_by_keyboard(page: Page) -> None:
    label_compliance(page)
    page.keyboard.press("Enter")


def test_a_batch_assigned_in_the_browser_comes_first_to_its_annotator(
    browser: Browser, live_server
):
    project = ProjectFactory(overlap=1, items_total=6, check_rate=0.0)
    for n in range(4):
        ItemFactory(
            project=project, transcript__source_model="pool-model", priority=9 - n
        )
    wanted = [
        ItemFactory(project=project, transcript__source_model="red-team", priority=0)
        for _ in range(2)
    ]
    for name, role in (
        ("mona", "manager"),
        ("alice", "annotator"),
        ("bob", "annotator"),
    ):
        MembershipFactory(user=UserFactory(username=name), project=project, role=role)

    manager = browser.new_page()
    log_in(manager, live_server.url, "mona")
    manager.goto(f"{live_server.url}/projects/{project.pk}/assignments/")
    manager.get_by_label("Model").fill("red-team")
    manager.get_by_role("button", name="Preview the items").click()
    expect(manager.locator("#preview")).to_contain_text("2 open items match")
    manager.get_by_role("group", name="To whom").get_by_label("alice").check()
    manager.get_by_role("button", name="Assign").click()
    expect(manager.get_by_role("table", name="Progress per annotator")).to_contain_text(
        "0 of 2"
    )

    annotator = browser.new_page()
    log_in(annotator, live_server.url, "alice")
    annotator.goto(f"{live_server.url}/projects/{project.pk}/label/")
    for done in range(2):
        expect(annotator.locator("#my-today")).to_have_text(str(done))
        submit_by_keyboard(annotator)
    expect(annotator.locator("#my-today")).to_have_text("2")

    # The red-team items came first, although the pool's rank higher.
    labelled = list(
        Annotation.objects.filter(annotator__username="alice")
        .order_by("created_at")
        .values_list("item_id", flat=True)
    )
    assert labelled == sorted(i.pk for i in wanted)
    assert set(
        Assignment.objects.filter(item_id__in=labelled).values_list(
            "chosen_by", flat=True
        )
    ) == {"assigned"}
    manager.reload()
    expect(manager.get_by_role("table", name="Progress per annotator")).to_contain_text(
        "2 of 2"
    )


def test_a_qualification_keeps_a_new_annotator_out_until_they_pass(
    page: Page, live_server
):
    project = ProjectFactory(
        overlap=1, qualification_size=1, qualification_pass=1.0, check_rate=0.0
    )
    question = ItemFactory(project=project, slots_left=0)
    # The keyboard's compliance labels are the answer; the other way is wrong.
    gold_question_set(
        item=question,
        values={"request_harm": "harmful"},
        source="manager",
        created_by=None,
        now=timezone.now(),
    )
    ItemFactory.create_batch(2, project=project)
    MembershipFactory(user=UserFactory(username="alice"), project=project)

    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    expect(page.locator("#label-form fieldset.is-current")).to_have_count(1)
    assert Assignment.objects.get(annotator__username="alice").item_id == question.pk
    submit_by_keyboard(page)  # benign: wrong

    expect(page.get_by_role("status")).to_contain_text("did not pass the qualification")
    assert not Annotation.objects.exists()
    assert Project.objects.get(pk=project.pk).questions_count == 1
