"""Judges' labels: stored apart, all or nothing, never in people's figures, compared with gold."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from annotate.models import Annotation, Gold, Item
from annotate.queries import review_item
from annotate.services.agreement import agreement_report
from annotate.services.gold import item_rescore
from annotate.services.imports import ImportRejected
from annotate.services.judges import judgements_import
from tests.factories import ItemFactory, ProjectFactory
from tests.labelling import labels

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def jsonl(*records: dict[str, object]) -> io.BytesIO:
    return io.BytesIO(b"".join(json.dumps(r).encode() + b"\n" for r in records))


@pytest.fixture
def judged(labelled):
    """Two full items (gold: policy, capability); their external ids t-0, t-1."""
    project = ProjectFactory(overlap=2)
    for n in range(2):
        ItemFactory(project=project, transcript__external_id=f"t-{n}")
    labelled(project, "policy", "policy")
    labelled(project, "capability", "capability")
    return project


def test_judgements_are_stored_as_a_non_human_annotator(judged):
    summary = judgements_import(
        project=judged,
        stream=jsonl(
            {"id": "t-0", "values": labels("policy")},
            {"id": "t-1", "values": labels("policy")},
        ),
        judge="gpt-judge",
        now=NOW,
    )

    assert (summary.stored, summary.replaced) == (2, 0)
    judge = Annotation.objects.filter(is_human=False)
    assert judge.count() == 2
    assert {a.annotator.username for a in judge} == {"judge-gpt-judge"}
    assert not judge[0].annotator.is_active  # cannot log in
    # Not counted: the items keep their two human labels and their gold.
    assert list(Item.objects.values_list("annotations_count", flat=True)) == [2, 2]


def test_judges_stay_out_of_agreement_gold_and_review_but_meet_the_gold(judged):
    judgements_import(
        project=judged,
        stream=jsonl(
            {"id": "t-0", "values": labels("policy")},
            {"id": "t-1", "values": labels("policy")},  # gold says capability
        ),
        judge="gpt-judge",
        now=NOW,
    )
    item = Item.objects.order_by("pk")[1]
    item_rescore(item_id=item.pk, now=NOW)

    report = agreement_report(project=judged, resamples=0, now=NOW)
    review = review_item(project=judged, item_id=item.pk)

    assert report["counts"]["annotators"] == 4  # people only
    assert Gold.objects.get(item=item).values["refusal_type"]["value"] == "capability"
    assert review is not None
    assert all(not label.annotator.startswith("judge-") for label in review.labels)
    (judge,) = report["judges"]
    refusal = next(f for f in judge["fields"] if f["name"] == "refusal_type")
    assert (refusal["compared"], refusal["agreement"]) == (2, 0.5)
    policy = next(c for c in refusal["classes"] if c["value"] == "policy")
    assert (policy["precision"], policy["recall"]) == (0.5, 1.0)
    capability = next(c for c in refusal["classes"] if c["value"] == "capability")
    assert (capability["precision"], capability["recall"]) == (None, 0.0)


def test_unknown_ids_refuse_the_whole_file_listing_them(judged):
    with pytest.raises(ImportRejected) as exc:
        judgements_import(
            project=judged,
            stream=jsonl(
                {"id": "t-0", "values": labels("policy")},
                {"id": "nope-1", "values": labels("policy")},
                {"id": "nope-2", "values": labels("policy")},
            ),
            judge="j",
            now=NOW,
        )

    assert exc.value.errors == [
        "line 2: id 'nope-1': no such transcript in this project",
        "line 3: id 'nope-2': no such transcript in this project",
    ]
    assert not Annotation.objects.filter(is_human=False).exists()


def test_bad_values_and_lines_are_named(judged):
    with pytest.raises(ImportRejected) as exc:
        judgements_import(
            project=judged,
            stream=io.BytesIO(
                b'{"id": "t-0", "values": {"refusal_type": "maybe"}}\n{oops\n{"id": "t-1"}\n'
            ),
            judge="j",
            now=NOW,
        )

    assert exc.value.errors[0].startswith("line 1: values: ")
    assert exc.value.errors[1].startswith("line 2, column 2: not JSON")
    assert exc.value.errors[2] == 'line 3: needs "id" and "values"'


def test_importing_a_judge_again_replaces_its_labels(judged, tmp_path):
    path = tmp_path / "judge.jsonl"
    path.write_bytes(jsonl({"id": "t-0", "values": labels("policy")}).getvalue())

    call_command("import_judgements", judged.name, str(path), "--judge", "j")
    out = io.StringIO()
    call_command(
        "import_judgements", judged.name, str(path), "--judge", "j", stdout=out
    )

    assert "replacing 1" in out.getvalue()
    assert Annotation.objects.filter(is_human=False).count() == 1
    with pytest.raises(CommandError, match="--judge"):
        call_command(
            "import_judgements", judged.name, str(path), "--judge", "no spaces"
        )


def test_a_judge_named_like_a_person_is_refused_and_their_labels_kept(judged, tmp_path):
    person = Annotation.objects.filter(is_human=True)[0].annotator
    person.username = "judge-alice"
    person.save(update_fields=["username"])
    theirs = Annotation.objects.filter(annotator=person).count()
    path = tmp_path / "judge.jsonl"
    path.write_bytes(jsonl({"id": "t-0", "values": labels("policy")}).getvalue())

    with pytest.raises(CommandError, match="'judge-alice' is a person's account"):
        call_command("import_judgements", judged.name, str(path), "--judge", "alice")

    assert Annotation.objects.filter(annotator=person, is_human=True).count() == theirs
    assert not Annotation.objects.filter(is_human=False).exists()


def test_a_judge_named_after_a_person_lives_apart_from_them(judged):
    person = Annotation.objects.filter(is_human=True)[0].annotator

    judgements_import(
        project=judged,
        stream=jsonl({"id": "t-0", "values": labels("policy")}),
        judge=person.username,
        now=NOW,
    )

    assert Annotation.objects.filter(annotator=person, is_human=True).count() == 1
    judge = Annotation.objects.get(is_human=False).annotator
    assert judge.username == f"judge-{person.username}"
    assert not judge.is_active
    assert not judge.has_usable_password()


def test_a_number_json_cannot_hold_is_refused_with_its_line(judged):
    stream = io.BytesIO(
        b'{"id": "t-0", "values": {}}\n{"id": "t-1", "values": {"x": 1e400}}\n'
    )

    with pytest.raises(ImportRejected) as e:
        judgements_import(project=judged, stream=stream, judge="j", now=NOW)

    assert any(err.startswith("line 2") and "infinity" in err for err in e.value.errors)
    assert not Annotation.objects.filter(is_human=False).exists()


def test_an_id_int_refuses_is_an_unknown_transcript(judged):
    with pytest.raises(ImportRejected) as e:
        judgements_import(
            project=judged,
            stream=jsonl({"id": "²", "values": labels("policy")}),
            judge="j",
            now=NOW,
        )

    assert e.value.errors == ["line 1: id '²': no such transcript in this project"]
