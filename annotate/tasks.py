"""Celery tasks: thin wrappers that take ids and call one service each."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError


@shared_task(bind=True, max_retries=5)
def job_run(self: Task[Any, Any], job_id: int) -> None:
    """Run a background job (import, export, agreement, calibration).

    A lost database connection runs the job again, with backoff; when the
    retries are spent the job is marked failed, never left running.
    """
    from django.utils import timezone

    # The services import this module: imported here to break the cycle.
    from annotate.services import jobs

    try:
        jobs.job_run(job_id=job_id, now=timezone.now)
    except (OperationalError, InterfaceError) as e:
        if self.request.retries >= (self.max_retries or 0):
            jobs.job_fail(
                job_id=job_id,
                message=f"The database stayed unreachable: {e}",
                now=timezone.now(),
            )
            return
        raise self.retry(exc=e, countdown=2**self.request.retries) from e


@shared_task(
    autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5
)
def assignments_expire() -> int:
    """Return the slots of claims past their lease to the queue (beat, every minute)."""
    from django.utils import timezone

    from annotate.services import queue

    return queue.assignments_expire(now=timezone.now())


@shared_task(
    autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5
)
def item_rescore(item_id: int) -> None:
    """Rescore one item after a label: disagreement, an extra slot, its gold."""
    from django.utils import timezone

    from annotate.services import gold

    gold.item_rescore(item_id=item_id, now=timezone.now())


@shared_task(
    autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5
)
def items_rescore_due() -> int:
    """Rescore every item marked due since the last run, in batches (queued
    after submits, services.deferred; and swept by beat)."""
    from django.utils import timezone

    from annotate.services import gold

    return gold.items_rescore_due(now=timezone.now)


@shared_task(
    autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5
)
def gold_weighted_update() -> int:
    """Re-weigh the gold of every project whose gold_method is weighted (beat, hourly)."""
    from django.utils import timezone

    from annotate.models import GoldMethod, Project
    from annotate.services import gold

    # Not archived ones: their gold is read-only with the rest of them.
    projects = Project.objects.filter(
        gold_method=GoldMethod.WEIGHTED, archived_at__isnull=True
    ).select_related("label_set_version")
    return sum(
        gold.gold_weighted_update(project=p, now=timezone.now()) for p in projects
    )


@shared_task(
    autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5
)
def queue_retrain(project_id: int) -> None:
    """Retrain and rescore a project's queue after every N labels; joins a
    retrain already queued or running. One asked for before the last has
    rested is left to beat's queue-retrain sweep, which starts it once it has."""
    from django.utils import timezone

    from annotate.models import JobKind, Project
    from annotate.services.learning import queue_job_create, retrain_rested

    project = Project.objects.get(pk=project_id)
    if project.archived_at is not None:
        return  # archived since the label that asked: read-only now
    now = timezone.now()
    if not retrain_rested(project, now=now):
        return
    queue_job_create(project=project, kind=JobKind.RETRAIN, created_by=None, now=now)


@shared_task(
    autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5
)
def queue_retrain_due() -> int:
    """The safety net on beat: retrain each project whose model is behind by
    at least its retrain_every labels (a missed trigger, a failed job)."""
    from django.utils import timezone

    from annotate.services.learning import queue_retrain_due as due

    return due(now=timezone.now())


@shared_task(
    autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5
)
def uploads_prune() -> int:
    """Delete import files no job is waiting for, past UPLOAD_MAX_AGE (beat, hourly)."""
    from django.utils import timezone

    from annotate.services.jobs import uploads_prune as prune

    return prune(now=timezone.now())


@shared_task
def tables_maintain() -> list[str]:
    """Autovacuum's work on the app's tables, where the server's is off
    (beat, every minute; services.planner). Not retried: the next minute's
    run is the retry."""
    from annotate.services.planner import tables_maintain as maintain

    return maintain()


@shared_task(
    autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5
)
def jobs_fail_stale() -> int:
    """Mark failed the jobs whose worker died for good, past their time
    limit, and send again those whose message was lost (beat, every minute)."""
    from django.utils import timezone

    from annotate.services.jobs import jobs_fail_stale as fail_stale
    from annotate.services.jobs import jobs_requeue_lost

    now = timezone.now()
    return fail_stale(now=now) + jobs_requeue_lost(now=now)
