"""The labelling loop: claim, submit, skip, expire, correct."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import F

from annotate import tasks
from annotate.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    Item,
    Membership,
    Project,
    Transcript,
)
from annotate.queries import QUEUE_ORDER, QUEUE_WHERE
from annotate.rawsql import Columns, for_update

EDIT_WINDOW = timedelta(hours=1)


# The claim and the submit run on every labelling step: fixed SQL, not the
# ORM (rawsql.py says why).
_ASSIGNMENT = Columns(Assignment, "a")
_ITEM = Columns(Item, "i")
_TRANSCRIPT = Columns(Transcript, "t")
_ANNOTATION = Columns(Annotation, "n")
_LIVE_SQL = f"""
    SELECT {_ASSIGNMENT.sql}, {_ITEM.sql}, {_TRANSCRIPT.sql}
    FROM annotate_assignment a
    JOIN annotate_item i ON i.transcript_id = a.item_id
    JOIN annotate_transcript t ON t.id = a.item_id
    WHERE a.project_id = %s AND a.annotator_id = %s AND a.status = 'live'"""  # noqa: S608 - fixed SQL, no input
NEXT_ITEM_SQL = f"""
    SELECT {_ITEM.sql}, {_TRANSCRIPT.sql}
    FROM annotate_item i JOIN annotate_transcript t ON t.id = i.transcript_id
    WHERE {QUEUE_WHERE} {QUEUE_ORDER} LIMIT 1"""  # noqa: S608 - fixed SQL, no input
NEXT_ITEM_LOCK = "FOR NO KEY UPDATE OF i SKIP LOCKED"
# An expired claim of this annotator on the item is reused (one row per pair).
_CLAIM_SQL = """
    INSERT INTO annotate_assignment
        (item_id, project_id, annotator_id, status, claimed_at, expires_at, skip_reason)
    VALUES (%s, %s, %s, 'live', %s, %s, '')
    ON CONFLICT (item_id, annotator_id) DO UPDATE SET status = 'live',
        claimed_at = excluded.claimed_at, expires_at = excluded.expires_at,
        skip_reason = ''
    RETURNING id"""


def item_claim_next(*, membership: Membership, now: datetime) -> Assignment | None:
    """Lease the next item of the annotator's queue; None when it is empty.

    A live claim is returned as it is, so a reloaded tab (or a second one) gets
    the same item back instead of spending a second slot. A claim past its
    lease is expired here (lazily) as well as by the periodic job; when
    nothing is open, other annotators' stale claims in the project are expired
    and the queue is tried once more.
    """
    try:
        return _claim_next(membership=membership, now=now)
    except IntegrityError:
        # Two tabs claimed at once: the one-live-claim constraint refused
        # this one, and the other tab's claim, now committed, is the answer.
        return _claim_next(membership=membership, now=now)


@transaction.atomic
def _claim_next(*, membership: Membership, now: datetime) -> Assignment | None:
    project = membership.project
    with connection.cursor() as cursor:
        cursor.execute(_LIVE_SQL, [project.pk, membership.user_id])
        row = cursor.fetchone()
    if row is not None:
        current = _ASSIGNMENT.load(row)
        if current.expires_at > now:
            current.project = project
            current.item = _ITEM.load(row, _ASSIGNMENT.width)
            current.item.transcript = _TRANSCRIPT.load(
                row, _ASSIGNMENT.width + _ITEM.width
            )
            return current
        _assignments_release([current], status=AssignmentStatus.EXPIRED)
    claimed = _claim(project=project, annotator_id=membership.user_id, now=now)
    if claimed is None and assignments_expire(now=now, project=project):
        claimed = _claim(project=project, annotator_id=membership.user_id, now=now)
    return claimed


def _claim(*, project: Project, annotator_id: int, now: datetime) -> Assignment | None:
    # SKIP LOCKED: concurrent claimers step over an item being claimed instead
    # of queueing behind its lock, so nobody waits and nothing is over-filled
    # (the lock re-checks slots_left > 0 on the row's newest version).
    # NO KEY: the lock still lets others insert rows that point at the item
    # (annotations, claims), whose foreign-key checks would otherwise wait on
    # it and close deadlock cycles. OF i: the transcript row is not locked.
    sql = for_update(NEXT_ITEM_SQL, NEXT_ITEM_LOCK)
    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.execute(sql, [project.pk, annotator_id])
        row = cursor.fetchone()
        if row is None:
            return None
        item = _ITEM.load(row)
        item.transcript = _TRANSCRIPT.load(row, _ITEM.width)
        cursor.execute(
            "UPDATE annotate_item SET slots_left = slots_left - 1 "
            "WHERE transcript_id = %s",
            [item.pk],
        )
        expires_at = now + project.lease
        cursor.execute(
            _CLAIM_SQL,
            [
                item.pk,
                project.pk,
                annotator_id,
                ops.adapt_datetimefield_value(now),
                ops.adapt_datetimefield_value(expires_at),
            ],
        )
        (assignment_id,) = cursor.fetchone()
    assignment = Assignment(
        id=assignment_id,
        item=item,
        project=project,
        annotator_id=annotator_id,
        status=AssignmentStatus.LIVE,
        claimed_at=now,
        expires_at=expires_at,
    )
    assignment._state.adding = False
    return assignment


_SUBMITTED_SQL = f"""
    SELECT {_ANNOTATION.sql} FROM annotate_annotation n
    WHERE n.item_id = %s AND n.annotator_id = %s"""  # noqa: S608 - fixed SQL, no input
# The columns _ANNOTATE_SQL inserts, in its order.
_ANNOTATION_INSERT = [
    f
    for name in (
        "item_id",
        "annotator_id",
        "label_set_version_id",
        "values",
        "seconds_spent",
        "client_uuid",
        "created_at",
        "updated_at",
    )
    for f in Annotation._meta.concrete_fields
    if f.attname == name
]
_ANNOTATE_SQL = """
    INSERT INTO annotate_annotation (item_id, annotator_id, label_set_version_id,
        "values", seconds_spent, client_uuid, created_at, updated_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT DO NOTHING
    RETURNING id"""


@transaction.atomic
def annotation_submit(
    *,
    assignment: Assignment,
    values: Mapping[str, object],
    client_uuid: uuid.UUID,
    seconds: float,
    now: datetime,
) -> tuple[Annotation, bool]:
    """Store the labels for a claimed item: (annotation, created).

    Idempotent: a retried POST (same client_uuid), a double click or a second
    tab returns the annotation stored the first time, with created False.
    Raises ValidationError with per-field messages if the values do not fit
    the label set, code `skipped` for a skipped item, and code `claim_expired`
    when the claim expired and its slot has been taken by someone else.
    """
    project = assignment.project  # loaded with its version by access_assignment
    version = project.label_set_version
    with connection.cursor() as cursor:
        # The claim row's lock makes a double submit take turns: the second
        # one sees status submitted.
        cursor.execute(
            for_update(
                "SELECT status FROM annotate_assignment WHERE id = %s", "FOR UPDATE"
            ),
            [assignment.pk],
        )
        (status,) = cursor.fetchone()
        if status == AssignmentStatus.SUBMITTED:
            cursor.execute(
                _SUBMITTED_SQL, [assignment.item_id, assignment.annotator_id]
            )
            return _ANNOTATION.load(cursor.fetchone()), False
    if status == AssignmentStatus.SKIPPED:
        raise ValidationError("You skipped this item.", code="skipped")
    clean = version.validate(values)
    if status == AssignmentStatus.EXPIRED:
        # The slot went back to the queue: take one again if it is still free.
        retaken = Item.objects.filter(pk=assignment.item_id, slots_left__gt=0).update(
            slots_left=F("slots_left") - 1
        )
        if not retaken:
            raise ValidationError(
                "Your claim on this item expired and others have filled it. "
                "Your labels are kept here; skip to move on.",
                code="claim_expired",
            )
    annotation = Annotation(
        item_id=assignment.item_id,
        annotator_id=assignment.annotator_id,
        label_set_version=version,
        values=clean,
        seconds_spent=max(0.0, min(seconds, 24 * 3600.0)),
        client_uuid=client_uuid,
        created_at=now,
        updated_at=now,
    )
    with connection.cursor() as cursor:
        cursor.execute(_ANNOTATE_SQL, _insert_params(annotation))
        inserted = cursor.fetchone()
        if inserted is None:
            # Not this claim's (its status said so under the lock): the id is
            # another annotation's.
            raise ValidationError(
                {"client_uuid": "This id belongs to another annotation."}
            )
        annotation.pk = inserted[0]
        annotation._state.adding = False
        cursor.execute(
            "UPDATE annotate_assignment SET status = 'submitted' WHERE id = %s",
            [assignment.pk],
        )
        labels = _count_annotation(
            cursor,
            project=project,
            item_id=assignment.item_id,
            annotator_id=assignment.annotator_id,
            now=now,
        )
    # A lone label cannot disagree: rescoring starts with the second (with
    # the first when one label is all an item gets, for its gold).
    if labels >= min(2, project.overlap):
        tasks.item_rescore.delay_on_commit(item_id=assignment.item_id)  # type: ignore[attr-defined]  # DjangoTask, Celery >= 5.4; celery-types lags
    return annotation, True


def _insert_params(annotation: Annotation) -> list[Any]:
    """The annotation's values as the backend stores them (the ORM's own
    preparation: jsonb or text, uuid or hex, aware or naive datetimes)."""
    return [
        field.get_db_prep_save(getattr(annotation, field.attname), connection)
        for field in _ANNOTATION_INSERT
    ]


def _count_annotation(
    cursor: CursorWrapper,
    *,
    project: Project,
    item_id: int,
    annotator_id: int,
    now: datetime,
) -> int:
    """Keep the counters that progress reads, so no request counts rows;
    the item's labels, this one included."""
    cursor.execute(
        "UPDATE annotate_item SET annotations_count = annotations_count + 1 "
        "WHERE transcript_id = %s RETURNING annotations_count",
        [item_id],
    )
    (count,) = cursor.fetchone()
    today = connection.ops.adapt_datefield_value(now.date())
    cursor.execute(
        "UPDATE annotate_membership SET annotations_count = annotations_count + 1, "
        "today_count = CASE WHEN today = %s THEN today_count + 1 ELSE 1 END, "
        "today = %s WHERE project_id = %s AND user_id = %s",
        [today, today, project.pk, annotator_id],
    )
    # Every submit in the project updates this one row: last, so its lock is
    # held only through the commit and never while waiting on another row;
    # submits queue on it briefly but cannot deadlock.
    cursor.execute(
        "UPDATE annotate_project SET annotations_total = annotations_total + 1, "
        "items_complete = items_complete + %s WHERE id = %s",
        [1 if count == project.overlap else 0, project.pk],
    )
    labels: int = count
    return labels


@transaction.atomic
def assignment_skip(
    *, assignment: Assignment, reason: str, now: datetime
) -> Assignment:
    """Give the item up for good: its slot returns to the queue for others.

    Idempotent for a skipped claim; ValidationError (code `submitted`) if it
    was already labelled.
    """
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.status == AssignmentStatus.SKIPPED:
        return assignment
    if assignment.status == AssignmentStatus.SUBMITTED:
        raise ValidationError("You already labelled this item.", code="submitted")
    if assignment.status == AssignmentStatus.LIVE:
        _assignments_release([assignment], status=AssignmentStatus.SKIPPED)
    assignment.status = AssignmentStatus.SKIPPED
    assignment.skip_reason = reason[:500]
    Assignment.objects.filter(pk=assignment.pk).update(
        status=AssignmentStatus.SKIPPED, skip_reason=assignment.skip_reason
    )
    Item.objects.filter(pk=assignment.item_id).update(skips_count=F("skips_count") + 1)
    Membership.objects.filter(
        project_id=assignment.project_id, user_id=assignment.annotator_id
    ).update(skips_count=F("skips_count") + 1)
    return assignment


def _assignments_release(
    assignments: list[Assignment], *, status: AssignmentStatus
) -> None:
    """End live claims and give their slots back to their items."""
    Assignment.objects.filter(pk__in=[a.pk for a in assignments]).update(status=status)
    for item_id, n in Counter(a.item_id for a in assignments).items():
        Item.objects.filter(pk=item_id).update(slots_left=F("slots_left") + n)


@transaction.atomic
def assignments_expire(*, now: datetime, project: Project | None = None) -> int:
    """Expire claims past their lease, returning their slots; the number expired.

    Run by Celery beat every minute and lazily by the claim. Claims being
    worked on by another transaction are skipped, not waited for.
    """
    stale = Assignment.objects.stale(now).select_for_update(skip_locked=True)
    if project is not None:
        stale = stale.filter(project=project)
    expired = list(stale.only("pk", "item_id")[:5000])
    if expired:
        _assignments_release(expired, status=AssignmentStatus.EXPIRED)
    return len(expired)


def annotation_editable(*, membership: Membership, now: datetime) -> Annotation | None:
    """The annotator's latest annotation in the project, if still editable."""
    return (
        Annotation.objects.filter(
            item__project_id=membership.project_id,
            annotator_id=membership.user_id,
            created_at__gt=now - EDIT_WINDOW,
        )
        .select_related("item__transcript")
        .order_by("-created_at")
        .first()
    )


@transaction.atomic
def annotation_update(
    *, annotation: Annotation, values: Mapping[str, object], now: datetime
) -> Annotation:
    """Correct one's own annotation while it is editable (EDIT_WINDOW after it
    was made); ValidationError (code `not_editable`) after that."""
    annotation = Annotation.objects.select_for_update().get(pk=annotation.pk)
    if annotation.created_at <= now - EDIT_WINDOW:
        raise ValidationError(
            "This annotation can no longer be changed.", code="not_editable"
        )
    annotation.values = annotation.label_set_version.validate(values)
    annotation.updated_at = now
    annotation.save(update_fields=["values", "updated_at"])
    tasks.item_rescore.delay_on_commit(item_id=annotation.item_id)  # type: ignore[attr-defined]  # DjangoTask, Celery >= 5.4; celery-types lags
    return annotation
