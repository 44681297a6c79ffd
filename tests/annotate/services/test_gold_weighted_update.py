"""Weighted gold from the database: Dawid-Skene outvotes two annotators who err alike."""

from __future__ import annotations

import io
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from annotate.models import Annotation, Gold, Item
from annotate.services.gold import decision_record, gold_weighted_update, item_rescore
from tests.factories import ItemFactory, ProjectFactory, UserFactory
from tests.labelling import labels, new_annotator

pytestmark = pytest.mark.django_db

NOW = timezone.now()
TRUTH = ["policy", "capability", "none", "scope"] * 15  # 60 items


@pytest.fixture
def biased():
    """Two careful annotators and two who call every policy refusal
    compliance. Every other block of four items goes to one careful and both sloppy ones, so their
    majority is wrong on policy; the rest to both careful and one sloppy,
    which shows how the sloppy ones err."""
    project = ProjectFactory(overlap=3, gold_method="weighted")
    cara, cleo, sam, sid = (
        new_annotator(project, n) for n in ("cara", "cleo", "sam", "sid")
    )
    items = []
    rows = []
    for n, truth in enumerate(TRUTH):
        item = ItemFactory(project=project, slots_left=0, annotations_count=3)
        items.append(item)
        sloppy = "none" if truth == "policy" else truth
        for user, value in (
            ((cara, truth), (sam, sloppy), (sid, sloppy))
            if (n // 4) % 2
            else ((cara, truth), (cleo, truth), (sam, sloppy))
        ):
            rows.append(
                Annotation(
                    item=item,
                    annotator=user,
                    label_set_version=project.label_set_version,
                    values=labels(value),
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
    Annotation.objects.bulk_create(rows)
    for item in items:
        item_rescore(item_id=item.pk, now=NOW)
    return project, items


def gold_of(item):
    return Gold.objects.get(item=item).values["refusal_type"]


def test_weighted_gold_sides_with_the_careful_annotator(biased):
    project, items = biased
    outvoted = [
        i
        for n, (i, t) in enumerate(zip(items, TRUTH, strict=True))
        if t == "policy" and (n // 4) % 2
    ]
    assert {gold_of(i)["value"] for i in outvoted} == {"none"}  # the majority

    updated = gold_weighted_update(project=project, now=NOW)

    assert updated == len(items)
    assert {gold_of(i)["value"] for i in outvoted} == {"policy"}
    assert {gold_of(i)["method"] for i in items} == {"weighted"}
    right = sum(gold_of(i)["value"] == t for i, t in zip(items, TRUTH, strict=True))
    assert right == len(items)


def test_a_decision_stays_and_a_new_label_keeps_the_weighted_gold(biased, reviewer):
    project, items = biased
    decided = Item.objects.select_related("project__label_set_version").get(
        pk=items[0].pk
    )
    decision_record(
        item=decided, reviewer=reviewer, values=labels("scope"), reason="x", now=NOW
    )
    gold_weighted_update(project=project, now=NOW)
    item_rescore(item_id=items[4].pk, now=NOW)  # as a new label would

    assert gold_of(items[0]) == {
        "value": "scope",
        "method": "adjudicated",
        "confidence": 1.0,
    }
    assert gold_of(items[4])["method"] == "weighted"
    assert gold_of(items[4])["value"] == "policy"


def test_the_command_reports_the_items(biased):
    project, items = biased
    out = io.StringIO()

    call_command("gold_weighted", project.name, stdout=out)

    assert f"Weighted gold for {len(items)} items" in out.getvalue()


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_a_decision_racing_the_weighted_run_is_never_overwritten(biased):
    """The decision is committed while the run computes: the run waits for the
    item's lock, then sees the decision and leaves its field alone."""
    project, items = biased
    reviewer = UserFactory(username="rhea")
    decided, run_started = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def decide() -> None:
        try:
            item = Item.objects.select_related("project__label_set_version").get(
                pk=items[0].pk
            )
            with transaction.atomic():
                decision_record(
                    item=item,
                    reviewer=reviewer,
                    values=labels("scope"),
                    reason="Read it again: a product restriction.",
                    now=NOW,
                )
                decided.set()
                run_started.wait(timeout=30)
                time.sleep(1.0)  # the run reaches the item meanwhile
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
        finally:
            connection.close()

    reviewing = threading.Thread(target=decide)
    reviewing.start()
    assert decided.wait(timeout=30)
    run_started.set()
    gold_weighted_update(project=project, now=NOW)
    reviewing.join(timeout=60)

    assert errors == []
    assert gold_of(items[0]) == {
        "value": "scope",
        "method": "adjudicated",
        "confidence": 1.0,
    }
    assert Gold.objects.get(item=items[0]).adjudicated is True
