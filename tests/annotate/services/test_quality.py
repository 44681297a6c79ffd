"""Quality control: gold questions mixed into the queue, the qualification,
the auto-pause, and answers kept apart from the labels."""

from __future__ import annotations

import io
import math

import orjson
import pytest
from django.core.exceptions import ValidationError

from annotate.models import (
    Annotation,
    CheckAnswer,
    GoldQuestion,
    Item,
    Membership,
    Project,
    Qualification,
)
from annotate.services.agreement import agreement_report
from annotate.services.imports import ImportRejected, transcripts_import
from annotate.services.quality import (
    accuracy_table,
    claim_blocked,
    gold_question_set,
    membership_pause_undo,
    qualification_retry,
)
from annotate.services.queue import assignment_skip
from tests.factories import ItemFactory, ProjectFactory
from tests.labelling import NOW, claim, labels, member, new_annotator, submit

pytestmark = pytest.mark.django_db

POLICY = {"refusal_type": "policy"}


def questions(project: Project, n: int) -> list[Item]:
    """n gold questions on items that need no more labels, as a reviewer's
    adjudicated items are."""
    items: list[Item] = ItemFactory.create_batch(n, project=project, slots_left=0)
    for item in items:
        gold_question_set(
            item=item, values=POLICY, source="manager", created_by=None, now=NOW
        )
    return items


def test_a_share_of_claims_serves_gold_questions_and_their_answers_are_no_labels():
    project = ProjectFactory(overlap=1, check_rate=0.2)
    asked = {i.pk for i in questions(project, 300)}
    ItemFactory.create_batch(600, project=project)
    user = new_annotator(project, "alice")

    served = []
    for _ in range(500):
        assignment = claim(user, project)
        served.append(assignment)
        submit(assignment, labels("policy"))

    checks = [a for a in served if a.chosen_by == "check"]
    # Binomial(500, 0.2): within 3.3 standard deviations.
    assert abs(len(checks) - 100) <= 3.3 * math.sqrt(500 * 0.2 * 0.8)
    assert {a.item_id for a in checks} <= asked
    assert CheckAnswer.objects.filter(right=True).count() == len(checks)
    assert Annotation.objects.count() == 500 - len(checks)
    # The questions' slots are untouched: answers are no labels.
    assert not Annotation.objects.filter(
        item_id__in=[a.item_id for a in checks]
    ).exists()
    assert member(user, project).checks_total == len(checks)
    assert member(user, project).annotations_count == 500  # work, for quotas


def test_a_gold_question_is_served_like_any_item():
    project = ProjectFactory(overlap=1, check_rate=0.5)
    (question,) = questions(project, 1)
    ItemFactory.create_batch(40, project=project)
    user = new_annotator(project, "alice")
    while (assignment := claim(user, project)).chosen_by != "check":
        assignment_skip(assignment=assignment, reason="", now=NOW)

    assert assignment.item_id == question.pk
    # Nothing on it says gold: the same transcript, no hidden key shown.
    assert assignment.item.transcript.messages
    assert assignment.prelabels is None


def test_answers_never_count_in_the_agreement():
    project = ProjectFactory(overlap=2, qualification_size=2)
    questions(project, 2)
    ItemFactory.create_batch(2, project=project)
    a, b = new_annotator(project, "a"), new_annotator(project, "b")
    for user in (a, b):
        for _ in range(4):
            submit(claim(user, project), labels("policy"))

    report = agreement_report(project=project, resamples=0, now=NOW)

    assert CheckAnswer.objects.count() == 4
    assert report["counts"]["annotations"] == 4
    assert report["counts"]["items"] == 2


def test_a_new_annotator_qualifies_on_questions_before_the_pool():
    # No gold questions after the qualification: the pool's item comes next.
    project = ProjectFactory(
        overlap=1, qualification_size=3, qualification_pass=0.6, check_rate=0.0
    )
    asked = {i.pk for i in questions(project, 4)}
    pool = ItemFactory(project=project)
    passer, failer = new_annotator(project, "pass"), new_annotator(project, "fail")

    first = [claim(passer, project) for _ in range(1)][0]
    assert first.item_id in asked
    submit(first, labels("policy"))
    submit(claim(passer, project), labels("none"))  # one wrong
    submit(claim(passer, project), labels("policy"))
    for _ in range(3):
        submit(claim(failer, project), labels("none"))

    assert member(passer, project).qualification == Qualification.PASSED
    assert claim(passer, project).item_id == pool.pk
    assert member(failer, project).qualification == Qualification.FAILED
    assert claim(failer, project) is None
    assert "did not pass" in claim_blocked(membership=member(failer, project), now=NOW)
    qualification_retry(membership=member(failer, project))
    assert claim(failer, project).item_id in asked  # the one question left


def test_a_qualification_out_of_questions_settles_on_the_answers_given():
    project = ProjectFactory(overlap=1, qualification_size=5, check_rate=0.0)
    questions(project, 1)
    ItemFactory(project=project)
    user = new_annotator(project, "alice")
    submit(claim(user, project), labels("policy"))

    assert claim(user, project) is not None
    assert member(user, project).qualification == Qualification.PASSED


def test_an_annotator_falling_below_the_bar_is_paused_with_the_evidence_and_undone():
    project = ProjectFactory(overlap=1, check_rate=0.5, pause_below=0.5, pause_window=4)
    questions(project, 30)
    ItemFactory.create_batch(30, project=project)
    user = new_annotator(project, "careless")

    while member(user, project).paused_at is None:
        assignment = claim(user, project)
        assert assignment is not None
        submit(assignment, labels("none"))  # wrong on every question

    paused = member(user, project)
    assert (
        paused.paused_reason == "0 of the last 4 gold questions right (0%), below 50%."
    )
    assert claim(user, project) is None
    assert "paused" in claim_blocked(membership=paused, now=NOW)
    (row,) = [r for r in accuracy_table(project) if r["membership"].pk == paused.pk]
    assert row["right"] == 0.0
    assert row["fields"] == [{"label": "Refusal type", "share": 0.0, "n": 4}]

    membership_pause_undo(membership=paused)
    assert claim(user, project) is not None


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"refusal_type": "sometimes"}, "refusal_type"),
        ({"colour": "blue"}, "colour"),
        ({"notes": "x"}, "notes"),
    ],
)
def test_a_bad_expected_answer_is_refused_naming_the_field(project, values, named):
    item = ItemFactory(project=project)
    with pytest.raises(ValidationError) as e:
        gold_question_set(
            item=item, values=values, source="manager", created_by=None, now=NOW
        )
    assert list(e.value.message_dict) == [named]
    assert Project.objects.get(pk=project.pk).questions_count == 0


def test_a_skipped_question_gives_back_no_slot():
    project = ProjectFactory(overlap=1, qualification_size=1)
    (question,) = questions(project, 1)
    user = new_annotator(project, "alice")
    assignment = claim(user, project)
    assert assignment.chosen_by == "check"

    assignment_skip(assignment=assignment, reason="", now=NOW)

    assert Item.objects.get(pk=question.pk).slots_left == 0
    assert Membership.objects.get(user=user).skips_count == 1


def import_rows(project, rows) -> None:
    body = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    transcripts_import(
        project=project, stream=io.BytesIO(body), filename="q.jsonl", now=NOW
    )


def test_an_import_makes_rows_with_an_expected_answer_gold_questions(project):
    import_rows(
        project,
        [
            {"prompt": "Q1?", "response": "No.", "metadata": {"_expected": POLICY}},
            {"prompt": "Q2?", "response": "Yes."},
        ],
    )

    (question,) = GoldQuestion.objects.all()
    assert question.values == POLICY
    assert question.source == "import"
    assert question.item.transcript.messages[0]["content"] == "Q1?"
    assert Project.objects.get(pk=project.pk).questions_count == 1
    # The answer is hidden from annotators like every "_" key.
    assert "_expected" not in question.item.transcript.annotator_metadata


def test_a_bad_expected_answer_rejects_the_import_naming_line_and_field(project):
    with pytest.raises(ImportRejected) as e:
        import_rows(
            project,
            [
                {"prompt": "Q1?", "response": "No."},
                {
                    "prompt": "Q2?",
                    "response": "No.",
                    "metadata": {"_expected": {"refusal_type": "maybe"}},
                },
            ],
        )

    assert e.value.errors[0].startswith("line 2, metadata._expected: refusal_type:")
    assert not GoldQuestion.objects.exists()
    assert not Item.objects.exists()
