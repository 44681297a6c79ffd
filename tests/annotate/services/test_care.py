"""Annotator care: flags on items (a manager's, an annotator's flag and skip),
skips that never count, and the cap on flagged items per window."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from annotate.models import (
    Assignment,
    Batch,
    Item,
    ItemFlag,
    Membership,
    Project,
    SkipKind,
)
from annotate.services.assignments import batch_create
from annotate.services.care import (
    flagged_pause_until,
    item_flag_set,
    project_care_set,
    window_words,
)
from annotate.services.queue import (
    annotation_submit,
    assignment_skip,
    item_claim_next,
)
from tests.factories import ItemFactory, ProjectFactory, UserFactory
from tests.labelling import labels, member, new_annotator

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
# A whole second: the kept label times are to the millisecond.
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def project():
    return ProjectFactory(overlap=2)


def item(
    project: Project, priority: float, *, flagged: bool = False, model: str = "model-a"
) -> Item:
    made = ItemFactory(
        project=project, priority=priority, transcript__source_model=model
    )
    if flagged:
        Item.objects.filter(pk=made.pk).update(
            distressing=True, content_warning="self-harm"
        )
    return made


def claim_at(user, project, now) -> Assignment | None:
    return item_claim_next(membership=member(user, project), now=now)


def claimed(user, project, now) -> Item | None:
    """The item of the claim at `now`, if any."""
    assignment = claim_at(user, project, now)
    return None if assignment is None else assignment.item


def is_flagged(item: Item | None) -> bool:
    return item is not None and item.distressing


def label_at(user, project, now) -> Assignment:
    """Claim and label the next item at `now`; the claim."""
    assignment = claim_at(user, project, now)
    assert assignment is not None
    annotation_submit(
        assignment=assignment,
        values=labels("policy"),
        client_uuid=uuid.uuid4(),
        seconds=1.0,
        now=now,
    )
    return assignment


def capped(project: Project, cap: int, hours: float = 4) -> Project:
    return project_care_set(
        now=timezone.now(),
        actor=None,
        project=project,
        flagged_cap=cap,
        flagged_window=timedelta(hours=hours),
    )


# A manager's flag ------------------------------------------------------------


def test_a_manager_flags_an_item_with_the_kind_and_it_is_recorded(project):
    target, manager = item(project, 0), UserFactory(username="mona")

    item_flag_set(item=target, flagged=True, note=" gore ", by=manager, now=NOW)
    item_flag_set(item=target, flagged=True, note="gore", by=manager, now=NOW)

    target.refresh_from_db()
    assert (target.distressing, target.content_warning) == (True, "gore")
    (record,) = ItemFlag.objects.all()  # the second call changed nothing
    assert (record.source, record.flagged, record.note, record.by) == (
        "manager",
        True,
        "gore",
        manager,
    )


def test_clearing_a_flag_drops_the_warning_and_keeps_the_reason(project):
    target, manager = item(project, 0, flagged=True), UserFactory(username="mona")

    item_flag_set(
        item=target, flagged=False, note="a cooking recipe", by=manager, now=NOW
    )

    target.refresh_from_db()
    assert (target.distressing, target.content_warning) == (False, "")
    assert ItemFlag.objects.get().note == "a cooking recipe"


def test_a_note_longer_than_a_warning_is_refused(project):
    target = item(project, 0)

    with pytest.raises(ValidationError) as e:
        item_flag_set(
            item=target, flagged=True, note="x" * 201, by=UserFactory(), now=NOW
        )

    assert e.value.error_dict["note"][0].code == "too_long"
    assert not Item.objects.get(pk=target.pk).distressing


# Skips -------------------------------------------------------------------------


def skip(user, project, kind: SkipKind, reason: str = "") -> Assignment:
    assignment = claim_at(user, project, NOW)
    assert assignment is not None
    return assignment_skip(assignment=assignment, reason=reason, kind=kind, now=NOW)


def counts(user, project, target: Item) -> tuple[int, int]:
    return (
        Membership.objects.get(user=user, project=project).skips_count,
        Item.objects.get(pk=target.pk).skips_count,
    )


def test_a_skip_for_wellbeing_never_counts_and_is_recorded_as_such(project):
    target = item(project, 0)
    alice = new_annotator(project, "alice")

    skipped = skip(alice, project, SkipKind.WELLBEING, "not today")
    assignment_skip(assignment=skipped, reason="", kind=SkipKind.OTHER, now=NOW)

    assert counts(alice, project, target) == (0, 0)
    skipped.refresh_from_db()
    assert (skipped.status, skipped.skip_kind, skipped.skip_reason) == (
        "skipped",
        "wellbeing",
        "not today",
    )
    assert Item.objects.get(pk=target.pk).slots_left == 2  # back to the queue
    assert not ItemFlag.objects.exists()


def test_another_skip_counts_for_the_annotator_and_the_item(project):
    target = item(project, 0)
    alice = new_annotator(project, "alice")

    assert skip(alice, project, SkipKind.OTHER).skip_kind == "other"

    assert counts(alice, project, target) == (1, 1)


def test_flag_and_skip_flags_the_item_for_a_managers_review(project):
    target = item(project, 0)
    alice, bob = new_annotator(project, "alice"), new_annotator(project, "bob")

    skip(alice, project, SkipKind.FLAG, "describes self-harm in detail")

    target.refresh_from_db()
    assert (target.distressing, target.content_warning) == (True, "")
    assert counts(alice, project, target) == (0, 0)
    flag = ItemFlag.objects.get()
    assert (flag.source, flag.by, flag.note, flag.review_pending) == (
        "annotator",
        alice,
        "describes self-harm in detail",
        True,
    )
    # The next annotator gets it with the warning.
    assert is_flagged(claimed(bob, project, NOW))

    # A manager's decision, either way, reviews it.
    item_flag_set(
        item=target, flagged=True, note="self-harm", by=UserFactory(), now=NOW
    )
    assert not ItemFlag.objects.filter(review_pending=True).exists()


def test_flagging_an_item_flagged_already_leaves_nothing_to_review(project):
    target = item(project, 0, flagged=True)
    alice = new_annotator(project, "alice")

    skip(alice, project, SkipKind.FLAG)

    assert Item.objects.get(pk=target.pk).content_warning == "self-harm"
    assert not ItemFlag.objects.get().review_pending


def test_a_manager_confirming_an_annotators_flag_records_the_review(project):
    target = item(project, 0)
    skip(new_annotator(project, "alice"), project, SkipKind.FLAG)

    item_flag_set(item=target, flagged=True, note="", by=UserFactory(), now=NOW)

    # Nothing changed on the item, but the review is on record.
    assert list(ItemFlag.objects.order_by("pk").values_list("source", "flagged")) == [
        ("annotator", True),
        ("manager", True),
    ]


# The cap on flagged items ----------------------------------------------------------


def test_past_the_cap_the_queue_serves_only_unflagged_items_until_the_window_moves(
    project,
):
    flagged = [item(project, 10 - n, flagged=True) for n in range(3)]
    plain = item(project, 0)
    capped(project, 2, hours=4)
    alice = new_annotator(project, "alice")

    first = label_at(alice, project, NOW)
    second = label_at(alice, project, NOW + HOUR)
    assert [first.item, second.item] == flagged[:2]  # priority order, flagged or not
    assert (
        flagged_pause_until(membership=member(alice, project), now=NOW + HOUR)
        == NOW + 4 * HOUR
    )

    third = label_at(alice, project, NOW + 2 * HOUR)

    assert third.item == plain  # the flagged one first by priority waits
    assert claim_at(alice, project, NOW + 3 * HOUR) is None  # only flagged left
    # The first label leaves the window: one flagged item may come.
    assert claimed(alice, project, NOW + 4 * HOUR) == flagged[2]


def test_without_a_cap_flagged_items_keep_their_place(project):
    flagged = item(project, 10, flagged=True)
    alice = new_annotator(project, "alice")

    for n in range(3):
        label_at(alice, project, NOW + n * timedelta(minutes=1))
        item(project, 9, flagged=True)

    assert is_flagged(claimed(alice, project, NOW))
    assert Assignment.objects.filter(item=flagged, status="submitted").exists()
    # No cap: nothing kept for it.
    assert member(alice, project).flagged_recent == []


def test_the_cap_counts_only_this_annotators_labels_in_this_project(project):
    item(project, 10, flagged=True)
    item(project, 9, flagged=True)
    capped(project, 1)
    alice, bob = new_annotator(project, "alice"), new_annotator(project, "bob")

    label_at(alice, project, NOW)

    assert flagged_pause_until(membership=member(alice, project), now=NOW)
    assert flagged_pause_until(membership=member(bob, project), now=NOW) is None
    assert is_flagged(claimed(bob, project, NOW))


def test_an_item_flagged_after_its_label_does_not_count(project):
    first = item(project, 10)
    item(project, 9, flagged=True)
    capped(project, 1)
    alice = new_annotator(project, "alice")

    label_at(alice, project, NOW)
    item_flag_set(item=first, flagged=True, note="", by=UserFactory(), now=NOW)

    assert flagged_pause_until(membership=member(alice, project), now=NOW) is None
    assert is_flagged(claimed(alice, project, NOW))


def test_past_the_cap_assigned_flagged_items_wait_too(project):
    assigned_flagged = item(project, 10, flagged=True, model="model-b")
    assigned_plain = item(project, 1, model="model-b")
    item(project, 20, flagged=True)
    capped(project, 1)
    alice = new_annotator(project, "alice")
    label_at(alice, project, NOW)  # the pool's flagged item: the cap is reached
    batch_create(
        project=project,
        name="b",
        selection={"source_model": "model-b"},
        usernames=["alice"],
        mode=Batch.Mode.EACH,
        created_by=None,
        now=NOW,
    )

    assert label_at(alice, project, NOW).item == assigned_plain
    assert claim_at(alice, project, NOW) is None  # nothing unflagged left
    assert member(alice, project).assigned_open == 1  # the flagged one waits
    later = NOW + 4 * HOUR
    assert claimed(alice, project, later) == assigned_flagged


def test_the_submit_keeps_the_callers_membership_current(project):
    item(project, 10, flagged=True)
    capped(project, 1)
    alice = new_annotator(project, "alice")
    membership = member(alice, project)
    assignment = item_claim_next(membership=membership, now=NOW)
    assert assignment is not None

    annotation_submit(
        assignment=assignment,
        values=labels("policy"),
        client_uuid=uuid.uuid4(),
        seconds=1.0,
        now=NOW,
        membership=membership,
    )

    assert membership.flagged_recent == member(alice, project).flagged_recent
    assert flagged_pause_until(membership=membership, now=NOW) == NOW + 4 * HOUR


def test_care_settings_are_checked(project):
    with pytest.raises(ValidationError) as e:
        project_care_set(
            now=timezone.now(),
            actor=None,
            project=project,
            flagged_cap=101,
            flagged_window=timedelta(minutes=5),
        )

    assert set(e.value.message_dict) == {"flagged_cap", "flagged_window"}
    assert Project.objects.get(pk=project.pk).flagged_cap is None
    project_care_set(
        now=timezone.now(),
        actor=None,
        project=project,
        flagged_cap=None,
        flagged_window=HOUR,
    )
    assert Project.objects.get(pk=project.pk).flagged_window == HOUR


@pytest.mark.parametrize(
    ("window", "words"),
    [
        (timedelta(hours=4), "4 hours"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(minutes=90), "90 minutes"),
        (timedelta(days=1), "1 day"),
    ],
)
def test_a_window_in_words(window, words):
    assert window_words(window) == words
