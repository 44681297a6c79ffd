"""Reads: QuerySet classes attached to the models, and multi-model selectors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

from django.db import connection, models

if TYPE_CHECKING:
    # The QuerySet generics name these models in strings; models.py imports this module.
    from annotate.models import (  # noqa: F401
        Assignment,
        Batch,
        Decision,
        Item,
        ItemFlag,
        Job,
        Membership,
        Project,
        Transcript,
    )


class MembershipQuerySet(models.QuerySet["Membership"]):
    def active(self) -> Self:
        return self.filter(is_active=True)


class AssignmentQuerySet(models.QuerySet["Assignment"]):
    def stale(self, now: datetime) -> Self:
        """Claims past their lease whose slot has not gone back yet."""
        return self.filter(status="live", expires_at__lte=now)


class JobQuerySet(models.QuerySet["Job"]):
    def for_project(self, project: Project) -> Self:
        return self.filter(project=project).order_by("-created_at")


def agreement_job_for(*, project: Project, params: dict[str, object]) -> Job | None:
    """The newest agreement job of the project computing exactly `params`."""
    from annotate.models import JobKind

    return job_for(project=project, kind=JobKind.AGREEMENT, params=params)


def job_for(*, project: Project, kind: str, params: dict[str, object]) -> Job | None:
    """The newest job of this kind in the project with exactly `params`.

    Compared in Python over the project's recent jobs of the kind (a handful),
    not by a JSON lookup, which SQLite and PostgreSQL would compare differently.
    """
    from annotate.models import Job

    recent = (
        Job.objects.filter(project=project, kind=kind)
        .order_by("-created_at")
        .only("pk", "params")[:50]
    )
    found = next((job for job in recent if job.params == params), None)
    return Job.objects.get(pk=found.pk) if found else None


def job_live(job: Job) -> Job:
    """The job with its live progress (published through the cache) while it runs."""
    from django.core.cache import cache

    if not job.is_finished and (live := cache.get(job.progress_key)):
        job.progress_done, job.progress_total, job.stage = (
            live["done"],
            live["total"],
            live["stage"],
        )
    return job


@dataclass(frozen=True)
class Progress:
    items_total: int
    items_complete: int
    my_today: int
    my_total: int
    queue_left: int  # capped at QUEUE_LEFT_CAP

    @property
    def percent(self) -> int:
        return (
            round(100 * self.items_complete / self.items_total)
            if self.items_total
            else 0
        )


QUEUE_LEFT_CAP = 1000


def progress_for(*, membership: Membership, now: datetime) -> Progress:
    """Progress from kept counters, plus the annotator's queue length, in one
    statement.

    Read fresh: the caller's membership was loaded before its submit changed
    these counters. The queue length is counted, but capped: at most
    QUEUE_LEFT_CAP rows of the partial queue index are read, whatever the
    project's size.
    """
    from annotate import rawsql  # rawsql imports the models, which import this

    today = connection.ops.adapt_datefield_value(now.date())
    with connection.cursor() as cursor:
        cursor.execute(
            rawsql.PROGRESS_SQL,
            [
                today,
                membership.project_id,
                membership.user_id,
                QUEUE_LEFT_CAP,
                membership.pk,
            ],
        )
        total, complete, mine, today_count, queue_left = cursor.fetchone()
    return Progress(
        items_total=total,
        items_complete=complete,
        my_today=today_count,
        my_total=mine,
        queue_left=queue_left,
    )


def adjudication_queue(
    project: Project, *, reviewer_id: int | None = None
) -> models.QuerySet[Item]:
    """Items for a reviewer to decide, most disagreeing first.

    Items with all their labels whose key field is unresolved (a tie, a
    split) or whose disagreement is above the project's threshold, and that
    no reviewer has decided yet. A decided item leaves the queue, so the
    first item is always the next one to review. With `reviewer_id`, the
    items that reviewer labelled or holds a live claim on are left out:
    labelling stays blind for every role (access.access_review_item).
    """
    from annotate.models import Item

    queue = (
        Item.objects.filter(
            project=project,
            annotations_count__gte=project.overlap,
            gold__adjudicated=False,
        )
        .filter(
            models.Q(gold__key_resolved=False)
            | models.Q(disagreement__gt=project.disagreement_threshold)
        )
        .order_by(models.F("disagreement").desc(nulls_last=True), "transcript_id")
    )
    if reviewer_id is not None:
        queue = queue.exclude(seen_by(reviewer_id))
    return queue


def seen_by(user_id: int) -> models.Q:
    """An item the user labelled or holds a live claim on (a filter on Item)."""
    from annotate.models import Annotation, Assignment, AssignmentStatus

    return models.Q(
        models.Exists(
            Annotation.objects.filter(item=models.OuterRef("pk"), annotator_id=user_id)
        )
    ) | models.Q(
        models.Exists(
            Assignment.objects.filter(
                item=models.OuterRef("pk"),
                annotator_id=user_id,
                status=AssignmentStatus.LIVE,
            )
        )
    )


@dataclass(frozen=True)
class ReviewLabel:
    annotator: str
    values: dict[str, object]
    created_at: datetime
    reliability: float | None  # agreement with the leave-one-out majority, key field


@dataclass(frozen=True)
class ReviewItem:
    item: Item
    gold: dict[str, Any]
    labels: list[ReviewLabel]
    siblings: list[tuple[Transcript, dict[str, Any]]]  # same prompt group, their gold
    decisions: list[Decision]


def review_item(*, project: Project, item_id: int) -> ReviewItem | None:
    """Everything the review screen shows for one item of the project.

    Reliability comes from the project's latest agreement figures (none until
    they are computed): each annotator's agreement with the others' majority
    on the key field.
    """
    from annotate.models import (
        Annotation,
        Decision,
        Gold,
        Item,
        Job,
        JobKind,
        Transcript,
    )

    item = (
        Item.objects.filter(project=project, pk=item_id)
        .select_related("transcript", "project__label_set_version")
        .first()
    )
    if item is None:
        return None
    gold = Gold.objects.filter(item=item).values_list("values", flat=True).first()
    latest = (
        Job.objects.filter(project=project, kind=JobKind.AGREEMENT, status="succeeded")
        .order_by("-finished_at")
        .values_list("result", flat=True)
        .first()
    )
    reliability: dict[int, float | None] = {}
    if latest:
        key = latest.get("key_field")
        for row in latest.get("annotators", []):
            share = row.get("majority_agreement", {}).get(key, {}).get("share")
            reliability[row["id"]] = share
    labels = [
        ReviewLabel(
            annotator=a.annotator.username,
            values=a.values,
            created_at=a.created_at,
            reliability=reliability.get(a.annotator_id),
        )
        for a in Annotation.objects.filter(item=item, is_human=True)
        .select_related("annotator")
        .order_by("created_at")
    ]
    siblings: list[tuple[Transcript, dict[str, Any]]] = []
    if group := item.transcript.prompt_group:
        others = (
            Transcript.objects.filter(project=project, prompt_group=group)
            .exclude(pk=item.pk)
            .select_related("item__gold")
            .order_by("pk")[:20]
        )
        for t in others:
            sibling_gold = getattr(getattr(t, "item", None), "gold", None)
            siblings.append((t, sibling_gold.values if sibling_gold else {}))
    return ReviewItem(
        item=item,
        gold=gold or {},
        labels=labels,
        siblings=siblings,
        decisions=list(
            Decision.objects.filter(item=item)
            .select_related("reviewer")
            .order_by("-number")
        ),
    )


def active_members(
    project: Project, *, everyone: bool = False
) -> models.QuerySet[Membership]:
    """The project's active members (with everyone, all), by username, with
    their users."""
    from annotate.models import Membership

    members = Membership.objects.filter(project=project)
    if not everyone:
        members = members.filter(is_active=True)
    return members.select_related("user").order_by("user__username")


def batches_of(project: Project) -> models.QuerySet[Batch]:
    """The project's batches, newest first."""
    from annotate.models import Batch

    return Batch.objects.filter(project=project).order_by("-created_at", "-pk")


def flags_to_review(project: Project, *, limit: int) -> list[ItemFlag]:
    """Annotators' flags waiting for a manager's review, oldest first, with
    their items' transcripts and flaggers: at most `limit` (the partial index
    item_flag_review_idx serves it)."""
    from annotate.models import ItemFlag

    return list(
        ItemFlag.objects.filter(project=project, review_pending=True)
        .select_related("item__transcript", "by")
        .order_by("created_at", "pk")[:limit]
    )


def item_flags(item_id: int, *, limit: int = 20) -> list[ItemFlag]:
    """An item's flag records, newest first, with who made them."""
    from annotate.models import ItemFlag

    return list(
        ItemFlag.objects.filter(item_id=item_id)
        .select_related("by")
        .order_by("-created_at", "-pk")[:limit]
    )
