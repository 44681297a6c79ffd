"""The managers' quality-control page."""

from __future__ import annotations

import pytest
from django.utils import timezone
from pytest_django.asserts import assertContains

from annotate.models import GoldQuestion, Membership, Project
from annotate.services.gold import item_rescore
from annotate.services.projects import project_archive
from annotate.services.quality import gold_question_set
from tests.factories import ItemFactory
from tests.labelling import claim, labels, submit

pytestmark = pytest.mark.django_db


def url(project, rest: str = "") -> str:
    return f"/projects/{project.pk}/quality/{rest}"


def test_the_page_is_for_managers(
    client, project, manager, reviewer, annotator, outsider
):
    client.force_login(outsider)
    assert client.get(url(project)).status_code == 404
    assert client.post(url(project, "settings/")).status_code == 404
    for user in (annotator, reviewer):
        client.force_login(user)
        assertContains(
            client.get(url(project)), "needs the manager role", status_code=403
        )
    client.force_login(manager)
    assertContains(client.get(url(project)), "Quality control")
    assert client.get(url(project, "settings/")).status_code == 405


def test_settings_are_saved_and_bad_ones_shown_on_their_field(client, project, manager):
    client.force_login(manager)
    good = {
        "check_rate": "0.1",
        "qualification_size": "3",
        "qualification_pass": "0.7",
        "pause_below": "",
        "pause_window": "10",
    }

    saved = client.post(url(project, "settings/"), good)
    refused = client.post(url(project, "settings/"), {**good, "check_rate": "0.9"})

    assert saved.status_code == 302
    fresh = Project.objects.get(pk=project.pk)
    assert (fresh.check_rate, fresh.qualification_size, fresh.pause_below) == (
        0.1,
        3,
        None,
    )
    assertContains(refused, "less than or equal to 0.5")
    assert Project.objects.get(pk=project.pk).check_rate == 0.1


def test_a_manager_makes_a_transcript_with_gold_a_gold_question(
    client, project, manager, annotator
):
    project.overlap = 1
    project.save(update_fields=["overlap"])
    item = ItemFactory(project=project)
    submit(claim(annotator, project), labels("policy"))
    item_rescore(item_id=item.pk, now=timezone.now())  # its gold, as the task does
    client.force_login(manager)

    page = client.get(f"/projects/{project.pk}/transcripts/{item.pk}/")
    r = client.post(url(project, f"questions/{item.pk}/"))

    assertContains(page, "Make this a gold question")
    assert r.status_code == 302
    question = GoldQuestion.objects.get(item=item)
    assert question.values["refusal_type"] == "policy"
    listing = client.get(url(project))
    assertContains(listing, "Refusal type: Policy")
    assert Project.objects.get(pk=project.pk).questions_count == 1


def test_a_paused_annotator_shows_with_the_evidence_and_the_pause_is_undone(
    client, project, manager, annotator
):
    item = ItemFactory(project=project)
    gold_question_set(
        item=item,
        values={"refusal_type": "policy"},
        source="manager",
        created_by=None,
        now=timezone.now(),
    )
    Membership.objects.filter(user=annotator).update(
        paused_at=timezone.now(), paused_reason="0 of the last 4 gold questions right"
    )
    client.force_login(manager)

    page = client.get(url(project))
    r = client.post(url(project, f"members/{annotator.pk}/unblock/"))

    assertContains(page, "0 of the last 4 gold questions right")
    assertContains(page, "Undo the pause")
    assert r.status_code == 302
    assert Membership.objects.get(user=annotator).paused_at is None


def test_an_archived_projects_gold_questions_stay_and_the_page_says_why(
    client, project, manager
):
    item = ItemFactory(project=project)
    gold_question_set(
        item=item,
        values={"refusal_type": "none"},
        source="manager",
        created_by=None,
        now=timezone.now(),
    )
    project_archive(actor=None, project=project, now=timezone.now())
    client.force_login(manager)

    r = client.post(url(project, f"questions/{item.pk}/remove/"))

    assertContains(r, f"{project.name} is archived, so its gold questions cannot")
    assert GoldQuestion.objects.filter(item=item).exists()
