"""The audit log: each audited change writes one entry, by its actor, with
the changed fields before and after, in the change's transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from annotate.models import (
    AuditAction,
    AuditEntry,
    Batch,
    Item,
    Membership,
    Project,
    Role,
)
from annotate.services.assignments import (
    allocations_move,
    batch_create,
    membership_quota_set,
)
from annotate.services.care import project_care_set
from annotate.services.gold import decision_record
from annotate.services.members import (
    membership_add,
    membership_deactivate,
    membership_reactivate,
    membership_role_set,
)
from annotate.services.projects import project_archive, project_unarchive
from annotate.services.quality import project_quality_set
from annotate.services.queue import annotation_update
from tests.annotate.services.test_projects import update
from tests.factories import ItemFactory, ProjectFactory
from tests.labelling import NOW, claim, labels, new_annotator, submit

pytestmark = pytest.mark.django_db


def the_entry(**filters) -> AuditEntry:
    (entry,) = AuditEntry.objects.filter(**filters)
    return entry


def test_a_first_submit_writes_no_entry_and_a_correction_writes_the_changed_fields(
    project, annotator
):
    ItemFactory(project=project)
    annotation = submit(claim(annotator, project), labels("policy"))
    assert not AuditEntry.objects.exists()

    annotation_update(
        annotation=annotation,
        values={**labels("policy"), "explain": 1},
        now=NOW + timedelta(minutes=5),
    )

    entry = the_entry()
    assert entry.project == project
    assert entry.actor == annotator
    assert entry.action == AuditAction.ANNOTATION_CORRECT
    assert (entry.object_type, entry.object_id) == ("annotation", annotation.pk)
    assert entry.before == {"values": {"explain": 4}}
    assert entry.after == {"values": {"explain": 1}}
    assert entry.created_at == NOW + timedelta(minutes=5)


def test_a_correction_that_changes_nothing_writes_no_entry(project, annotator):
    ItemFactory(project=project)
    annotation = submit(claim(annotator, project), labels("policy"))

    annotation_update(annotation=annotation, values=labels("policy"), now=NOW)

    assert not AuditEntry.objects.exists()


def test_a_decision_records_the_gold_it_replaced_and_the_reason(labelled, reviewer_of):
    project = ProjectFactory(overlap=2)
    pk = ItemFactory(project=project).pk
    labelled(project, "policy", "policy")
    item = Item.objects.select_related("project__label_set_version").get(pk=pk)
    reviewer = reviewer_of(project)

    decision = decision_record(
        item=item,
        reviewer=reviewer,
        values=labels("capability"),
        reason="The model said it cannot.",
        now=NOW,
    )

    entry = the_entry(action=AuditAction.DECISION_RECORD)
    assert entry.actor == reviewer
    assert (entry.object_type, entry.object_id) == ("decision", decision.pk)
    assert entry.after["reason"] == "The model said it cannot."
    assert entry.after["values"]["refusal_type"] == "capability"
    assert entry.before["values"]["refusal_type"] == "policy"
    assert "request_harm" not in entry.after["values"]  # unchanged: harmful


def test_adding_a_member_is_audited_with_their_role(project, manager, outsider):
    added = membership_add(
        project=project, username="charlie", role=Role.REVIEWER, actor=manager, now=NOW
    )

    entry = the_entry(action=AuditAction.MEMBER_ADD)
    assert (entry.actor, entry.object_id) == (manager, added.membership.pk)
    assert entry.object_repr == "charlie"
    assert (entry.before, entry.after) == ({}, {"role": "reviewer"})


def test_a_role_change_is_audited_once(project, manager, annotator):
    m = Membership.objects.get(user=annotator, project=project)

    membership_role_set(membership=m, role=Role.REVIEWER, actor=manager, now=NOW)
    membership_role_set(membership=m, role=Role.REVIEWER, actor=manager, now=NOW)

    entry = the_entry(action=AuditAction.ROLE_CHANGE)
    assert entry.actor == manager
    assert entry.object_repr == "alice"
    assert (entry.before, entry.after) == ({"role": "annotator"}, {"role": "reviewer"})


def test_a_refused_change_leaves_no_entry(project, manager):
    m = Membership.objects.get(user=manager, project=project)

    with pytest.raises(ValidationError):
        membership_role_set(membership=m, role=Role.ANNOTATOR, actor=manager, now=NOW)

    assert not AuditEntry.objects.exists()


def test_deactivating_and_reactivating_are_audited_once_each(
    project, manager, annotator
):
    m = Membership.objects.get(user=annotator, project=project)

    membership_deactivate(membership=m, actor=manager, now=NOW)
    membership_deactivate(membership=m, actor=manager, now=NOW)
    membership_reactivate(membership=m, actor=None, now=NOW)
    membership_reactivate(membership=m, actor=None, now=NOW)

    off = the_entry(action=AuditAction.MEMBER_DEACTIVATE)
    on = the_entry(action=AuditAction.MEMBER_REACTIVATE)
    assert (off.actor, off.before, off.after) == (
        manager,
        {"is_active": True},
        {"is_active": False},
    )
    assert (on.actor, on.before, on.after) == (
        None,
        {"is_active": False},
        {"is_active": True},
    )


def test_a_batch_and_a_move_are_audited_with_who_got_what(manager):
    project = ProjectFactory(overlap=2)
    ItemFactory.create_batch(3, project=project)
    new_annotator(project, "alice"), new_annotator(project, "bob")

    result = batch_create(
        project=project,
        name="first",
        selection={},
        usernames=["alice"],
        mode=Batch.Mode.EACH,
        created_by=manager,
        now=NOW,
    )
    allocations_move(
        project=project,
        from_username="alice",
        to_usernames=["bob"],
        actor=manager,
        now=NOW,
    )

    batch = the_entry(action=AuditAction.BATCH_CREATE)
    assert (batch.actor, batch.object_id) == (manager, result.batch.pk)
    assert batch.after == {"mode": "each", "items_count": 3, "assigned": {"alice": 3}}
    move = the_entry(action=AuditAction.ALLOCATIONS_MOVE)
    assert move.object_repr == "alice"
    assert move.before == {"assigned": {"alice": 3}}
    assert move.after == {"assigned": {"bob": 3}}


def test_a_quota_change_records_only_the_quota_that_changed(
    project, manager, annotator
):
    m = Membership.objects.get(user=annotator, project=project)
    membership_quota_set(
        membership=m, quota_day=10, quota_total=None, actor=manager, now=NOW
    )
    membership_quota_set(
        membership=m, quota_day=10, quota_total=None, actor=manager, now=NOW
    )

    entry = the_entry(action=AuditAction.QUOTA_SET)
    assert (entry.before, entry.after) == ({"quota_day": None}, {"quota_day": 10})


def test_a_settings_change_records_only_the_changed_fields(project):
    update(project, name="Renamed", lease=timedelta(minutes=45))
    update(Project.objects.get(pk=project.pk), name="Renamed")  # no change

    entry = the_entry(action=AuditAction.SETTINGS_CHANGE)
    assert entry.before == {"name": project.name, "lease": 30 * 60.0}
    assert entry.after == {"name": "Renamed", "lease": 45 * 60.0}


def test_a_queue_settings_change_records_only_the_settings_changed(project):
    update(project, queue_settings={"exploration": 0.2})

    entry = the_entry(action=AuditAction.SETTINGS_CHANGE)
    assert entry.before == {"queue_settings": {"exploration": 0.1}}
    assert entry.after == {"queue_settings": {"exploration": 0.2}}


def test_an_unconfirmed_settings_change_writes_no_entry(labelled):
    project = ProjectFactory(overlap=1)
    ItemFactory(project=project)
    labelled(project, "policy")

    assert not update(project, overlap=2).applied
    assert not AuditEntry.objects.exists()


def test_quality_and_care_settings_record_their_changed_fields(project, manager):
    project_quality_set(
        project=project,
        check_rate=0.1,
        qualification_size=project.qualification_size,
        qualification_pass=project.qualification_pass,
        pause_below=None,
        pause_window=project.pause_window,
        actor=manager,
        now=NOW,
    )
    project_care_set(
        project=project,
        flagged_cap=3,
        flagged_window=project.flagged_window,
        actor=manager,
        now=NOW,
    )

    quality, care = AuditEntry.objects.order_by("pk")
    assert (quality.before, quality.after) == (
        {"check_rate": 0.05},
        {"check_rate": 0.1},
    )
    assert (care.before, care.after) == ({"flagged_cap": None}, {"flagged_cap": 3})
    assert {quality.actor, care.actor} == {manager}


def test_archiving_and_unarchiving_are_audited_once_each(project, manager):
    project_archive(project=project, actor=manager, now=NOW)
    project_archive(project=project, actor=manager, now=NOW)
    project_unarchive(project=project, actor=manager, now=NOW)
    project_unarchive(project=project, actor=manager, now=NOW)

    archived = the_entry(action=AuditAction.ARCHIVE)
    assert archived.after == {"archived_at": NOW.isoformat()}
    unarchived = the_entry(action=AuditAction.UNARCHIVE)
    assert unarchived.before == {"archived_at": NOW.isoformat()}
    assert unarchived.after == {"archived_at": None}
