"""Reads: QuerySet classes attached to the models, and multi-model selectors."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Self

from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    # The QuerySet generics name these models in strings; models.py imports this module.
    from annotate.models import Assignment, Item, Job, Membership, Project  # noqa: F401


class ProjectQuerySet(models.QuerySet["Project"]):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> Self:
        """Projects the user is an active member of."""
        return self.filter(memberships__user_id=user.pk, memberships__is_active=True)


class MembershipQuerySet(models.QuerySet["Membership"]):
    def active(self) -> Self:
        return self.filter(is_active=True)


class ItemQuerySet(models.QuerySet["Item"]):
    def open(self) -> Self:
        """Items that still have an unclaimed labelling slot."""
        return self.filter(slots_left__gt=0)


class AssignmentQuerySet(models.QuerySet["Assignment"]):
    def live(self, now: datetime) -> Self:
        """Claims still held at `now`."""
        return self.filter(status="live", expires_at__gt=now)


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
