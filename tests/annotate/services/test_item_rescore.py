"""Per-item disagreement: scored as labels arrive, and one more label asked for when they split."""

from __future__ import annotations

import math
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from annotate.models import Assignment, Item, Membership
from annotate.services.gold import item_rescore
from annotate.services.queue import (
    annotation_editable,
    annotation_update,
    item_claim_next,
)
from labelsets.models import LabelSet, LabelSetVersion
from tests.factories import ItemFactory, ProjectFactory
from tests.labelling import claim, label, labels, member, new_annotator, submit

pytestmark = pytest.mark.django_db

NOW = timezone.now()
# refusal-v1's key field is refusal_type, with five options.
REFUSAL_TYPES = 5


def entropy(*counts: int) -> float:
    total = sum(counts)
    return -sum(c / total * math.log(c / total) for c in counts if c)


def test_unanimous_labels_score_zero(project, labelled):
    item = ItemFactory(project=project)

    labelled(project, "policy", "policy", "policy")

    item.refresh_from_db()
    assert item.disagreement == 0.0


def test_a_split_scores_the_normalised_entropy_of_the_key_field(project, labelled):
    item = ItemFactory(project=project)

    labelled(project, "policy", "policy", "capability")

    item.refresh_from_db()
    # p = (2/3, 1/3) over refusal_type's five options.
    expected = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)) / math.log(5)
    assert item.disagreement == pytest.approx(expected)
    assert item.disagreement == pytest.approx(0.3955, abs=1e-4)


def test_a_disagreeing_full_item_gets_one_more_label_and_then_no_more(labelled):
    project = ProjectFactory(overlap=3, extra_labels_max=1)
    item = ItemFactory(project=project)

    first, *_ = labelled(project, "policy", "capability", "scope")

    item.refresh_from_db()
    assert item.disagreement == pytest.approx(
        math.log(3) / math.log(REFUSAL_TYPES)
    )  # above the default threshold, 0.35
    assert (item.annotations_count, item.slots_left) == (3, 1)
    assert claim(first, project) is None  # never to one who has labelled it

    fourth = new_annotator(project, "fourth")
    extra = claim(fourth, project)
    assert extra is not None
    assert extra.item.pk == item.pk

    # The extra label still disagrees, but overlap + extra_labels_max is reached.
    submit(extra, labels("conditional"))
    item_rescore(item_id=item.pk, now=NOW)

    item.refresh_from_db()
    assert item.disagreement == pytest.approx(
        entropy(1, 1, 1, 1) / math.log(REFUSAL_TYPES)
    )
    assert (item.annotations_count, item.slots_left) == (4, 0)
    assert claim(new_annotator(project, "fifth"), project) is None


def test_two_against_one_gets_an_extra_label_at_the_default_threshold(labelled):
    project = ProjectFactory(overlap=3, extra_labels_max=1)
    item = ItemFactory(project=project)

    labelled(project, "policy", "policy", "capability")  # 0.40 > 0.35

    item.refresh_from_db()
    assert item.slots_left == 1


def test_no_extra_slot_when_extra_labels_max_is_zero(labelled):
    project = ProjectFactory(overlap=3, extra_labels_max=0)
    item = ItemFactory(project=project)

    labelled(project, "policy", "capability", "scope")

    item.refresh_from_db()
    assert item.disagreement > project.disagreement_threshold
    assert item.slots_left == 0
    assert claim(new_annotator(project, "fourth"), project) is None


def test_labels_under_the_threshold_get_no_extra_slot(labelled):
    project = ProjectFactory(overlap=3, extra_labels_max=2, disagreement_threshold=0.5)
    item = ItemFactory(project=project)

    labelled(project, "policy", "policy", "capability")  # 0.40 < 0.5

    item.refresh_from_db()
    assert item.slots_left == 0


def test_a_second_run_changes_nothing(labelled):
    project = ProjectFactory(overlap=3, extra_labels_max=3)
    item = ItemFactory(project=project)
    labelled(project, "policy", "capability", "scope")
    item.refresh_from_db()
    before = (item.disagreement, item.slots_left, item.annotations_count)

    again = item_rescore(item_id=item.pk, now=NOW)

    item.refresh_from_db()
    assert (item.disagreement, item.slots_left, item.annotations_count) == before
    assert before[1] == 1  # one slot at a time, however many extra are allowed
    assert again is not None
    assert (again.disagreement, again.slots_left) == before[:2]


def test_an_item_with_a_live_claim_gets_no_extra_slot_until_its_label_arrives(
    labelled, django_capture_on_commit_callbacks
):
    project = ProjectFactory(overlap=3, extra_labels_max=1, disagreement_threshold=0.3)
    item = ItemFactory(project=project)
    labelled(project, "policy", "capability")
    third = new_annotator(project, "third")
    pending = claim(third, project)

    item_rescore(item_id=item.pk, now=NOW)

    item.refresh_from_db()
    assert item.disagreement == pytest.approx(math.log(2) / math.log(REFUSAL_TYPES))
    assert item.slots_left == 0  # full while the claim is live

    with django_capture_on_commit_callbacks(execute=True):
        submit(pending, labels("scope"))

    item.refresh_from_db()
    assert (item.annotations_count, item.slots_left) == (3, 1)


def test_the_second_label_queues_the_rescoring_on_commit_and_a_replay_does_not(
    project, annotator, other_annotator, django_capture_on_commit_callbacks
):
    item = ItemFactory(project=project)
    key = uuid.uuid4()

    with django_capture_on_commit_callbacks() as first:
        submit(claim(annotator, project), labels("policy"))
    assignment = claim(other_annotator, project)
    with django_capture_on_commit_callbacks() as second:
        submit(assignment, labels("policy"), client_uuid=key)
    with django_capture_on_commit_callbacks() as replayed:
        submit(assignment, labels("policy"), client_uuid=key)

    assert first == []  # a lone label cannot disagree
    item.refresh_from_db()
    assert item.rescore_due  # owed in the database, whatever the broker does
    assert item.disagreement is None
    assert len(second) == 1  # the wake-up
    assert replayed == []

    second[0]()

    scored = Item.objects.get(pk=item.pk)
    assert (scored.rescore_due, scored.disagreement) == (False, 0.0)


def test_a_correction_that_splits_the_labels_rescores_the_item(
    django_capture_on_commit_callbacks, labelled
):
    project = ProjectFactory(overlap=2, extra_labels_max=1, disagreement_threshold=0.3)
    item = ItemFactory(project=project)
    _, second = labelled(project, "policy", "policy")
    item.refresh_from_db()
    assert (item.disagreement, item.slots_left) == (0.0, 0)
    annotation = annotation_editable(membership=member(second, project), now=NOW)
    assert annotation is not None

    with django_capture_on_commit_callbacks(execute=True) as queued:
        annotation_update(
            annotation=annotation,
            values=labels("capability"),
            now=NOW + timedelta(minutes=5),
        )

    assert len(queued) == 1
    item.refresh_from_db()
    assert item.disagreement == pytest.approx(math.log(2) / math.log(REFUSAL_TYPES))
    assert item.slots_left == 1


def version_of(schema_data: dict[str, object]) -> LabelSetVersion:
    label_set = LabelSet.objects.create(name=f"set-{LabelSet.objects.count()}")
    return LabelSetVersion.objects.create(
        label_set=label_set, number=1, schema_data=schema_data
    )


def test_without_a_key_field_the_first_single_field_is_scored(labelled):
    version = version_of(
        {
            "fields": [
                {"name": "note", "kind": "text"},
                {
                    "name": "tone",
                    "kind": "single",
                    "options": [{"value": "x"}, {"value": "y"}, {"value": "z"}],
                },
                {
                    "name": "harm",
                    "kind": "single",
                    "options": [{"value": "a"}, {"value": "b"}],
                },
            ]
        }
    )
    project = ProjectFactory(label_set_version=version, overlap=2)
    item = ItemFactory(project=project)
    for name, tone in (("u1", "x"), ("u2", "y")):
        assignment = claim(new_annotator(project, name), project)
        submit(assignment, {"tone": tone, "harm": "a"})

    scored = item_rescore(item_id=item.pk, now=NOW)

    assert scored is not None
    assert scored.disagreement == pytest.approx(math.log(2) / math.log(3))


def test_a_label_set_with_no_field_to_score_scores_none(db):
    version = version_of(
        {"fields": [{"name": "note", "kind": "text", "required": True}]}
    )
    project = ProjectFactory(label_set_version=version, overlap=1)
    item = ItemFactory(project=project)
    submit(claim(new_annotator(project, "u1"), project), {"note": "fine"})

    scored = item_rescore(item_id=item.pk, now=NOW)

    assert scored is not None
    assert scored.disagreement is None
    assert scored.slots_left == 0


def test_a_missing_item_is_none(db):
    assert item_rescore(item_id=987654321, now=NOW) is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_rescoring_racing_with_claims_opens_exactly_one_extra_slot():
    project = ProjectFactory(overlap=3, extra_labels_max=1)
    item = ItemFactory(project=project)
    for name, refusal_type in (("a", "policy"), ("b", "capability"), ("c", "scope")):
        # Each submit commits, and its queued rescoring runs then (eager Celery).
        label(new_annotator(project, name), project, refusal_type)
    Item.objects.filter(pk=item.pk).update(slots_left=0, disagreement=None)
    claimers = [new_annotator(project, f"late{i}").pk for i in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(4 + len(claimers))
    rescored = threading.Event()

    def rescore() -> None:
        try:
            start.wait()
            for _ in range(25):
                item_rescore(item_id=item.pk, now=NOW)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
        finally:
            connection.close()

    def claim_until_done(user_id: int) -> None:
        try:
            membership = Membership.objects.select_related(
                "project__label_set_version"
            ).get(user_id=user_id, project=project)
            start.wait()
            while True:
                last_try = rescored.is_set()
                if item_claim_next(membership=membership, now=timezone.now()):
                    return
                if last_try:
                    return
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
        finally:
            connection.close()

    rescorers = [threading.Thread(target=rescore) for _ in range(4)]
    claiming = [threading.Thread(target=claim_until_done, args=(u,)) for u in claimers]
    for t in [*rescorers, *claiming]:
        t.start()
    for t in rescorers:
        t.join(timeout=120)
    rescored.set()
    for t in claiming:
        t.join(timeout=120)

    assert errors == []
    live = Assignment.objects.filter(item=item, status="live").count()
    item.refresh_from_db()
    assert live == 1  # one extra annotator, never two
    assert item.slots_left == 0


def test_a_submit_with_the_broker_down_succeeds_and_its_rescoring_waits_in_the_database(
    project, annotator, other_annotator, django_capture_on_commit_callbacks, request
):
    from annotate.services.gold import items_rescore_due

    item = ItemFactory(project=project)
    submit(claim(annotator, project), labels("policy"))
    request.getfixturevalue("unreachable_broker")
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        submit(claim(other_annotator, project), labels("capability"))

    assert time.monotonic() - started < 2  # the publish failed fast
    item.refresh_from_db()
    assert (item.annotations_count, item.rescore_due, item.disagreement) == (
        2,
        True,
        None,
    )
    assert items_rescore_due(now=lambda: NOW) == 1  # beat's sweep, once it is back
    item.refresh_from_db()
    assert item.rescore_due is False
    assert item.disagreement == pytest.approx(math.log(2) / math.log(REFUSAL_TYPES))


def test_the_sweep_rescores_many_due_items_in_batches(project, settings):
    from annotate.services import gold

    items = ItemFactory.create_batch(5, project=project, rescore_due=True)
    gold.RESCORE_BATCH, batch = 2, gold.RESCORE_BATCH
    try:
        assert gold.items_rescore_due(now=lambda: NOW) == 5
    finally:
        gold.RESCORE_BATCH = batch
    assert not Item.objects.filter(pk__in=[i.pk for i in items], rescore_due=True)
