"""Reads: QuerySet classes attached to the models, and multi-model selectors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Self

from django.db import models
from django.db.models import Exists, OuterRef

if TYPE_CHECKING:
    # The QuerySet generics name these models in strings; models.py imports this module.
    from annotate.models import Assignment, Item, Job, Membership, Project  # noqa: F401


class MembershipQuerySet(models.QuerySet["Membership"]):
    def active(self) -> Self:
        return self.filter(is_active=True)


class ItemQuerySet(models.QuerySet["Item"]):
    def open(self) -> Self:
        """Items that still have an unclaimed labelling slot."""
        return self.filter(slots_left__gt=0)

    def unseen_by(self, annotator_id: int) -> Self:
        """Drop items the annotator holds, labelled or skipped; an expired
        claim of theirs does not count, so that item can come back to them."""
        from annotate.models import Assignment, AssignmentStatus

        mine = Assignment.objects.filter(
            item=OuterRef("pk"), annotator_id=annotator_id
        ).exclude(status=AssignmentStatus.EXPIRED)
        return self.exclude(Exists(mine))

    def next_for(self, project: Project, annotator_id: int) -> Self:
        """The annotator's queue in this project, most informative first.

        The one place the claim order lives (batch assignment will add its
        rule here). `transcript` (the item's key) breaks ties so the order is
        total, and the partial index (project, -priority, transcript) WHERE
        slots_left > 0 serves it without a sort, however many items are full.
        """
        return (
            self.filter(project=project)
            .open()
            .unseen_by(annotator_id)
            .order_by("-priority", "transcript")
        )


class AssignmentQuerySet(models.QuerySet["Assignment"]):
    def stale(self, now: datetime) -> Self:
        """Claims past their lease whose slot has not gone back yet."""
        return self.filter(status="live", expires_at__lte=now)


class JobQuerySet(models.QuerySet["Job"]):
    def for_project(self, project: Project) -> Self:
        return self.filter(project=project).order_by("-created_at")


def job_live(job: Job) -> Job:
    """The job with its live progress (published through the cache) while it runs."""
    from django.core.cache import cache

    from annotate.services import job_progress_key

    if not job.is_finished and (live := cache.get(job_progress_key(job.pk))):
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
    """Progress from kept counters, plus the annotator's queue length.

    The queue length is counted, but capped: at most QUEUE_LEFT_CAP rows of the
    partial queue index are read, whatever the project's size.
    """
    from annotate.models import Item, Membership

    # Read fresh: the caller's membership was loaded before its submit
    # changed these counters.
    counts = Membership.objects.values(
        "annotations_count",
        "today",
        "today_count",
        "project__items_total",
        "project__items_complete",
    ).get(pk=membership.pk)
    mine = Item.objects.next_for(membership.project, membership.user_id).order_by()
    queue_left = mine[:QUEUE_LEFT_CAP].count()
    return Progress(
        items_total=counts["project__items_total"],
        items_complete=counts["project__items_complete"],
        my_today=counts["today_count"] if counts["today"] == now.date() else 0,
        my_total=counts["annotations_count"],
        queue_left=queue_left,
    )
