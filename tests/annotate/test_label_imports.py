"""Labels and decisions from elsewhere: stored as submits and decisions store them, all or none."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from annotate.models import (
    Annotation,
    Assignment,
    Decision,
    Gold,
    Item,
    Membership,
    Project,
)
from annotate.queries import review_item
from annotate.services.agreement import agreement_report
from annotate.services.imports import ImportRejected
from annotate.services.judges import judgements_import
from annotate.services.label_imports import annotations_import, decisions_import
from annotate.services.queue import annotation_submit, item_claim_next
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory
from tests.labelling import labels, member

pytestmark = pytest.mark.django_db

NOW = timezone.now()

# (annotator, transcript, refusal type), in the order given: t-1 splits, so
# it gets one more label (carol's) beyond the overlap of 2.
PLAN = [
    ("ann", "t-0", "policy"),
    ("ann", "t-1", "policy"),
    ("ann", "t-2", "capability"),
    ("ben", "t-0", "policy"),
    ("ben", "t-1", "capability"),
    ("ben", "t-2", "capability"),
    ("carol", "t-1", "policy"),
]


def jsonl(*records: object) -> io.BytesIO:
    return io.BytesIO(b"".join(json.dumps(r).encode() + b"\n" for r in records))


def new_project() -> Project:
    project = ProjectFactory(overlap=2, extra_labels_max=1, disagreement_threshold=0.3)
    for n in range(3):
        ItemFactory(project=project, transcript__external_id=f"t-{n}")
    return project


def when(n: int):
    return NOW - timedelta(days=10) + timedelta(minutes=n)


def state(project: Project) -> dict[str, Any]:
    """Everything the kept counters, agreement, gold and review read."""
    project.refresh_from_db()
    items = Item.objects.filter(project=project).order_by("transcript__external_id")
    report = agreement_report(project=project, resamples=0, now=NOW)
    del report["timings"]  # how long it took, not what it found
    return {
        "annotations": sorted(
            (
                a.item.transcript.external_id,
                a.annotator.username,
                a.values,
                a.seconds_spent,
                a.created_at,
                a.is_human,
            )
            for a in Annotation.objects.filter(item__project=project)
        ),
        "claims": sorted(
            (a.item.transcript.external_id, a.annotator.username, a.status)
            for a in Assignment.objects.filter(project=project)
        ),
        "items": [
            (i.annotations_count, i.slots_left, i.reserved, i.disagreement)
            for i in items
        ],
        "gold": [
            Gold.objects.filter(item=i).values_list("values", flat=True).first()
            for i in items
        ],
        "project": (project.annotations_total, project.items_complete),
        "members": sorted(
            (m.user.username, m.annotations_count, m.role)
            for m in Membership.objects.filter(project=project)
        ),
        "agreement": json.dumps(report, sort_keys=True, default=str),
        "review": [
            review_item(project=project, item_id=i.pk) is not None for i in items
        ],
    }


def test_an_import_leaves_the_state_submitting_the_same_labels_leaves(
    django_capture_on_commit_callbacks,
):
    submitted = new_project()
    for name in ("ann", "ben", "carol"):
        MembershipFactory(project=submitted, user=UserFactory(username=name))
    for n, (name, external_id, refusal_type) in enumerate(PLAN):
        user = get_user_model().objects.get(username=name)
        assignment = item_claim_next(membership=member(user, submitted), now=when(n))
        assert assignment is not None
        assert assignment.item.transcript.external_id == external_id
        with django_capture_on_commit_callbacks(execute=True):  # the rescoring
            annotation_submit(
                assignment=assignment,
                values=labels(refusal_type),
                client_uuid=uuid.uuid4(),
                seconds=n + 1,
                now=when(n),
            )
    expected = state(submitted)
    # The submitted project's rows go, so the imported one has the same names.
    Project.objects.filter(pk=submitted.pk).delete()

    imported = new_project()
    summary = annotations_import(
        actor=None,
        project=imported,
        stream=jsonl(
            *(
                {
                    "id": external_id,
                    "annotator": name,
                    "values": labels(refusal_type),
                    "seconds": n + 1,
                    "created_at": when(n).isoformat(),
                }
                for n, (name, external_id, refusal_type) in enumerate(PLAN)
            )
        ),
        now=NOW,
    )

    assert (summary.stored, summary.items) == (7, 3)
    actual = state(imported)
    assert actual == expected
    # What the comparison is about, spelled out once.
    assert actual["items"][1][:2] == (3, 0)  # t-1: its extra label taken
    assert actual["project"] == (7, 3)


def test_new_annotators_become_annotator_members_who_cannot_log_in(project, manager):
    ItemFactory(project=project, transcript__external_id="t-0")

    summary = annotations_import(
        actor=None,
        project=project,
        stream=jsonl(
            {"id": "t-0", "annotator": "dora", "values": labels("policy")},
            {"id": "t-0", "annotator": "mona", "values": labels("policy")},
        ),
        now=NOW,
    )

    assert summary.annotators_created == ["dora"]
    dora = Membership.objects.get(project=project, user__username="dora")
    assert dora.role == "annotator"
    assert not dora.user.has_usable_password()
    # An existing member keeps their role.
    assert Membership.objects.get(project=project, user=manager).role == "manager"
    annotation = Annotation.objects.get(annotator=dora.user)
    assert annotation.created_at == NOW  # none in the file


def test_one_bad_line_rejects_the_file_naming_line_and_field(project):
    ItemFactory(project=project, transcript__external_id="t-0")
    ItemFactory(project=project, transcript__external_id="t-1")
    bad = labels("policy") | {"refusal_type": "nonsense"}

    with pytest.raises(ImportRejected) as rejected:
        annotations_import(
            actor=None,
            project=project,
            stream=jsonl(
                {"id": "t-0", "annotator": "dora", "values": labels("policy")},
                {"id": "t-1", "annotator": "dora", "values": bad},
                {"id": "t-9", "annotator": "dora", "values": labels("policy")},
                {
                    "id": "t-1",
                    "annotator": "eve",
                    "values": labels("policy"),
                    "seconds": -1,
                },
                {"id": "t-0", "annotator": "dora", "values": labels("policy")},
            ),
            now=NOW,
        )

    errors = rejected.value.errors
    assert errors[0].startswith("line 2, values: refusal_type:")
    assert errors[1] == "line 3, id: 't-9': no such transcript in this project"
    assert errors[2] == "line 4, seconds: must be a number of seconds, 0 or more"
    assert errors[3] == "line 5, id: dora labels it twice (line 1)"
    assert len(errors) == 4
    assert not Annotation.objects.exists()
    assert not get_user_model().objects.filter(username__in=["dora", "eve"]).exists()
    assert Project.objects.get(pk=project.pk).annotations_total == 0


def test_a_label_already_there_is_an_error(project, labelled):
    ItemFactory(project=project, transcript__external_id="t-0")
    (first,) = labelled(project, "policy")

    with pytest.raises(ImportRejected) as rejected:
        annotations_import(
            actor=None,
            project=project,
            stream=jsonl(
                {"id": "t-0", "annotator": first.username, "values": labels("none")}
            ),
            now=NOW,
        )

    assert rejected.value.errors == [
        f"line 1, id: {first.username} already labelled or claimed it"
    ]
    assert Annotation.objects.get().values["refusal_type"] == "policy"


def test_an_annotator_cannot_take_a_judges_name(project):
    ItemFactory(project=project, transcript__external_id="t-0")
    judgements_import(
        project=project,
        stream=jsonl({"id": "t-0", "values": labels("policy")}),
        judge="gpt-judge",
        now=NOW,
    )

    with pytest.raises(ImportRejected) as rejected:
        annotations_import(
            actor=None,
            project=project,
            stream=jsonl(
                {"id": "t-0", "annotator": "gpt-judge", "values": labels("policy")},
                {"id": "t-0", "annotator": "judge-x", "values": labels("policy")},
            ),
            now=NOW,
        )

    assert [e.split(":")[0] for e in rejected.value.errors] == [
        "line 1, annotator",
        "line 2, annotator",
    ]
    assert "judge's name" in rejected.value.errors[0]


def test_a_json_array_is_read_too(project):
    ItemFactory(project=project, transcript__external_id="t-0")

    summary = annotations_import(
        actor=None,
        project=project,
        stream=io.BytesIO(
            json.dumps(
                [{"id": "t-0", "annotator": "dora", "values": labels("policy")}]
            ).encode()
        ),
        now=NOW,
    )

    assert summary.stored == 1


def test_decisions_are_recorded_as_the_adjudication_page_records_them(
    project, reviewer, manager
):
    ItemFactory(project=project, transcript__external_id="t-0")
    ItemFactory(project=project, transcript__external_id="t-1")

    summary = decisions_import(
        project=project,
        stream=jsonl(
            {"id": "t-0", "values": labels("policy"), "reason": "clear policy"},
            {
                "id": "t-1",
                "values": labels("capability"),
                "reason": "says it cannot",
                "reviewer": "mona",
            },
        ),
        reviewer=reviewer,
        now=NOW,
    )

    assert summary.stored == 2
    decisions = Decision.objects.order_by("item__transcript__external_id")
    assert [(d.reviewer.username, d.number, d.reason) for d in decisions] == [
        ("rita", 1, "clear policy"),
        ("mona", 1, "says it cannot"),
    ]
    gold = Gold.objects.get(item__transcript__external_id="t-1")
    assert gold.values["refusal_type"]["value"] == "capability"


def test_a_bad_decision_rejects_the_file(project, reviewer, annotator):
    ItemFactory(project=project, transcript__external_id="t-0")
    ItemFactory(project=project, transcript__external_id="t-1")

    with pytest.raises(ImportRejected) as rejected:
        decisions_import(
            project=project,
            stream=jsonl(
                {"id": "t-0", "values": labels("policy"), "reason": "fine"},
                {"id": "t-1", "values": labels("policy"), "reason": "  "},
                {"id": "t-1", "values": {"refusal_type": "x"}, "reason": "a"},
                {
                    "id": "t-0",
                    "values": labels("policy"),
                    "reason": "b",
                    "reviewer": "alice",
                },
            ),
            reviewer=reviewer,
            now=NOW,
        )

    # The decision service's own refusals come after the file's shape errors.
    errors = rejected.value.errors
    assert errors[0] == "line 3, id: decided twice (line 2)"
    assert errors[1] == "line 4, reviewer: not a reviewer or manager of this project"
    assert errors[2].startswith("line 2, reason: Say why")
    assert len(errors) == 3
    assert not Decision.objects.exists()
    assert not Gold.objects.exists()
