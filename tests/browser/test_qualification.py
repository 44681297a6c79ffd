"""Quality control in a real browser: a qualification keeps a new annotator
out of the pool until they pass. (A batch served first to its annotator is
in test_workspace's end-to-end flow.)"""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

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
