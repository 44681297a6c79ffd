"""The agreement report's per-annotator pace and accuracy, which the
annotator table shows: median seconds per label, and accuracy against
reviewers' decisions and against the gold aggregated from the labels, kept
apart."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from annotate.services.agreement import agreement_report
from annotate.services.gold import decision_record
from annotate.services.queue import annotation_submit
from tests.factories import ItemFactory, ProjectFactory, UserFactory
from tests.labelling import claim, labels, new_annotator

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def label(user, project, refusal_type: str, seconds: float):
    assignment = claim(user, project)
    assert assignment is not None
    annotation, _ = annotation_submit(
        assignment=assignment,
        values=labels(refusal_type),
        client_uuid=uuid.uuid4(),
        seconds=seconds,
        now=NOW,
    )
    return annotation


@pytest.fixture
def two_items(django_capture_on_commit_callbacks):
    """x and y label a (agreeing: policy) and b (split); a reviewer decides
    b as capability, which only y chose."""
    project = ProjectFactory(overlap=2)
    a = ItemFactory(project=project)
    b = ItemFactory(project=project)
    x, y = new_annotator(project, "x"), new_annotator(project, "y")
    with django_capture_on_commit_callbacks(execute=True):
        label(x, project, "policy", 10.0)
        label(x, project, "policy", 30.0)
        label(y, project, "policy", 4.0)
        label(y, project, "capability", 6.0)
    decision_record(
        item=b,
        reviewer=UserFactory(username="rita"),
        values=labels("capability"),
        reason="It says it cannot.",
        now=NOW,
    )
    return project, a, b, x, y


def rows(project):
    report = agreement_report(project=project, now=NOW, resamples=0)
    return {r["username"]: r for r in report["annotators"]}


def test_each_annotator_has_their_median_seconds_per_label(two_items):
    project, *_ = two_items

    found = rows(project)

    assert found["x"]["median_seconds"] == 20.0
    assert found["y"]["median_seconds"] == 5.0


def test_accuracy_against_decisions_and_against_label_gold_are_apart(two_items):
    project, *_ = two_items

    found = rows(project)

    assert found["x"]["gold_accuracy"] == {
        "field": "refusal_type",
        "decided": {"share": 0.0, "compared": 1},
        "aggregated": {"share": 1.0, "compared": 1},
    }
    assert found["y"]["gold_accuracy"]["decided"] == {"share": 1.0, "compared": 1}
    assert found["y"]["gold_accuracy"]["aggregated"] == {"share": 1.0, "compared": 1}


def test_an_item_whose_key_field_is_a_tie_counts_for_no_accuracy(
    django_capture_on_commit_callbacks,
):
    project = ProjectFactory(overlap=2)
    ItemFactory(project=project)
    x, y = new_annotator(project, "x"), new_annotator(project, "y")
    with django_capture_on_commit_callbacks(execute=True):
        label(x, project, "policy", 1.0)
        label(y, project, "scope", 1.0)

    found = rows(project)

    assert found["x"]["gold_accuracy"]["aggregated"] == {"share": None, "compared": 0}
    assert found["x"]["gold_accuracy"]["decided"] == {"share": None, "compared": 0}
