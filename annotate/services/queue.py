"""The labelling loop: claim, submit, skip, expire, correct."""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NoReturn

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import F

from annotate import rawsql, tasks
from annotate.models import (
    Allocation,
    AllocationState,
    Annotation,
    Assignment,
    AssignmentStatus,
    AuditAction,
    ChosenBy,
    Item,
    Membership,
    Project,
    SkipKind,
)
from annotate.rawsql import for_update
from annotate.services import deferred
from annotate.services.audit import audit_record, changed
from annotate.services.care import (
    flagged_pause_until,
    flagged_recent_add,
    item_flag_report,
)
from annotate.services.learning import exploration_share, prelabels_shown, retrain_due
from annotate.services.quality import (
    check_answer_submit,
    claim_blocked,
    qualification_close,
    qualifying,
)

EDIT_WINDOW = timedelta(hours=1)

PRELABELS = Assignment._meta.get_field("prelabels")  # its JSON adaptation for raw SQL


def item_claim_next(*, membership: Membership, now: datetime) -> Assignment | None:
    """Lease the next item of the annotator's queue; None when it is empty.

    A live claim is returned as it is, so a reloaded tab (or a second one) gets
    the same item back instead of spending a second slot. A claim past its
    lease is expired here (lazily) as well as by the periodic job; when
    nothing is open, other annotators' stale claims in the project are expired
    and the queue is tried once more. An archived project has nothing to claim.
    Past the project's cap on items with a content warning (services.care),
    only items without one are served.
    """
    if membership.project.archived_at is not None:
        return None  # read-only: archiving ended the live claims too
    try:
        return _live_or_claim(membership=membership, now=now)
    except IntegrityError:
        # Two tabs claimed at once: the one-live-claim constraint refused
        # this one, and the other tab's claim, now committed, is the answer.
        return _live_or_claim(membership=membership, now=now)


def _live_or_claim(*, membership: Membership, now: datetime) -> Assignment | None:
    # The live claim is read before any transaction: a reloaded tab's, the
    # commonest ask, costs one statement rather than BEGIN, it and COMMIT. A
    # claim another tab makes after this read meets the one-live-claim
    # constraint, as two tabs claiming at once always have.
    with rawsql.prepared_cursor() as cursor:
        cursor.execute(rawsql.LIVE_SQL, [membership.project_id, membership.user_id])
        row = cursor.fetchone()
    if row is None:
        return _claim_next(membership=membership, now=now, expired=None)
    current = rawsql.ASSIGNMENT.load(row)
    if current.expires_at <= now:
        return _claim_next(membership=membership, now=now, expired=current)
    current.project = membership.project
    current.item = rawsql.ITEM.load(row, rawsql.ASSIGNMENT.width)
    current.item.transcript = rawsql.TRANSCRIPT.load(
        row, rawsql.ASSIGNMENT.width + rawsql.ITEM.width
    )
    return current


@transaction.atomic
def _claim_next(
    *, membership: Membership, now: datetime, expired: Assignment | None
) -> Assignment | None:
    project = membership.project
    if expired is not None:
        # Read outside this transaction: released only if still live (the
        # expiry job or another tab may have ended it since), under its lock.
        still = Assignment.objects.select_for_update().filter(
            pk=expired.pk, status=AssignmentStatus.LIVE
        )
        if still.exists():
            _assignments_release([expired], status=AssignmentStatus.EXPIRED)
    if claim_blocked(membership=membership, now=now):
        return None
    # Gold questions: all a qualifying member gets, then a share of claims.
    if project.questions_count:
        must = qualifying(membership)
        if must or random.random() < project.check_rate:  # noqa: S311 - a sampling draw
            claimed = _claim_check(membership=membership, now=now)
            if claimed is not None:
                return claimed
            if must:  # out of questions: settle on the answers given
                membership = qualification_close(membership=membership)
                if claim_blocked(membership=membership, now=now):
                    return None
    unflagged = flagged_pause_until(membership=membership, now=now) is not None
    # What a manager assigned them comes before the pool.
    if membership.assigned_open:
        claimed = _claim_assigned(membership=membership, now=now, unflagged=unflagged)
        if claimed is not None:
            return claimed
    annotator_id = membership.user_id
    claimed = _claim(
        project=project, annotator_id=annotator_id, now=now, unflagged=unflagged
    )
    if claimed is None and assignments_expire(now=now, project=project):
        claimed = _claim(
            project=project, annotator_id=annotator_id, now=now, unflagged=unflagged
        )
    return claimed


def _claim_check(*, membership: Membership, now: datetime) -> Assignment | None:
    """A gold question they have not been asked, leased as any item is but
    taking no slot (its answer is no label); None when none is left."""
    project = membership.project
    with connection.cursor() as cursor:
        cursor.execute(rawsql.CHECK_ITEM_SQL, [project.pk, membership.user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    item = rawsql.ITEM.load(row)
    item.transcript = rawsql.TRANSCRIPT.load(row, rawsql.ITEM.width)
    return _claim_insert(
        item=item,
        project=project,
        annotator_id=membership.user_id,
        now=now,
        chosen_by=ChosenBy.CHECK,
        probability=None,
        take=None,
    )


def _claim_assigned(
    *, membership: Membership, now: datetime, unflagged: bool
) -> Assignment | None:
    """The head of the member's assigned stream (its unflagged items only, if
    `unflagged`), claimed with its reserved slot; None (and the kept counter
    corrected) when it has nothing."""
    project, annotator_id = membership.project, membership.user_id
    stream = (
        rawsql.ASSIGNED_UNFLAGGED_ITEM_SQL if unflagged else rawsql.ASSIGNED_ITEM_SQL
    )
    sql = for_update(stream, rawsql.ASSIGNED_ITEM_LOCK)
    with connection.cursor() as cursor:
        cursor.execute(sql, [project.pk, annotator_id, annotator_id])
        row = cursor.fetchone()
        if row is None and unflagged:
            return None  # its flagged items wait: the counter is right
        if row is None:
            cursor.execute(
                rawsql.ASSIGNED_RECOUNT_SQL,
                [project.pk, annotator_id, project.pk, annotator_id],
            )
            return None
        cursor.execute(rawsql.ALLOCATION_CLAIMED_SQL, [row[-1]])
        cursor.execute(rawsql.ASSIGNED_OPEN_SQL, [-1, project.pk, annotator_id])
    item = rawsql.ITEM.load(row)
    item.transcript = rawsql.TRANSCRIPT.load(row, rawsql.ITEM.width)
    return _claim_insert(
        item=item,
        project=project,
        annotator_id=annotator_id,
        now=now,
        chosen_by=ChosenBy.ASSIGNED,
        probability=None,
        take=rawsql.TAKE_RESERVED_SLOT_SQL,
    )


def _claim(
    *, project: Project, annotator_id: int, now: datetime, unflagged: bool
) -> Assignment | None:
    # A share of claims explores: the next item of the exploration sample, in
    # its random order (services.learning says why). Either stream, when it
    # has nothing for this annotator, gives way to the other, whatever the
    # share: items drawn into the sample stay there when exploration is
    # turned off (or this project row predates the draw), and must still be
    # served.
    share = exploration_share(project)
    explore = share > 0 and random.random() < share  # noqa: S311 - a sampling draw, not a secret
    for attempt in range(LOCKED_RETRIES + 1):
        item = _next_item(
            project=project,
            annotator_id=annotator_id,
            audit=explore,
            unflagged=unflagged,
        )
        if item is None:
            explore = not explore
            item = _next_item(
                project=project,
                annotator_id=annotator_id,
                audit=explore,
                unflagged=unflagged,
            )
        if item is not None:
            break
        # SKIP LOCKED passes over the items others are claiming this instant:
        # when those are all that is left, "nothing" is only for now (they
        # may have slots to spare), so look again shortly rather than tell
        # the annotator their queue is empty.
        if attempt == LOCKED_RETRIES or not _open_but_locked(
            project=project, annotator_id=annotator_id, unflagged=unflagged
        ):
            return None
        time.sleep(LOCKED_WAIT_SECONDS)
    if item is None:  # not reached: the loop breaks with an item or returns
        return None
    return _claim_insert(
        item=item,
        project=project,
        annotator_id=annotator_id,
        now=now,
        chosen_by=ChosenBy.EXPLORE if explore else ChosenBy.QUEUE,
        probability=share if explore else None,
        take=rawsql.TAKE_SLOT_SQL,
    )


def _claim_insert(
    *,
    item: Item,
    project: Project,
    annotator_id: int,
    now: datetime,
    chosen_by: ChosenBy,
    probability: float | None,
    take: str | None,
) -> Assignment:
    """Take a slot of the locked item (`take`: a free one, or a reserved
    one) and lease it to the annotator, recording how it was chosen."""
    expires_at = now + project.lease
    prelabels = item.suggestion if prelabels_shown(project) else None
    ops = connection.ops
    with rawsql.prepared_cursor() as cursor:
        if take is not None:
            cursor.execute(take, [item.pk])
        cursor.execute(
            rawsql.CLAIM_SQL,
            [
                item.pk,
                project.pk,
                annotator_id,
                ops.adapt_datetimefield_value(now),
                ops.adapt_datetimefield_value(expires_at),
                chosen_by.value,
                item.priority,
                probability,
                PRELABELS.get_db_prep_save(prelabels, connection),
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
        chosen_by=chosen_by,
        score=item.priority,
        probability=probability,
        prelabels=prelabels,
    )
    assignment._state.adding = False
    return assignment


# How often, and how long apart, a claim looks again when the only open
# items are locked by other claims (PostgreSQL's SKIP LOCKED; SQLite has no
# row locks to skip).
LOCKED_RETRIES = 5
LOCKED_WAIT_SECONDS = 0.01


def _open_but_locked(*, project: Project, annotator_id: int, unflagged: bool) -> bool:
    """Whether the pool holds an item for the annotator that the locking
    read stepped over (only on PostgreSQL; a read with no lock)."""
    if connection.vendor != "postgresql":
        return False
    sql = rawsql.OPEN_UNFLAGGED_SQL if unflagged else rawsql.OPEN_SQL
    with connection.cursor() as cursor:
        cursor.execute(sql, [project.pk, annotator_id])
        return cursor.fetchone() is not None


def _next_item(
    *, project: Project, annotator_id: int, audit: bool, unflagged: bool
) -> Item | None:
    """The head of one stream (its unflagged items only, if `unflagged`),
    locked; None when it has nothing for them."""
    stream = rawsql.NEXT_UNFLAGGED_ITEM_SQL if unflagged else rawsql.NEXT_ITEM_SQL
    sql = for_update(stream, rawsql.NEXT_ITEM_LOCK)
    with rawsql.prepared_cursor() as cursor:
        rawsql.execute_pinned(cursor, sql, [project.pk, annotator_id, audit])
        row = cursor.fetchone()
    if row is None:
        return None
    item = rawsql.ITEM.load(row)
    item.transcript = rawsql.TRANSCRIPT.load(row, rawsql.ITEM.width)
    return item


@transaction.atomic
def annotation_submit(
    *,
    assignment: Assignment,
    values: Mapping[str, object],
    client_uuid: uuid.UUID,
    seconds: float,
    now: datetime,
    membership: Membership | None = None,
) -> tuple[Annotation, bool]:
    """Store the labels for a claimed item: (annotation, created).

    Idempotent: a retried POST (same client_uuid), a double click or a second
    tab returns the annotation stored the first time, with created False.
    Raises ValidationError with per-field messages if the values do not fit
    the label set, code `skipped` for a skipped item, and code `claim_expired`
    when the claim expired and its slot has been taken by someone else, and
    code `archived` in an archived project. `membership`, the annotator's,
    when the caller claims the next item with it: its kept counters are set
    to those this submit wrote (no query), so that claim sees a quota this
    label reached.
    """
    project = assignment.project  # loaded with its version by access_assignment
    project.refuse_if_archived("labels can no longer be submitted")
    version = project.label_set_version
    with rawsql.prepared_cursor() as cursor:
        cursor.execute(
            for_update(rawsql.CLAIM_STATUS_SQL, rawsql.CLAIM_STATUS_LOCK),
            [assignment.pk],
        )
        (status,) = cursor.fetchone()
        if assignment.chosen_by == ChosenBy.CHECK:
            return check_answer_submit(
                assignment=assignment,
                status=status,
                values=values,
                client_uuid=client_uuid,
                now=now,
            )
        if status == AssignmentStatus.SUBMITTED:
            cursor.execute(
                rawsql.SUBMITTED_SQL, [assignment.item_id, assignment.annotator_id]
            )
            return rawsql.ANNOTATION.load(cursor.fetchone()), False
    if status == AssignmentStatus.SKIPPED:
        raise ValidationError("You skipped this item.", code="skipped")
    clean = version.validate(values)
    if status == AssignmentStatus.EXPIRED:
        # Archiving expires the live claims: one archived since this request
        # read the project comes here, and is refused.
        Project.objects.get(pk=project.pk).refuse_if_archived(
            "labels can no longer be submitted"
        )
        # The slot went back to the queue: take one again if it is still free.
        if not _retake(assignment):
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
        prelabels=assignment.prelabels,
        client_uuid=client_uuid,
        created_at=now,
        updated_at=now,
    )
    with rawsql.prepared_cursor() as cursor:
        labels, project_labels = annotation_store(
            cursor,
            annotation=annotation,
            assignment=assignment,
            project=project,
            membership=membership,
            now=now,
        )
    if labels >= rescore_from(project):
        deferred.rescore_soon()  # annotation_store marked the item due
    if retrain_due(project, project_labels):
        deferred.publish_on_commit(tasks.queue_retrain, project_id=project.pk)
    return annotation, True


def rescore_from(project: Project) -> int:
    """The label from which an item is rescored: a lone label cannot
    disagree, so the second (the first when one label is all an item gets,
    for its gold)."""
    return min(2, project.overlap)


def _retake(assignment: Assignment) -> bool:
    """Take a slot again for an expired claim being submitted: its
    allocation's reserved slot when it was assigned (and is still pending),
    else a free one beyond those reserved for others."""
    if assignment.chosen_by == ChosenBy.ASSIGNED:
        allocation = Allocation.objects.filter(
            item_id=assignment.item_id,
            annotator_id=assignment.annotator_id,
            state=AllocationState.PENDING,
        )
        if allocation.update(state=AllocationState.CLAIMED):
            Item.objects.filter(pk=assignment.item_id).update(
                slots_left=F("slots_left") - 1, reserved=F("reserved") - 1
            )
            Membership.objects.filter(
                project_id=assignment.project_id, user_id=assignment.annotator_id
            ).update(assigned_open=F("assigned_open") - 1)
            return True
    return bool(
        Item.objects.filter(pk=assignment.item_id, slots_left__gt=F("reserved")).update(
            slots_left=F("slots_left") - 1
        )
    )


def _insert_params(annotation: Annotation) -> list[Any]:
    """The annotation's values as the backend stores them (the ORM's own
    preparation: jsonb or text, uuid or hex, aware or naive datetimes)."""
    return [
        field.get_db_prep_save(getattr(annotation, field.attname), connection)
        for field in rawsql.ANNOTATION_INSERT
    ]


def annotation_store(
    cursor: CursorWrapper,
    *,
    annotation: Annotation,
    assignment: Assignment,
    project: Project,
    membership: Membership | None,
    now: datetime,
) -> tuple[int, int]:
    """Insert the annotation, mark its claim submitted and keep the counters
    that progress, quotas and the cap on flagged items read, so no request
    counts rows; the item's labels and the project's, this one included.

    Every submit in the project updates the project's one row: last, so its
    lock is held only through the commit and never while waiting on another
    row; submits queue on it briefly but cannot deadlock. The overlap and the
    archive are read there, under the lock, not from this request's copy: a
    change of overlap (project_update) or an archive that committed since
    would otherwise count an item complete twice, or let a label in after the
    archive (a claim archiving did not see yet).
    """
    ops = connection.ops
    today = ops.adapt_datefield_value(now.date())
    now_db = ops.adapt_datetimefield_value(now)
    member = [today, today, now_db, project.pk, assignment.annotator_id]
    item = [rescore_from(project), assignment.item_id]
    row: Any
    if connection.vendor == "postgresql":
        # One round trip for the five statements below (rawsql.SUBMIT_SQL).
        cursor.execute(
            rawsql.SUBMIT_SQL,
            [*_insert_params(annotation), assignment.pk, *item, *member, project.pk],
        )
        row = cursor.fetchone()
        if row is None:
            _not_this_claims()
        pk, count, distressing, mine, mine_today, recent, project_labels = row
    else:
        cursor.execute(rawsql.ANNOTATE_SQL, _insert_params(annotation))
        row = cursor.fetchone()
        if row is None:
            _not_this_claims()
        (pk,) = row
        cursor.execute(rawsql.MARK_SUBMITTED_SQL, [assignment.pk])
        cursor.execute(rawsql.COUNT_ITEM_SQL, item)
        count, distressing = cursor.fetchone()
        cursor.execute(rawsql.COUNT_MEMBER_SQL, member)
        mine, mine_today, recent = cursor.fetchone()
        cursor.execute(rawsql.COUNT_PROJECT_SQL, [count, project.pk])
        row = cursor.fetchone()
        project_labels = None if row is None else row[0]
    annotation.pk = pk
    annotation._state.adding = False
    if project_labels is None:
        Project.objects.get(pk=project.pk).refuse_if_archived(
            "labels can no longer be submitted"
        )
        raise ValidationError("The project changed meanwhile: submit again.")
    capped = distressing and project.flagged_cap is not None
    if capped or membership is not None:
        recent = rawsql.flagged_recent_load(recent)
    # Only a flagged item under a cap costs a query: the label's time, to
    # the list read under the row's lock (two tabs cannot lose one).
    if capped:
        recent = flagged_recent_add(recent, now=now, window=project.flagged_window)
        cursor.execute(
            rawsql.FLAGGED_RECENT_SQL,
            [
                rawsql.FLAGGED_RECENT.get_db_prep_save(recent, connection),
                project.pk,
                assignment.annotator_id,
            ],
        )
    if membership is not None:
        membership.annotations_count, membership.today_count = mine, mine_today
        membership.today = now.date()
        membership.flagged_recent = recent
    return int(count), int(project_labels)


def _not_this_claims() -> NoReturn:
    """Raised when the annotation was not inserted: not this claim's (its
    status said so under the lock), so the id is another annotation's."""
    raise ValidationError({"client_uuid": "This id belongs to another annotation."})


@transaction.atomic
def assignment_skip(
    *,
    assignment: Assignment,
    reason: str,
    now: datetime,
    kind: SkipKind = SkipKind.OTHER,
) -> Assignment:
    """Give the item up for good: its slot returns to the queue for others.

    Only a skip of kind OTHER counts in the annotator's skip count and the
    item's; FLAG also flags the item as distressing for a manager to review
    (care.item_flag_report), and WELLBEING never counts against anyone.
    Idempotent for a skipped claim (its first kind stays); ValidationError
    (code `submitted`) if it was already labelled, (code `archived`) in an
    archived project.
    """
    assignment.project.refuse_if_archived("items can no longer be skipped")
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.status == AssignmentStatus.SKIPPED:
        return assignment
    if assignment.status == AssignmentStatus.SUBMITTED:
        raise ValidationError("You already labelled this item.", code="submitted")
    if assignment.status == AssignmentStatus.LIVE:
        _assignments_release([assignment], status=AssignmentStatus.SKIPPED)
    assignment.status = AssignmentStatus.SKIPPED
    assignment.skip_reason = reason[:500]
    assignment.skip_kind = kind
    Assignment.objects.filter(pk=assignment.pk).update(
        status=AssignmentStatus.SKIPPED,
        skip_reason=assignment.skip_reason,
        skip_kind=kind,
    )
    if kind == SkipKind.FLAG:
        item_flag_report(
            item_id=assignment.item_id,
            project_id=assignment.project_id,
            annotator_id=assignment.annotator_id,
            note=assignment.skip_reason,
            now=now,
        )
    if kind != SkipKind.OTHER:
        return assignment
    Item.objects.filter(pk=assignment.item_id).update(skips_count=F("skips_count") + 1)
    Membership.objects.filter(
        project_id=assignment.project_id, user_id=assignment.annotator_id
    ).update(skips_count=F("skips_count") + 1, last_active_at=now)
    return assignment


def _assignments_release(
    assignments: list[Assignment], *, status: AssignmentStatus
) -> None:
    """End live claims and give their slots back to their items. An expired
    claim of an allocated item makes the allocation pending again, holding
    its slot for the same annotator; a skipped one ends it."""
    Assignment.objects.filter(pk__in=[a.pk for a in assignments]).update(status=status)
    assigned = [a for a in assignments if a.chosen_by == ChosenBy.ASSIGNED]
    back = status == AssignmentStatus.EXPIRED
    for a in assigned:
        Allocation.objects.filter(
            item_id=a.item_id,
            annotator_id=a.annotator_id,
            state=AllocationState.CLAIMED,
        ).update(state=AllocationState.PENDING if back else AllocationState.SKIPPED)
        if back:
            Membership.objects.filter(
                project_id=a.project_id, user_id=a.annotator_id
            ).update(assigned_open=F("assigned_open") + 1)
    reserved = Counter(a.item_id for a in assigned) if back else Counter[int]()
    slots = Counter(a.item_id for a in assignments if a.chosen_by != ChosenBy.CHECK)
    for item_id, n in slots.items():
        Item.objects.filter(pk=item_id).update(
            slots_left=F("slots_left") + n, reserved=F("reserved") + reserved[item_id]
        )


@transaction.atomic
def assignments_expire(*, now: datetime, project: Project | None = None) -> int:
    """Expire claims past their lease, returning their slots; the number expired.

    Run by Celery beat every minute and lazily by the claim. Claims being
    worked on by another transaction are skipped, not waited for.
    """
    stale = Assignment.objects.stale(now).select_for_update(skip_locked=True)
    if project is not None:
        stale = stale.filter(project=project)
    expired = list(
        stale.only("pk", "item_id", "annotator_id", "project_id", "chosen_by")[:5000]
    )
    if expired:
        _assignments_release(expired, status=AssignmentStatus.EXPIRED)
    return len(expired)


@transaction.atomic
def assignments_end(*, project: Project) -> int:
    """End every live claim of the project now (archiving it), returning
    their slots to their items; the number ended. The claims are marked
    expired, so a submit still in flight is refused (annotation_submit
    rereads the project on an expired claim)."""
    live = list(
        Assignment.objects.filter(project=project, status=AssignmentStatus.LIVE)
        .select_for_update()
        .only("pk", "item_id", "annotator_id", "project_id", "chosen_by")
    )
    if live:
        _assignments_release(live, status=AssignmentStatus.EXPIRED)
    return len(live)


def annotation_editable(
    *, membership: Membership, now: datetime, annotation_id: int | None = None
) -> Annotation | None:
    """The annotator's latest annotation in the project (or theirs with
    `annotation_id`), if still editable: made within EDIT_WINDOW."""
    mine = Annotation.objects.filter(
        item__project_id=membership.project_id,
        annotator_id=membership.user_id,
        created_at__gt=now - EDIT_WINDOW,
    )
    if annotation_id is not None:
        mine = mine.filter(pk=annotation_id)
    return mine.select_related("item__transcript").order_by("-created_at").first()


@transaction.atomic
def annotation_update(
    *, annotation: Annotation, values: Mapping[str, object], now: datetime
) -> Annotation:
    """Correct one's own annotation while it is editable (EDIT_WINDOW after it
    was made); ValidationError (code `not_editable`) after that, (code
    `archived`) in an archived project."""
    annotation = Annotation.objects.select_for_update().get(pk=annotation.pk)
    project = Project.objects.get(items=annotation.item_id)
    project.refuse_if_archived("labels can no longer be corrected")
    if annotation.created_at <= now - EDIT_WINDOW:
        raise ValidationError(
            "This annotation can no longer be changed.", code="not_editable"
        )
    clean = annotation.label_set_version.validate(values)
    before, after = changed(annotation.values, clean)
    if after:
        # Only the annotator corrects their own labels: they are the actor.
        audit_record(
            project_id=project.pk,
            actor=annotation.annotator,
            action=AuditAction.ANNOTATION_CORRECT,
            obj=annotation,
            object_repr=f"item {annotation.item_id}",
            before={"values": before},
            after={"values": after},
            now=now,
        )
    annotation.values = clean
    annotation.updated_at = now
    annotation.save(update_fields=["values", "updated_at"])
    Item.objects.filter(pk=annotation.item_id).update(rescore_due=True)
    deferred.rescore_soon()
    return annotation
