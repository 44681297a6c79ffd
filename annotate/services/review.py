"""Reviewers' claims: a lease on one item of the review queue at a time, so
two reviewers never review the same item at once (the decision itself is
services.gold.decision_record, which releases the claim)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from annotate import rawsql
from annotate.models import Item, Membership, ReviewClaim
from annotate.queries import adjudication_queue

# Items lost to a faster reviewer before one is won: each try reads a newer
# snapshot, in which the winner's claim is committed, so a few always do.
CLAIM_TRIES = 5


def review_claim_next(*, membership: Membership, now: datetime) -> ReviewClaim | None:
    """Lease the next item of the reviewer's review queue; None when it is empty.

    The queue is queries.adjudication_queue without the items the reviewer
    labelled or holds an annotator's claim on, and without those another
    reviewer holds a live review claim on. The reviewer's own live claim on
    an item still in their queue is returned as it is, so a reloaded tab
    gets the same item back; any other claim of theirs is released (one
    item at a time). An expired claim does not count: its item is back in
    the queue. Concurrent reviewers never get the same item (the item rows
    are locked with SKIP LOCKED on PostgreSQL, and the claim's upsert takes
    an item only if its lease is free).
    """
    try:
        return _claim_next(membership=membership, now=now)
    except IntegrityError:
        # Two tabs of one reviewer claimed at once: one claim per reviewer
        # refused this one, and the other tab's claim is now the answer.
        return _claim_next(membership=membership, now=now)


@transaction.atomic
def _claim_next(*, membership: Membership, now: datetime) -> ReviewClaim | None:
    project, reviewer_id = membership.project, membership.user_id
    queue = adjudication_queue(project, reviewer_id=reviewer_id, now=now)
    mine = ReviewClaim.objects.filter(project=project, reviewer_id=reviewer_id).first()
    if mine is not None:
        if mine.expires_at > now and queue.filter(pk=mine.item_id).exists():
            return mine
        mine.delete()
    for _ in range(CLAIM_TRIES):
        # SKIP LOCKED: a reviewer claiming the head of the queue is stepped
        # over, not waited for. NO KEY, OF the item only: rows pointing at the
        # item (the claim, labels) can still be inserted meanwhile.
        item = (
            queue.select_for_update(skip_locked=True, no_key=True, of=("self",))
            .only("pk")
            .first()
        )
        if item is None:
            return None
        if claim := _take(membership=membership, item_id=item.pk, now=now):
            return claim
    return None


def review_claim_take(
    *, membership: Membership, item: Item, now: datetime
) -> ReviewClaim:
    """Lease this item to the reviewer (the review screen opened on it),
    releasing any other claim of theirs in the project.

    Idempotent: their own claim on it is renewed. Raises ValidationError
    (code `claimed`, naming the other reviewer) when another reviewer holds
    a live claim on it; their claim elsewhere is then kept.
    """
    try:
        return _claim_take(membership=membership, item=item, now=now)
    except IntegrityError:  # two tabs of one reviewer, as in review_claim_next
        return _claim_take(membership=membership, item=item, now=now)


@transaction.atomic
def _claim_take(*, membership: Membership, item: Item, now: datetime) -> ReviewClaim:
    holder = (
        ReviewClaim.objects.filter(item_id=item.pk, expires_at__gt=now)
        .exclude(reviewer_id=membership.user_id)
        .select_related("reviewer")
        .first()
    )
    if holder is None:
        ReviewClaim.objects.filter(
            project_id=membership.project_id, reviewer_id=membership.user_id
        ).exclude(item_id=item.pk).delete()
        if claim := _take(membership=membership, item_id=item.pk, now=now):
            return claim
        holder = ReviewClaim.objects.select_related("reviewer").get(item_id=item.pk)
    raise ValidationError(
        f"{holder.reviewer.username} is reviewing this item (their claim runs "
        f"until {holder.expires_at:%H:%M} UTC): a decision now would be a second one.",
        code="claimed",
    )


def _take(*, membership: Membership, item_id: int, now: datetime) -> ReviewClaim | None:
    """The claim on the item for the reviewer, or None if another reviewer's
    live lease holds it (rawsql.REVIEW_CLAIM_SQL)."""
    expires_at = now + membership.project.lease
    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.execute(
            rawsql.REVIEW_CLAIM_SQL,
            [
                item_id,
                membership.project_id,
                membership.user_id,
                ops.adapt_datetimefield_value(now),
                ops.adapt_datetimefield_value(expires_at),
                ops.adapt_datetimefield_value(now),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    claim = ReviewClaim(
        id=row[0],
        item_id=item_id,
        project_id=membership.project_id,
        reviewer_id=membership.user_id,
        claimed_at=now,
        expires_at=expires_at,
    )
    claim._state.adding = False
    return claim
