"""Claim, submit, skip, expire and correct: the services behind the labelling screen and API."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotate.models import Annotation, Assignment, Item, Membership, Project
from annotate.services import queue
from annotate.services.queue import (
    annotation_editable,
    annotation_submit,
    annotation_update,
    assignment_skip,
    assignments_expire,
    item_claim_next,
)
from labelsets.services import labelset_load
from tests.factories import ItemFactory, MembershipFactory, UserFactory
from tests.labelsets.test_schema_validate import MULTI_DATA

pytestmark = pytest.mark.django_db

NOW = timezone.now()
VALID = {
    "request_harm": "harmful",
    "refusal_type": "policy",
    "appropriateness": "appropriate_refusal",
    "acknowledge": 4,
    "explain": 4,
    "redirect": 3,
    "respect": 5,
}


def member(user, project) -> Membership:
    return Membership.objects.select_related("project__label_set_version").get(
        user=user, project=project
    )


def claim(user, project, now=NOW):
    return item_claim_next(membership=member(user, project), now=now)


def submit(assignment, values=VALID, now=NOW, client_uuid=None):
    return annotation_submit(
        assignment=assignment,
        values=values,
        client_uuid=client_uuid or uuid.uuid4(),
        seconds=12.5,
        now=now,
    )


def test_claim_takes_the_highest_priority_item_and_a_slot(project, annotator):
    low = ItemFactory(project=project, priority=0.1)
    high = ItemFactory(project=project, priority=0.9)

    assignment = claim(annotator, project)

    assert assignment.item == high
    assert assignment.expires_at == NOW + project.lease
    high.refresh_from_db()
    low.refresh_from_db()
    assert (high.slots_left, low.slots_left) == (project.overlap - 1, project.overlap)


def test_ties_are_broken_by_import_order(project, annotator):
    first, _second = ItemFactory.create_batch(2, project=project)

    assert claim(annotator, project).item == first


def test_a_reload_gets_the_same_live_claim_without_spending_a_slot(project, annotator):
    item = ItemFactory(project=project)
    ItemFactory(project=project)

    first = claim(annotator, project)
    again = claim(annotator, project, now=NOW + timedelta(minutes=5))

    assert again.pk == first.pk
    item.refresh_from_db()
    assert item.slots_left == project.overlap - 1
    assert Assignment.objects.filter(annotator=annotator, status="live").count() == 1


def test_an_annotator_never_gets_an_item_twice(project, annotator):
    item = ItemFactory(project=project)

    submit(claim(annotator, project))

    assert claim(annotator, project) is None
    item.refresh_from_db()
    assert item.slots_left == project.overlap - 1


def test_a_full_item_is_not_claimed_by_more_annotators_than_its_overlap(project):
    project.overlap = 2
    project.save()
    item = ItemFactory(project=project)
    users = [UserFactory(username=f"a{i}") for i in range(3)]
    for u in users:
        MembershipFactory(user=u, project=project)

    claims = [claim(u, project) for u in users]

    assert [c is not None for c in claims] == [True, True, False]
    item.refresh_from_db()
    assert item.slots_left == 0


def test_an_expired_claim_returns_its_slot_at_the_next_claim(
    project, annotator, other_annotator
):
    project.overlap = 1
    project.save()
    item = ItemFactory(project=project)
    first = claim(annotator, project)
    assert claim(other_annotator, project) is None

    later = NOW + project.lease + timedelta(seconds=1)
    taken = claim(other_annotator, project, now=later)

    assert taken.item == item
    first.refresh_from_db()
    assert first.status == "expired"
    item.refresh_from_db()
    assert item.slots_left == 0


def test_my_own_expired_claim_is_replaced_and_the_item_can_come_back(
    project, annotator
):
    item = ItemFactory(project=project)
    first = claim(annotator, project)

    again = claim(annotator, project, now=NOW + project.lease + timedelta(seconds=1))

    assert again.pk == first.pk  # the same row, claimed anew
    assert again.status == "live"
    item.refresh_from_db()
    assert item.slots_left == project.overlap - 1


def test_my_expired_claim_ended_by_the_expiry_job_meanwhile_returns_its_slot_once(
    project, annotator, monkeypatch
):
    # The live claim is read outside the claim's transaction: the expiry job
    # ending it between that read and the transaction must not give its slot
    # back a second time.
    item = ItemFactory(project=project)
    claim(annotator, project)
    later = NOW + project.lease + timedelta(seconds=1)
    claim_next = queue._claim_next

    def expiry_job_first(**kwargs):
        assert assignments_expire(now=later) == 1
        return claim_next(**kwargs)

    monkeypatch.setattr(queue, "_claim_next", expiry_job_first)

    again = claim(annotator, project, now=later)

    assert again is not None
    assert again.item == item
    item.refresh_from_db()
    assert item.slots_left == project.overlap - 1


def test_the_periodic_job_expires_stale_claims(project, annotator, other_annotator):
    items = ItemFactory.create_batch(2, project=project)
    claim(annotator, project)
    claim(other_annotator, project, now=NOW + timedelta(minutes=20))

    expired = assignments_expire(now=NOW + project.lease + timedelta(seconds=1))

    assert expired == 1
    slots = sorted(
        Item.objects.filter(pk__in=[i.pk for i in items]).values_list(
            "slots_left", flat=True
        )
    )
    assert slots == [project.overlap - 1, project.overlap]


def test_submit_stores_clean_values_and_keeps_the_counters(project, annotator):
    project.overlap = 1
    project.save()
    item = ItemFactory(project=project)
    Project.objects.filter(pk=project.pk).update(items_total=1)

    annotation, created = submit(claim(annotator, project))

    assert created
    assert annotation.values["acknowledge"] == 4
    assert annotation.values["failure_modes"] == []
    assert annotation.seconds_spent == 12.5
    assert annotation.label_set_version == project.label_set_version
    item.refresh_from_db()
    project.refresh_from_db()
    m = member(annotator, project)
    assert (
        item.annotations_count,
        project.items_complete,
        project.annotations_total,
    ) == (1, 1, 1)
    assert (m.annotations_count, m.today, m.today_count) == (1, NOW.date(), 1)


def test_submit_twice_with_the_same_uuid_stores_one_annotation(project, annotator):
    ItemFactory(project=project)
    assignment = claim(annotator, project)
    key = uuid.uuid4()

    first, created_first = submit(assignment, client_uuid=key)
    second, created_second = submit(assignment, client_uuid=key)

    assert (created_first, created_second) == (True, False)
    assert first.pk == second.pk
    assert Annotation.objects.count() == 1
    project.refresh_from_db()
    assert project.annotations_total == 1


def test_a_second_tab_submitting_the_same_claim_stores_one_annotation(
    project, annotator
):
    ItemFactory(project=project)
    assignment = claim(annotator, project)

    submit(assignment)
    _, created = submit(assignment)  # another tab, another uuid

    assert not created
    assert Annotation.objects.count() == 1


def test_invalid_values_are_refused_per_field_and_nothing_is_stored(project, annotator):
    ItemFactory(project=project)
    assignment = claim(annotator, project)

    with pytest.raises(ValidationError) as exc:
        submit(assignment, values={**VALID, "refusal_type": "none"})

    assert "appropriateness" in exc.value.message_dict
    assert not Annotation.objects.exists()
    assignment.refresh_from_db()
    assert assignment.status == "live"


def test_submit_after_expiry_takes_a_free_slot_again(project, annotator):
    item = ItemFactory(project=project)
    assignment = claim(annotator, project)
    later = NOW + project.lease + timedelta(minutes=1)
    assignments_expire(now=later)

    _, created = submit(assignment, now=later)

    assert created
    item.refresh_from_db()
    assert item.slots_left == project.overlap - 1


def test_submit_after_expiry_is_refused_when_others_filled_the_item(
    project, annotator, other_annotator
):
    project.overlap = 1
    project.save()
    ItemFactory(project=project)
    mine = claim(annotator, project)
    later = NOW + project.lease + timedelta(minutes=1)
    submit(claim(other_annotator, project, now=later), now=later)

    with pytest.raises(ValidationError) as exc:
        submit(mine, now=later)

    assert exc.value.code == "claim_expired"
    assert Annotation.objects.filter(annotator=annotator).count() == 0


def test_skip_returns_the_slot_and_the_item_never_comes_back(project, annotator):
    item = ItemFactory(project=project)
    assignment = claim(annotator, project)

    assignment_skip(assignment=assignment, reason="graphic content", now=NOW)
    assignment_skip(assignment=assignment, reason="again", now=NOW)

    item.refresh_from_db()
    assert (item.slots_left, item.skips_count) == (project.overlap, 1)
    assert claim(annotator, project) is None
    assignment.refresh_from_db()
    assert (assignment.status, assignment.skip_reason) == ("skipped", "graphic content")
    with pytest.raises(ValidationError) as exc:
        submit(assignment)
    assert exc.value.code == "skipped"


def test_a_labelled_item_cannot_be_skipped(project, annotator):
    ItemFactory(project=project)
    assignment = claim(annotator, project)
    submit(assignment)

    with pytest.raises(ValidationError) as exc:
        assignment_skip(assignment=assignment, reason="", now=NOW)

    assert exc.value.code == "submitted"


def test_my_last_annotation_is_editable_for_an_hour(project, annotator):
    ItemFactory(project=project)
    annotation, _ = submit(claim(annotator, project))
    m = member(annotator, project)

    assert (
        annotation_editable(membership=m, now=NOW + timedelta(minutes=59)) == annotation
    )
    assert annotation_editable(membership=m, now=NOW + timedelta(minutes=61)) is None

    fixed = annotation_update(
        annotation=annotation,
        values={**VALID, "explain": 1},
        now=NOW + timedelta(minutes=5),
    )
    assert fixed.values["explain"] == 1
    with pytest.raises(ValidationError) as exc:
        annotation_update(
            annotation=annotation, values=VALID, now=NOW + timedelta(hours=2)
        )
    assert exc.value.code == "not_editable"


def test_a_rule_of_several_conditions_holds_at_submit(annotator):
    """Every `when` must hold for the rule to apply, and then every `require`."""
    version, _ = labelset_load(data={"name": "two-sided", **MULTI_DATA}, now=NOW)
    project = Project.objects.get(pk=annotator.memberships.get().project_id)
    Project.objects.filter(pk=project.pk).update(label_set_version=version)
    ItemFactory.create_batch(2, project=project)

    def submit(values):
        assignment = item_claim_next(membership=member(annotator, project), now=NOW)
        assert assignment is not None
        return annotation_submit(
            assignment=assignment,
            values=values,
            client_uuid=uuid.uuid4(),
            seconds=1.0,
            now=NOW,
        )

    # One `when` of two holds: the rule does not apply.
    submit({"harm": "harmful", "kind": "policy", "verdict": "ok"})
    with pytest.raises(ValidationError) as e:
        submit({"harm": "benign", "kind": "policy", "verdict": "ok"})

    assert e.value.message_dict == {
        "verdict": [
            "Harm “Benign” with Response “Refuses” needs Verdict “Over-refusal” and "
            "Modes other than “Flip”."
        ]
    }
    assert Annotation.objects.count() == 1


def test_the_database_refuses_an_over_filled_or_mis_scored_item(project):
    item = ItemFactory(project=project)

    for change in ({"slots_left": -1}, {"disagreement": 1.5}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Item.objects.filter(pk=item.pk).update(**change)
