from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from annotate.models import Annotation, Assignment, Membership
from annotate.services.queue import item_claim_next
from tests.factories import ItemFactory, TranscriptFactory
from tests.labelling import pin_statements, submit_writes

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
VALID = {
    "request_harm": "harmful",
    "refusal_type": "policy",
    "appropriateness": "appropriate_refusal",
    "acknowledge": "4",
    "explain": "4",
    "redirect": "3",
    "respect": "5",
}


def queue_url(project) -> str:
    return f"/projects/{project.pk}/label/"


def live(annotator) -> Assignment:
    return Assignment.objects.get(annotator=annotator, status="live")


def test_the_queue_page_claims_an_item_and_shows_its_transcript(
    client, project, annotator
):
    item = ItemFactory(
        project=project,
        transcript=TranscriptFactory(
            project=project,
            messages=[
                {"role": "user", "content": "How do vaccines work?"},
                {"role": "assistant", "content": "They train..."},
            ],
        ),
    )
    client.force_login(annotator)

    r = client.get(queue_url(project))

    assert r.status_code == 200
    assertContains(r, "How do vaccines work?")
    assert live(annotator).item == item


def test_submit_with_htmx_stores_and_swaps_in_the_next_item(client, project, annotator):
    first, second = ItemFactory.create_batch(2, project=project)
    client.force_login(annotator)
    client.get(queue_url(project))
    assignment = live(annotator)

    r = client.post(
        f"/assignments/{assignment.pk}/submit/",
        {**VALID, "client_uuid": str(uuid.uuid4()), "seconds": "7"},
        headers=HTMX,
    )

    assert r.status_code == 200
    assert r["HX-Retarget"] == "#item-panel"
    assert b"<html" not in r.content
    annotation = Annotation.objects.get(annotator=annotator)
    assert (
        annotation.item,
        annotation.values["refusal_type"],
        annotation.seconds_spent,
    ) == (first, "policy", 7.0)
    assert live(annotator).item == second


def test_double_submit_stores_one_annotation(client, project, annotator):
    ItemFactory.create_batch(2, project=project)
    client.force_login(annotator)
    client.get(queue_url(project))
    assignment = live(annotator)
    data = {**VALID, "client_uuid": str(uuid.uuid4()), "seconds": "3"}

    client.post(f"/assignments/{assignment.pk}/submit/", data, headers=HTMX)
    client.post(f"/assignments/{assignment.pk}/submit/", data, headers=HTMX)

    assert Annotation.objects.filter(annotator=annotator).count() == 1


def test_a_rule_error_rerenders_the_form_keeping_the_choices(
    client, project, annotator
):
    ItemFactory(project=project)
    client.force_login(annotator)
    client.get(queue_url(project))
    assignment = live(annotator)

    r = client.post(
        f"/assignments/{assignment.pk}/submit/",
        {**VALID, "refusal_type": "none", "client_uuid": str(uuid.uuid4())},
        headers=HTMX,
    )

    assert r.status_code == 200
    assertContains(
        r,
        "Refusal type “None (complies)” allows only Appropriateness "
        "“Appropriate compliance” or “Under-refusal”.",
    )
    assertNotContains(r, "refusal_type=none")
    assert r.context["form"].data["refusal_type"] == "none"
    assert not Annotation.objects.exists()
    assert live(annotator) == assignment


def test_without_javascript_a_submit_redirects_to_the_queue(client, project, annotator):
    ItemFactory.create_batch(2, project=project)
    client.force_login(annotator)
    client.get(queue_url(project))
    assignment = live(annotator)

    r = client.post(f"/assignments/{assignment.pk}/submit/", VALID)

    assert r.status_code == 302
    assert r["Location"] == queue_url(project)
    assert Annotation.objects.get().seconds_spent >= 0


def test_skip_moves_on_and_records_the_reason(client, project, annotator):
    ItemFactory.create_batch(2, project=project)
    client.force_login(annotator)
    client.get(queue_url(project))
    assignment = live(annotator)

    r = client.post(
        f"/assignments/{assignment.pk}/skip/", {"reason": "too graphic"}, headers=HTMX
    )

    assert r.status_code == 200
    assignment.refresh_from_db()
    assert (assignment.status, assignment.skip_reason) == ("skipped", "too graphic")
    assert live(annotator).item != assignment.item


def test_reopen_prefills_my_last_annotation_and_edit_saves_it(
    client, project, annotator
):
    ItemFactory.create_batch(2, project=project)
    client.force_login(annotator)
    client.get(queue_url(project))
    assignment = live(annotator)
    client.post(
        f"/assignments/{assignment.pk}/submit/",
        {**VALID, "client_uuid": str(uuid.uuid4())},
        headers=HTMX,
    )
    annotation = Annotation.objects.get()

    r = client.get(queue_url(project) + "?reopen=1", headers=HTMX)
    assert r.context["editing"] == annotation
    assert r.context["form"].initial["refusal_type"] == "policy"

    client.post(
        f"/annotations/{annotation.pk}/edit/", {**VALID, "explain": "1"}, headers=HTMX
    )
    annotation.refresh_from_db()
    assert annotation.values["explain"] == 1


def test_an_empty_queue_says_so(client, project, annotator):
    client.force_login(annotator)

    r = client.get(queue_url(project))

    assert r.status_code == 200
    assert r.context["assignment"] is None


def test_other_peoples_claims_and_outsiders_get_404(
    client, project, annotator, other_annotator, outsider
):
    ItemFactory(project=project)
    client.force_login(annotator)
    client.get(queue_url(project))
    assignment = live(annotator)

    client.force_login(other_annotator)
    assert (
        client.post(f"/assignments/{assignment.pk}/submit/", VALID).status_code == 404
    )
    assert client.post(f"/assignments/{assignment.pk}/skip/").status_code == 404
    client.force_login(outsider)
    assert client.get(queue_url(project)).status_code == 404
    assert not Annotation.objects.exists()


def test_get_on_submit_is_405(client, project, annotator):
    ItemFactory(project=project)
    client.force_login(annotator)
    client.get(queue_url(project))

    assert client.get(f"/assignments/{live(annotator).pk}/submit/").status_code == 405


def test_next_item_runs_a_bounded_number_of_queries(
    client, project, annotator, django_assert_num_queries
):
    ItemFactory.create_batch(50, project=project)
    client.force_login(annotator)
    assert project.label_set_version.schema  # parsed once per process, not per request

    # Session, user, membership; the live claim (none), the next item, its
    # slot, the claim; progress; and the SAVEPOINT/RELEASE pair the test
    # transaction puts around the claim.
    with django_assert_num_queries(10 + pin_statements()):
        client.get(queue_url(project), headers=HTMX)


def test_a_reloaded_tab_gets_its_live_claim_back_in_five_queries(
    client, project, annotator, django_assert_num_queries
):
    ItemFactory.create_batch(5, project=project)
    client.force_login(annotator)
    client.get(queue_url(project), headers=HTMX)
    assignment = live(annotator)

    # Session, user, membership; the live claim, read outside a transaction
    # (no SAVEPOINT here, no BEGIN and COMMIT in production); progress.
    with django_assert_num_queries(5):
        r = client.get(queue_url(project), headers=HTMX)

    assert r.context["assignment"].pk == assignment.pk


def test_submit_runs_a_bounded_number_of_queries(
    client, project, annotator, django_assert_num_queries
):
    ItemFactory.create_batch(50, project=project)
    client.force_login(annotator)
    client.get(queue_url(project))
    assignment = live(annotator)

    # Session, user, the claim with its membership; submit (the lock, its
    # writes); the next claim (4); progress; and the test transaction's two
    # savepoint pairs.
    with django_assert_num_queries(13 + submit_writes() + pin_statements()):
        client.post(
            f"/assignments/{assignment.pk}/submit/",
            {**VALID, "client_uuid": str(uuid.uuid4())},
            headers=HTMX,
        )


def test_an_expired_claim_taken_by_others_keeps_the_labels_in_the_form(
    client, project, annotator, other_annotator
):
    project.overlap = 1
    project.save()
    ItemFactory(project=project)
    client.force_login(annotator)
    client.get(queue_url(project))
    mine = live(annotator)
    later = timezone.now() + project.lease + timedelta(minutes=1)
    theirs = item_claim_next(
        membership=Membership.objects.select_related("project").get(
            user=other_annotator
        ),
        now=later,
    )
    assert theirs is not None
    assert theirs.item_id == mine.item_id

    r = client.post(
        f"/assignments/{mine.pk}/submit/",
        {**VALID, "client_uuid": str(uuid.uuid4())},
        headers=HTMX,
    )

    assert r.status_code == 200
    assertContains(r, "expired")
    assert r.context["form"].data["refusal_type"] == "policy"
    assert not Annotation.objects.exists()
