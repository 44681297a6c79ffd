"""Gold from labels, and reviewers' decisions: versioned, validated, winning."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from annotate.models import Decision, Gold, Item, Project
from annotate.services.exports import ExportOptions, gold_export
from annotate.services.gold import decision_record, item_rescore
from annotate.services.queue import annotation_editable, annotation_update
from tests.factories import ItemFactory, ProjectFactory
from tests.labelling import labels, member

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture
def split(labelled):
    """A full item of overlap 2 whose two labels disagree on refusal_type."""
    project = ProjectFactory(overlap=2)
    item = ItemFactory(project=project)
    labelled(project, "policy", "capability")
    return Item.objects.select_related("project__label_set_version").get(pk=item.pk)


def test_labels_make_the_gold_with_its_method(labelled):
    project = ProjectFactory(overlap=3)
    item = ItemFactory(project=project)

    labelled(project, "policy", "policy", "capability")

    gold = Gold.objects.get(item=item)
    assert gold.values["refusal_type"] == {
        "value": "policy",
        "method": "majority",
        "confidence": pytest.approx(2 / 3),
    }
    assert gold.values["request_harm"]["method"] == "unanimous"
    assert gold.values["explain"]["value"] == 4  # every label gave 4
    assert gold.key_resolved is True
    assert gold.adjudicated is False


def test_gold_waits_for_the_overlap_whether_a_label_is_submitted_or_corrected(
    labelled, django_capture_on_commit_callbacks
):
    project = ProjectFactory(overlap=2)
    item = ItemFactory(project=project)
    (first,) = labelled(project, "policy")
    annotation = annotation_editable(membership=member(first, project), now=NOW)
    assert annotation is not None

    with django_capture_on_commit_callbacks(execute=True) as queued:
        annotation_update(annotation=annotation, values=labels("scope"), now=NOW)
    out = io.BytesIO()
    manifest = gold_export(
        project=project, options=ExportOptions(), stream=out, alpha={}, now=NOW
    )

    assert len(queued) == 1  # the correction rescored the item
    assert not Gold.objects.filter(item=item).exists()
    assert manifest["counts"]["rows"] == 0
    assert out.getvalue() == b""

    labelled(project, "scope")

    assert Gold.objects.get(item=item).values["refusal_type"]["method"] == "unanimous"


def test_a_gold_row_from_fewer_labels_than_the_overlap_goes_at_the_next_rescore(
    labelled,
):
    project = ProjectFactory(overlap=1)
    item = ItemFactory(project=project)
    labelled(project, "policy")
    assert Gold.objects.filter(item=item).exists()
    Project.objects.filter(pk=project.pk).update(overlap=2)

    item_rescore(item_id=item.pk, now=NOW)

    assert not Gold.objects.filter(item=item).exists()


def test_a_decision_makes_gold_before_the_overlap(labelled, reviewer):
    project = ProjectFactory(overlap=3)
    item = ItemFactory(project=project)
    labelled(project, "policy")

    decision_record(
        item=Item.objects.select_related("project__label_set_version").get(pk=item.pk),
        reviewer=reviewer,
        values=labels("policy"),
        reason="Clear-cut.",
        now=NOW,
    )

    assert Gold.objects.get(item=item).adjudicated is True


def test_a_tie_leaves_the_key_field_unresolved(split):
    gold = Gold.objects.get(item=split)

    assert gold.values["refusal_type"] == {
        "value": None,
        "method": "unresolved",
        "confidence": None,
    }
    assert gold.key_resolved is False


def test_a_decision_wins_is_versioned_and_keeps_what_it_replaced(split, reviewer):
    first = decision_record(
        item=split,
        reviewer=reviewer,
        values=labels("capability"),
        reason="The answer says it cannot browse.",
        now=NOW,
    )
    second = decision_record(
        item=split,
        reviewer=reviewer,
        values=labels("policy"),
        reason="On reflection: a safety refusal.",
        now=NOW,
    )

    assert (first.number, second.number) == (1, 2)
    assert first.before["refusal_type"]["method"] == "unresolved"
    assert second.before["refusal_type"] == {
        "value": "capability",
        "method": "adjudicated",
        "confidence": 1.0,
    }
    gold = Gold.objects.get(item=split)
    assert gold.values["refusal_type"]["value"] == "policy"
    assert gold.adjudicated
    assert gold.key_resolved
    assert Decision.objects.filter(item=split).count() == 2


def test_invalid_values_are_field_errors_and_nothing_is_saved(split, reviewer):
    with pytest.raises(ValidationError) as exc:
        decision_record(
            item=split,
            reviewer=reviewer,
            values={**labels("none"), "appropriateness": "over_refusal"},
            reason="x",
            now=NOW,
        )

    assert exc.value.message_dict
    assert not Decision.objects.exists()
    assert Gold.objects.get(item=split).adjudicated is False


def test_a_decision_needs_a_reason(split, reviewer):
    with pytest.raises(ValidationError) as exc:
        decision_record(
            item=split, reviewer=reviewer, values=labels("policy"), reason="  ", now=NOW
        )

    assert list(exc.value.message_dict) == ["reason"]
    assert not Decision.objects.exists()


def test_a_label_after_a_decision_keeps_the_decision(split, reviewer, labelled):
    decision_record(
        item=split, reviewer=reviewer, values=labels("scope"), reason="Scope.", now=NOW
    )
    Item.objects.filter(pk=split.pk).update(slots_left=1)  # one more label, say

    labelled(split.project, "policy")

    gold = Gold.objects.get(item=split)
    assert gold.values["refusal_type"]["value"] == "scope"
    assert gold.values["refusal_type"]["method"] == "adjudicated"
