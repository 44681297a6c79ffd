"""An archived project is read-only: every write path refuses, saying why; it
stays readable and exportable, and unarchiving makes it writable again."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from annotate.models import (
    Annotation,
    Assignment,
    Batch,
    GoldQuestion,
    Item,
    Job,
    JobKind,
    Membership,
    Project,
    QueueStrategy,
    Role,
)
from annotate.services.assignments import (
    allocations_move,
    batch_create,
    membership_quota_set,
)
from annotate.services.care import item_flag_set, project_care_set
from annotate.services.exports import export_options_parse
from annotate.services.gold import decision_record
from annotate.services.imports import transcripts_import
from annotate.services.jobs import export_job_create, import_job_create
from annotate.services.judges import judgements_import
from annotate.services.learning import project_queue_configure, queue_job_create
from annotate.services.projects import project_archive, project_unarchive
from annotate.services.quality import (
    gold_question_remove,
    gold_question_set,
    project_quality_set,
)
from annotate.services.queue import (
    annotation_submit,
    annotation_update,
    assignment_skip,
)
from tests.factories import ItemFactory, UserFactory
from tests.labelling import claim, label, labels, new_annotator

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def archived(project) -> Project:
    return project_archive(actor=None, project=project, now=NOW)


def refused(call) -> str:
    with pytest.raises(ValidationError) as e:
        call()
    assert e.value.code == "archived"
    return e.value.messages[0]


def a_file() -> io.BytesIO:
    row = {"prompt": "Q?", "response": "A.", "model": "m"}
    return io.BytesIO(json.dumps(row).encode() + b"\n")


def test_archiving_ends_the_live_claims_and_returns_their_slots(project, annotator):
    item = ItemFactory(project=project)
    assignment = claim(annotator, project)

    archived(project)

    assert Assignment.objects.get(pk=assignment.pk).status == "expired"
    assert Item.objects.get(pk=item.pk).slots_left == 3


def test_archiving_twice_keeps_the_first_time(project):
    first = archived(project).archived_at

    again = project_archive(actor=None, project=project, now=NOW + timedelta(days=1))

    assert again.archived_at == first


def test_an_archived_project_has_nothing_to_claim(project, annotator):
    ItemFactory(project=project)
    archived(project)

    assert claim(annotator, project) is None


def test_a_submit_on_a_claim_archiving_ended_is_refused(project, annotator):
    ItemFactory(project=project)
    assignment = claim(annotator, project)  # its project read before archiving
    archived(project)

    message = refused(
        lambda: annotation_submit(
            assignment=assignment,
            values=labels("policy"),
            client_uuid=uuid.uuid4(),
            seconds=1.0,
            now=NOW,
        )
    )

    assert "labels can no longer be submitted" in message
    assert not Annotation.objects.exists()
    assert Item.objects.get().slots_left == 3


def test_skips_and_corrections_are_refused(project, annotator):
    ItemFactory(project=project)
    ItemFactory(project=project)
    annotation = label(annotator, project, "policy")
    assignment = claim(annotator, project)
    archived(project)
    assignment.project = Project.objects.get(pk=project.pk)

    refused(lambda: assignment_skip(assignment=assignment, reason="", now=NOW))
    refused(
        lambda: annotation_update(
            annotation=annotation, values=labels("scope"), now=NOW
        )
    )
    assert Annotation.objects.get().values["refusal_type"] == "policy"


def test_a_decision_is_refused(project, reviewer):
    pk = ItemFactory(project=project).pk
    archived(project)
    item = Item.objects.select_related("project").get(pk=pk)

    refused(
        lambda: decision_record(
            item=item, reviewer=reviewer, values=labels("policy"), reason="x", now=NOW
        )
    )


def test_imports_are_refused_before_and_while_they_run(project, manager):
    project = archived(project)

    message = refused(
        lambda: import_job_create(
            project=project,
            upload=a_file(),
            filename="t.jsonl",
            fmt=None,
            created_by=manager,
            now=NOW,
        )
    )
    assert "nothing can be imported" in message
    assert not Job.objects.exists()
    # One queued before archiving meets the project as it is when it runs.
    before = Project.objects.get(pk=project.pk)
    before.archived_at = None
    refused(
        lambda: transcripts_import(
            project=before, stream=a_file(), filename="t.jsonl", now=NOW
        )
    )
    refused(
        lambda: judgements_import(project=project, stream=a_file(), judge="j", now=NOW)
    )
    assert not project.transcripts.exists()


def test_the_queue_cannot_be_changed_or_retrained(project):
    project = archived(project)

    refused(
        lambda: project_queue_configure(
            project=project,
            strategy=QueueStrategy.RANDOM,
            settings={},
            created_by=None,
            now=NOW,
        )
    )
    refused(
        lambda: queue_job_create(
            project=project, kind=JobKind.RETRAIN, created_by=None, now=NOW
        )
    )


def test_assignments_quality_control_and_care_are_refused(project, annotator, manager):
    item = ItemFactory(project=project)
    project = archived(project)
    item.refresh_from_db()
    member = Membership.objects.get(project=project, user=annotator)

    messages = [
        refused(
            lambda: batch_create(
                project=project,
                name="b",
                selection={},
                usernames=[annotator.username],
                mode=Batch.Mode.EACH,
                created_by=manager,
                now=NOW,
            )
        ),
        refused(
            lambda: allocations_move(
                actor=None,
                project=project,
                from_username=annotator.username,
                to_usernames=[manager.username],
                now=NOW,
            )
        ),
        refused(
            lambda: membership_quota_set(
                actor=None, membership=member, quota_day=5, quota_total=None, now=NOW
            )
        ),
        refused(
            lambda: gold_question_set(
                item=item,
                values={"refusal_type": "none"},
                source="manager",
                created_by=manager,
                now=NOW,
            )
        ),
        refused(lambda: gold_question_remove(item=item)),
        refused(
            lambda: project_quality_set(
                now=timezone.now(),
                actor=None,
                project=project,
                check_rate=0.1,
                qualification_size=0,
                qualification_pass=0.8,
                pause_below=None,
                pause_window=20,
            )
        ),
        refused(
            lambda: item_flag_set(
                item=item, flagged=True, note="gore", by=manager, now=NOW
            )
        ),
        refused(
            lambda: project_care_set(
                now=timezone.now(),
                actor=None,
                project=project,
                flagged_cap=3,
                flagged_window=timedelta(hours=4),
            )
        ),
    ]

    assert messages[0].startswith(f"{project.name} is archived, so no work can be")
    assert not Batch.objects.exists()
    assert Membership.objects.get(pk=member.pk).quota_day is None
    assert not GoldQuestion.objects.exists()
    assert not Item.objects.get(pk=item.pk).distressing


def test_an_archived_project_is_still_exported(project, reviewer):
    archived(project)

    job = export_job_create(
        project=project,
        options=export_options_parse({}),
        created_by=reviewer,
        now=NOW,
    )

    assert job.kind == "export"


def test_unarchiving_makes_it_writable_again(project):
    ItemFactory(project=project)
    archived(project)

    project_unarchive(now=timezone.now(), actor=None, project=project)

    assert Project.objects.get(pk=project.pk).archived_at is None
    assert claim(new_annotator(project, "ann"), project) is not None
    assert (
        project_unarchive(now=timezone.now(), actor=None, project=project).archived_at
        is None
    )  # idempotent


def test_membership_changes_stay_open(project):
    from annotate.services.members import membership_add

    archived(project)

    added = membership_add(
        actor=None,
        project=project,
        username=UserFactory().username,
        role=Role.REVIEWER,
        now=NOW,
    )

    assert added.membership.role == "reviewer"


def test_a_live_claim_archiving_missed_is_refused_at_submit(project, annotator):
    # A claim made while the archive was committing: still live, and the
    # submit's request read the project before the archive was in.
    ItemFactory(project=project)
    assignment = claim(annotator, project)
    Project.objects.filter(pk=project.pk).update(archived_at=NOW)

    refused(
        lambda: annotation_submit(
            assignment=assignment,
            values=labels("policy"),
            client_uuid=uuid.uuid4(),
            seconds=1.0,
            now=NOW,
        )
    )

    assert not Annotation.objects.exists()
    assert Project.objects.get(pk=project.pk).annotations_total == 0
