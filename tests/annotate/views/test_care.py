"""Annotator care on the screens: the content warning and reveal on the
labelling screen, skips that never count, the break at the cap, a manager's
flag on the transcript page and the annotators' flags to review."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_django.asserts import (
    assertContains,
    assertNotContains,
    assertTemplateUsed,
)

from annotate.models import Assignment, Item, ItemFlag, Membership
from annotate.services.care import project_care_set
from tests.factories import ItemFactory
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
VEILED = 'class="veil is-veiled" aria-hidden="true" inert'


def queue_url(project) -> str:
    return f"/projects/{project.pk}/label/"


def flagged_item(project, priority: float = 1.0, kind: str = "self-harm") -> Item:
    item = ItemFactory(project=project, priority=priority)
    Item.objects.filter(pk=item.pk).update(distressing=True, content_warning=kind)
    return item


def live(annotator) -> Assignment:
    return Assignment.objects.get(annotator=annotator, status="live")


def submit(client, annotator, assignment=None, **headers):
    return client.post(
        f"/assignments/{(assignment or live(annotator)).pk}/submit/",
        {**VALID, "client_uuid": str(uuid.uuid4())},
        headers=headers,
    )


# The labelling screen -------------------------------------------------------------


def test_a_flagged_item_shows_its_warning_and_a_blurred_transcript(
    client, project, annotator
):
    flagged_item(project)
    client.force_login(annotator)

    r = client.get(queue_url(project))

    assertContains(r, "Content warning: self-harm")
    assertContains(r, VEILED)
    assertContains(r, 'id="reveal-button" aria-keyshortcuts="r"')
    assertContains(r, "Skip for my wellbeing")
    # Its transcript is in the page (blurred), so r shows it with no request.
    assertContains(r, live(annotator).item.transcript.messages[0]["content"])


def test_reveal_without_javascript_shows_the_same_item_unblurred(
    client, project, annotator
):
    item = flagged_item(project)
    client.force_login(annotator)
    client.get(queue_url(project))

    r = client.get(f"{queue_url(project)}?reveal={item.pk}")

    assertContains(r, "Content warning: self-harm")
    assertNotContains(r, "is-veiled")
    assertNotContains(r, 'id="reveal-button"')
    assert live(annotator).item == item


def test_an_unflagged_item_has_no_warning(client, project, annotator):
    ItemFactory(project=project)
    client.force_login(annotator)

    r = client.get(queue_url(project))

    assertNotContains(r, "Content warning")
    assertNotContains(r, "is-veiled")
    assertContains(r, 'value="flag"')  # flag and skip is offered


def test_skip_for_wellbeing_moves_on_and_never_counts(client, project, annotator):
    ItemFactory.create_batch(2, project=project)
    client.force_login(annotator)
    client.get(queue_url(project))
    first = live(annotator)

    r = client.post(
        f"/assignments/{first.pk}/skip/", {"kind": "wellbeing"}, headers=HTMX
    )

    assertContains(r, "Skipped for your wellbeing. This never counts as a skip.")
    first.refresh_from_db()
    assert (first.status, first.skip_kind) == ("skipped", "wellbeing")
    assert Membership.objects.get(user=annotator).skips_count == 0
    assert live(annotator).item != first.item


def test_flag_and_skip_gives_the_item_a_warning_for_review(client, project, annotator):
    item = ItemFactory(project=project)
    client.force_login(annotator)
    client.get(queue_url(project))

    r = client.post(
        f"/assignments/{live(annotator).pk}/skip/",
        {"kind": "flag", "reason": "graphic"},
        headers=HTMX,
    )

    assertContains(r, "Skipped and flagged")
    assert Item.objects.get(pk=item.pk).distressing
    assert ItemFlag.objects.get().review_pending


def test_a_skip_of_an_unknown_kind_is_refused_in_the_screens_words(
    client, project, annotator
):
    ItemFactory(project=project)
    client.force_login(annotator)
    client.get(queue_url(project))

    r = client.post(
        f"/assignments/{live(annotator).pk}/skip/", {"kind": "bored"}, headers=HTMX
    )

    assertContains(r, "Not skipped: choose why from the list")
    assert live(annotator).status == "live"


def test_the_submit_reaching_the_cap_offers_a_break_then_unflagged_items(
    client, project, annotator
):
    flagged_item(project, priority=3)
    flagged_item(project, priority=2)
    plain = ItemFactory(project=project, priority=0)
    project_care_set(
        now=timezone.now(),
        actor=None,
        project=project,
        flagged_cap=1,
        flagged_window=timedelta(hours=4),
    )
    client.force_login(annotator)
    client.get(queue_url(project))

    r = submit(client, annotator, **HTMX)

    assertContains(r, "Time for a break")
    assertContains(
        r, "You have labelled 1 item with a content warning in the last 4 hours"
    )
    assertContains(r, 'id="care-continue"')
    assertNotContains(r, "Your queue is empty")
    assert not Assignment.objects.filter(annotator=annotator, status="live").exists()

    r = client.get(queue_url(project), headers=HTMX)  # continue

    assert live(annotator).item == plain
    assertContains(r, "Items with a content warning are held back from your queue")
    assertNotContains(r, "Time for a break")


def test_without_javascript_the_break_is_a_redirect_to_it(client, project, annotator):
    flagged_item(project)
    ItemFactory(project=project, priority=-1)
    project_care_set(
        now=timezone.now(),
        actor=None,
        project=project,
        flagged_cap=1,
        flagged_window=timedelta(hours=4),
    )
    client.force_login(annotator)
    client.get(queue_url(project))

    r = submit(client, annotator)

    assert r.status_code == 302
    assert r["Location"] == f"{queue_url(project)}?pause=1"
    assertContains(client.get(r["Location"]), "Time for a break")


def test_the_break_is_offered_once_not_at_every_submit(client, project, annotator):
    flagged_item(project, priority=3)
    ItemFactory.create_batch(2, project=project, priority=0)
    project_care_set(
        now=timezone.now(),
        actor=None,
        project=project,
        flagged_cap=1,
        flagged_window=timedelta(hours=4),
    )
    client.force_login(annotator)
    client.get(queue_url(project))
    submit(client, annotator, **HTMX)  # the break
    client.get(queue_url(project), headers=HTMX)

    r = submit(client, annotator, **HTMX)

    assertNotContains(r, "Time for a break")
    assert live(annotator).status == "live"


# Query counts: care costs nothing where it is not used -------------------------------


def test_a_flagged_item_costs_the_claim_no_query(
    client, project, annotator, django_assert_num_queries
):
    flagged_item(project)
    ItemFactory.create_batch(20, project=project)
    client.force_login(annotator)

    with django_assert_num_queries(10 + pin_statements()):  # as test_annotator
        client.get(queue_url(project), headers=HTMX)


def test_a_flagged_item_costs_the_submit_no_query_without_a_cap(
    client, project, annotator, django_assert_num_queries
):
    flagged_item(project, priority=5)
    ItemFactory.create_batch(20, project=project)
    client.force_login(annotator)
    client.get(queue_url(project))
    claim = live(annotator)

    with django_assert_num_queries(
        13 + submit_writes() + pin_statements()
    ):  # as test_annotator
        submit(client, annotator, claim, **HTMX)


def test_under_a_cap_a_flagged_submit_costs_one_query_and_a_capped_claim_none(
    client, project, annotator, django_assert_num_queries
):
    flagged_item(project, priority=5)
    ItemFactory.create_batch(20, project=project)
    project_care_set(
        now=timezone.now(),
        actor=None,
        project=project,
        flagged_cap=2,
        flagged_window=timedelta(hours=4),
    )
    client.force_login(annotator)
    client.get(queue_url(project))
    claim = live(annotator)

    with django_assert_num_queries(
        14 + submit_writes() + pin_statements()
    ):  # the label's time
        submit(client, annotator, claim, **HTMX)
    now = timezone.now().timestamp()
    Membership.objects.filter(user=annotator).update(
        flagged_recent=[now, now]  # the cap is reached
    )
    claim = live(annotator)
    with django_assert_num_queries(
        13 + submit_writes() + pin_statements()
    ):  # unflagged, no count
        submit(client, annotator, claim, **HTMX)
    assert not live(annotator).item.distressing


# A manager's flag on the transcript page ------------------------------------------------


def flag_url(project, item) -> str:
    return f"/projects/{project.pk}/transcripts/{item.pk}/flag/"


def test_a_manager_flags_an_item_from_its_transcript_page(client, project, manager):
    item = ItemFactory(project=project)
    client.force_login(manager)

    page = client.get(f"/projects/{project.pk}/transcripts/{item.pk}/")
    r = client.post(
        flag_url(project, item), {"flagged": "on", "note": "gore"}, headers=HTMX
    )

    assertContains(page, "Not flagged.")
    assertContains(page, f'action="{flag_url(project, item)}"')
    assertTemplateUsed(r, "flag")  # the page's partial
    assert b"<html" not in r.content
    assertContains(r, "Flagged as possibly distressing: <strong>gore</strong>")
    assertContains(r, "mona")  # the record
    assert Item.objects.get(pk=item.pk).content_warning == "gore"


def test_without_javascript_a_flag_redirects_to_the_transcript(
    client, project, manager
):
    item = flagged_item(project)
    client.force_login(manager)

    r = client.post(flag_url(project, item), {"note": "not distressing after all"})

    assert r.status_code == 302
    assert r["Location"] == f"/projects/{project.pk}/transcripts/{item.pk}/"
    assert not Item.objects.get(pk=item.pk).distressing


def test_a_too_long_note_is_shown_on_the_form(client, project, manager):
    item = ItemFactory(project=project)
    client.force_login(manager)

    r = client.post(
        flag_url(project, item), {"flagged": "on", "note": "x" * 300}, headers=HTMX
    )

    assert r.status_code == 200
    assertContains(r, 'role="alert"')
    assert not Item.objects.get(pk=item.pk).distressing


def test_the_flag_is_for_managers(
    client, project, manager, reviewer, annotator, outsider
):
    item = ItemFactory(project=project)
    client.force_login(outsider)
    assert client.post(flag_url(project, item), {"flagged": "on"}).status_code == 404
    for user in (annotator, reviewer):
        client.force_login(user)
        assert (
            client.post(flag_url(project, item), {"flagged": "on"}).status_code == 403
        )
    client.force_login(manager)
    assert client.get(flag_url(project, item)).status_code == 405
    assert (
        client.post(f"/projects/{project.pk}/transcripts/999999/flag/").status_code
        == 404
    )
    assert not Item.objects.get(pk=item.pk).distressing
    # A reviewer sees the flag, not the form.
    client.force_login(reviewer)
    page = client.get(f"/projects/{project.pk}/transcripts/{item.pk}/")
    assertContains(page, "Not flagged.")
    assertNotContains(page, flag_url(project, item))


# The annotators' flags to review ----------------------------------------------------------


def test_the_flags_page_lists_annotators_flags_until_reviewed(
    client, project, manager, annotator
):
    item = ItemFactory(project=project, transcript__external_id="ext-7")
    client.force_login(annotator)
    client.get(queue_url(project))
    client.post(
        f"/assignments/{live(annotator).pk}/skip/",
        {"kind": "flag", "reason": "graphic injury"},
        headers=HTMX,
    )
    client.force_login(manager)

    listed = client.get(f"/projects/{project.pk}/flags/")
    client.post(flag_url(project, item), {"flagged": "on", "note": "injury"})
    empty = client.get(f"/projects/{project.pk}/flags/")

    assertContains(listed, "ext-7")
    assertContains(listed, "graphic injury")
    assertContains(listed, "alice")
    assertContains(empty, "Nothing to review.")
    assertContains(
        client.get(f"/projects/{project.pk}/"), f"/projects/{project.pk}/flags/"
    )


def test_the_flags_page_is_for_managers(
    client, project, manager, reviewer, annotator, outsider
):
    url = f"/projects/{project.pk}/flags/"
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    for user in (annotator, reviewer):
        client.force_login(user)
        assert client.get(url).status_code == 403
    client.force_login(manager)
    assert client.post(url).status_code == 405
