"""32 annotators drain a queue at once on PostgreSQL: nothing over-filled, nothing lost."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from annotate.models import (
    Allocation,
    Annotation,
    Assignment,
    Batch,
    Item,
    Membership,
    Project,
)
from annotate.services.assignments import batch_create
from annotate.services.queue import annotation_submit, item_claim_next
from tests.factories import (
    MembershipFactory,
    ProjectFactory,
    TranscriptFactory,
    UserFactory,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

VALID = {
    "request_harm": "benign",
    "refusal_type": "none",
    "appropriateness": "appropriate_compliance",
}
ANNOTATORS = 32
ITEMS = 500
OVERLAP = 3


def test_concurrent_annotators_fill_every_item_exactly_to_its_overlap():
    project = ProjectFactory(overlap=OVERLAP)
    transcripts = TranscriptFactory.create_batch(ITEMS, project=project)
    Item.objects.bulk_create(
        Item(project=project, transcript=t, slots_left=OVERLAP) for t in transcripts
    )
    Project.objects.filter(pk=project.pk).update(items_total=ITEMS)
    members = [
        MembershipFactory(user=UserFactory(username=f"ann{i}"), project=project).pk
        for i in range(ANNOTATORS)
    ]
    errors: list[BaseException] = []
    start = threading.Barrier(ANNOTATORS)

    def work(membership_id: int) -> None:
        try:
            membership = Membership.objects.select_related(
                "project__label_set_version"
            ).get(pk=membership_id)
            start.wait()
            while True:
                assignment = item_claim_next(membership=membership, now=timezone.now())
                if assignment is None:
                    return
                annotation_submit(
                    assignment=assignment,
                    values=VALID,
                    client_uuid=uuid.uuid4(),
                    seconds=1.0,
                    now=timezone.now(),
                )
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(m,)) for m in members]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)

    assert errors == []
    per_item = Counter(Annotation.objects.values_list("item_id", flat=True))
    assert len(per_item) == ITEMS
    assert set(per_item.values()) == {OVERLAP}
    pairs = list(Annotation.objects.values_list("item_id", "annotator_id"))
    assert len(pairs) == len(set(pairs)) == ITEMS * OVERLAP
    assert not Assignment.objects.filter(status="live").exists()  # no claim left behind
    assert set(Item.objects.values_list("slots_left", flat=True)) == {0}
    assert set(Item.objects.values_list("annotations_count", flat=True)) == {OVERLAP}
    project.refresh_from_db()
    assert (project.items_complete, project.annotations_total) == (
        ITEMS,
        ITEMS * OVERLAP,
    )
    assert (
        sum(
            Membership.objects.filter(project=project).values_list(
                "annotations_count", flat=True
            )
        )
        == ITEMS * OVERLAP
    )


TABS = 8


def test_tabs_of_one_annotator_claiming_at_once_share_one_claim():
    project = ProjectFactory(overlap=1)
    transcripts = TranscriptFactory.create_batch(10, project=project)
    Item.objects.bulk_create(
        Item(project=project, transcript=t, slots_left=1) for t in transcripts
    )
    member = MembershipFactory(user=UserFactory(username="tabs"), project=project)
    errors: list[BaseException] = []

    for round_ in range(1, 4):
        start = threading.Barrier(TABS)
        claimed: list[int] = []

        def tab(start: threading.Barrier, claimed: list[int]) -> None:
            try:
                membership = Membership.objects.select_related(
                    "project__label_set_version"
                ).get(pk=member.pk)
                start.wait()
                assignment = item_claim_next(membership=membership, now=timezone.now())
                assert assignment is not None
                claimed.append(assignment.pk)
            except BaseException as e:  # noqa: BLE001 - reported by the main thread
                errors.append(e)
            finally:
                connection.close()

        threads = [
            threading.Thread(target=tab, args=(start, claimed)) for _ in range(TABS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)

        assert errors == []
        assert len(claimed) == TABS
        assert len(set(claimed)) == 1  # every tab got the one claim
        live = Assignment.objects.get(status="live")
        # The refused claims were rolled back whole: one slot spent per round.
        assert sum(Item.objects.values_list("slots_left", flat=True)) == 10 - round_
        annotation_submit(
            assignment=Assignment.objects.select_related(
                "project__label_set_version"
            ).get(pk=live.pk),
            values=VALID,
            client_uuid=uuid.uuid4(),
            seconds=1.0,
            now=timezone.now(),
        )


def test_sixteen_annotators_with_batches_and_the_pool_never_over_fill_or_double_serve():
    project = ProjectFactory(overlap=OVERLAP)
    transcripts = TranscriptFactory.create_batch(300, project=project)
    Item.objects.bulk_create(
        Item(project=project, transcript=t, slots_left=OVERLAP, priority=n % 7)
        for n, t in enumerate(transcripts)
    )
    Project.objects.filter(pk=project.pk).update(items_total=300)
    users = [UserFactory(username=f"ann{i}") for i in range(16)]
    members = [MembershipFactory(user=u, project=project).pk for u in users]
    # Half the annotators have work assigned: every item of the first 120 to
    # each of four, the next 120 shared out among four more; the rest is pool.
    each = batch_create(
        project=project,
        name="each",
        selection={"limit": 120},
        usernames=[u.username for u in users[:4]],
        mode=Batch.Mode.EACH,
        created_by=None,
        now=timezone.now(),
    )
    split = batch_create(
        project=project,
        name="split",
        selection={"limit": 120},
        usernames=[u.username for u in users[4:8]],
        mode=Batch.Mode.SPLIT,
        created_by=None,
        now=timezone.now(),
    )
    allocated = set(Allocation.objects.values_list("item_id", "annotator_id"))
    errors: list[BaseException] = []
    start = threading.Barrier(len(members))

    def work(membership_id: int) -> None:
        try:
            start.wait()
            while True:
                membership = Membership.objects.select_related(
                    "project__label_set_version"
                ).get(pk=membership_id)
                assignment = item_claim_next(membership=membership, now=timezone.now())
                if assignment is None:
                    return
                annotation_submit(
                    assignment=assignment,
                    values=VALID,
                    client_uuid=uuid.uuid4(),
                    seconds=1.0,
                    now=timezone.now(),
                )
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(m,)) for m in members]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)

    assert errors == []
    pairs = list(Annotation.objects.values_list("item_id", "annotator_id"))
    assert len(pairs) == len(set(pairs)) == 300 * OVERLAP  # never double-served
    assert set(Counter(i for i, _ in pairs).values()) == {OVERLAP}  # never over-filled
    # Every allocation was labelled by its own annotator, none lost to the pool.
    assert allocated <= set(pairs)
    assert each.batch.allocations_count == 120 * 3  # overlap 3 of the four
    assert split.batch.allocations_count == 120
    assert set(Item.objects.values_list("slots_left", "reserved")) == {(0, 0)}
    assert set(Membership.objects.values_list("assigned_open", flat=True)) == {0}
    assert not Assignment.objects.filter(status="live").exists()
