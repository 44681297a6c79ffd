"""Background jobs: create, run to an end, publish progress; the runners."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, connection, transaction

from annotate.models import (
    Job,
    JobKind,
    JobStatus,
    Project,
    QueueStrategy,
)
from annotate.services.exports import ExportOptions
from annotate.services.imports import ImportRejected, transcripts_import

logger = logging.getLogger(__name__)

# The clock, called when each moment is recorded: a job runs for a while.
type Clock = Callable[[], datetime]


@transaction.atomic
def job_create(
    *,
    project: Project,
    kind: JobKind,
    created_by: User | None,
    params: dict[str, object],
    now: datetime,
) -> Job:
    """Record a job and queue its task once the transaction commits."""
    from annotate import tasks
    from annotate.services import deferred

    job = Job.objects.create(
        project=project, kind=kind, created_by=created_by, params=params, created_at=now
    )
    # A broker that is down must not fail the request that made the job:
    # the job stays queued and jobs_requeue_lost sends it again.
    deferred.publish_on_commit(tasks.job_run, job_id=job.pk)
    return job


def import_job_create(
    *,
    project: Project,
    upload: BinaryIO,
    filename: str,
    fmt: str | None,
    created_by: User | None,
    now: datetime,
) -> Job:
    """Save an uploaded file and queue its import as a job.

    The file is copied to MEDIA_ROOT/imports in chunks, so a large upload never
    sits in memory, and a worker on another process can read it. It is
    deleted when the job ends, imported or failed (_job_run, job_fail).
    Raises ValidationError (code `archived`) in an archived project, nothing saved.
    """
    project.refuse_if_archived("nothing can be imported into it")
    directory = _uploads_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{secrets.token_hex(16)}{Path(filename).suffix[:10]}"
    with path.open("wb") as out:
        while chunk := upload.read(1024 * 1024):
            out.write(chunk)
    params: dict[str, object] = {
        "path": str(path),
        "filename": filename,
        "format": fmt or "",
    }
    try:
        return job_create(
            project=project,
            kind=JobKind.IMPORT,
            created_by=created_by,
            params=params,
            now=now,
        )
    except Exception:
        path.unlink(missing_ok=True)
        raise


def _uploads_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "imports"


def uploads_prune(*, now: datetime) -> int:
    """Delete uploaded import files older than settings.UPLOAD_MAX_AGE that
    no unfinished import job is waiting to read; returns how many.

    Each job deletes its own file when it ends; this catches the rest: a job
    whose task was lost with its broker, files left by older versions.
    Idempotent."""
    directory = _uploads_dir()
    if not directory.is_dir():
        return 0
    waiting = {
        str(params.get("path"))
        for params in Job.objects.filter(kind=JobKind.IMPORT)
        .exclude(status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED])
        .values_list("params", flat=True)
    }
    cutoff = (now - settings.UPLOAD_MAX_AGE).timestamp()
    removed = 0
    for path in directory.iterdir():
        if (
            path.is_file()
            and str(path) not in waiting
            and path.stat().st_mtime < cutoff
        ):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _upload_remove(job: Job) -> None:
    """Delete a finished import's uploaded file, whether it was imported or
    refused: nothing reads it again (a new try is a new upload), and failed
    imports' files would otherwise pile up. Only files in the uploads
    directory are touched, whatever the job's params say."""
    if job.kind != JobKind.IMPORT or not job.params.get("path"):
        return
    path = Path(str(job.params["path"]))
    if path.parent == _uploads_dir():
        path.unlink(missing_ok=True)


def job_progress(
    *, job: Job, done: int, total: int | None = None, stage: str | None = None
) -> None:
    """Publish live progress through the cache.

    Not the database: a job does its writing in one transaction, and rows
    updated inside it stay invisible to the pages polling until it commits.
    job_run copies the last figures onto the job when it ends.
    """
    if total is not None:
        job.progress_total = total
    if stage is not None:
        job.stage = stage
    job.progress_done = done
    cache.set(
        job.progress_key,
        {"done": done, "total": job.progress_total, "stage": job.stage},
        timeout=24 * 3600,
    )


def job_run(*, job_id: int, now: Clock) -> Job:
    """Run a queued job to its end, recording the result or the errors.

    Idempotent: a finished job is returned as it is, and so is a job another
    worker is running now (a redelivery while the first run goes on). A job
    found running with no worker on it (its worker died and the broker
    redelivered it) starts over, which is safe because each job writes its
    data in one transaction.
    """
    with _run_lock(job_id) as mine:
        job = Job.objects.select_related("project").get(pk=job_id)
        if job.is_finished or not mine:
            return job
        return _job_run(job, now)


# pg_try_advisory_lock's first key: this application's job runs.
JOB_RUN_LOCK = 0x4A0B


@contextmanager
def _run_lock(job_id: int) -> Iterator[bool]:
    """Whether this process may run the job: a session-level advisory lock
    on PostgreSQL, held through the run and released with the session, so a
    dead worker's lock goes with its connection and a redelivery may start
    over. SQLite runs jobs in one process (eager, or one worker): always."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [JOB_RUN_LOCK, job_id])
        (locked,) = cursor.fetchone()
    try:
        yield bool(locked)
    finally:
        if locked:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_unlock(%s, %s)", [JOB_RUN_LOCK, job_id]
                    )
            except (OperationalError, InterfaceError):
                pass  # the connection is gone, and its lock with it


def _job_run(job: Job, now: Clock) -> Job:
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, started_at=now())
    try:
        result = _JOB_RUNNERS[JobKind(job.kind)](job, now)
    except (OperationalError, InterfaceError):
        raise  # the database went away: the task runs the job again (tasks.job_run)
    except ImportRejected as e:
        job.status, job.errors, job.result = (
            JobStatus.FAILED,
            e.errors,
            {"message": e.message},
        )
        job.stage = _failure_summary(e.errors, e.total)
    except ValidationError as e:
        job.status, job.errors, job.result = JobStatus.FAILED, e.messages, {}
        job.stage = _failure_summary(e.messages, len(e.messages))
    except Exception as e:
        # Every job ends, whatever it raises: a job left running would poll
        # at 0% for ever. What it wrote was in its own transaction, rolled back.
        logger.exception(
            "job %s (%s, project %s) failed", job.pk, job.kind, job.project_id
        )
        job.status, job.errors = JobStatus.FAILED, [f"{type(e).__name__}: {e}"]
        job.result = {"message": "The job stopped on an unexpected error."}
        job.stage = ""
    else:
        job.status, job.result, job.errors = JobStatus.SUCCEEDED, result, []
    job.finished_at = now()
    job.save(
        update_fields=[
            "status",
            "result",
            "errors",
            "finished_at",
            "progress_done",
            "progress_total",
            "stage",
        ]
    )
    cache.delete(job.progress_key)
    _upload_remove(job)
    return job


_LINE = re.compile(r"line (\d+)\b")


def _failure_summary(errors: list[str], total: int) -> str:
    """What a failed job's header says: "1 error in line 2", "3 errors in
    lines 2, 5 and 9" (the lines of the errors listed)."""
    counted = f"{total} error{'s' if total != 1 else ''}"
    lines = sorted({int(m.group(1)) for e in errors if (m := _LINE.match(e))})
    if not lines:
        return counted
    shown = [str(n) for n in lines[:5]]
    if len(lines) > 5:
        where = f"{', '.join(shown)} and more"
    elif len(shown) > 1:
        where = f"{', '.join(shown[:-1])} and {shown[-1]}"
    else:
        where = shown[0]
    return f"{counted} in line{'s' if len(lines) > 1 else ''} {where}"


def job_fail(*, job_id: int, message: str, now: datetime) -> None:
    """Mark a job failed from outside its run (its task gave up retrying):
    a job never stays running. A finished job is left as it is."""
    failed = (
        Job.objects.filter(pk=job_id)
        .exclude(status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED])
        .update(
            status=JobStatus.FAILED,
            errors=[message],
            result={"message": "The job could not be run."},
            stage="",
            finished_at=now,
        )
    )
    if failed:
        _upload_remove(Job.objects.get(pk=job_id))


def job_is_stale(job: Job, *, now: datetime) -> bool:
    """Whether the job is running past its kind's time limit (settings.JOB_TIME_LIMITS)."""
    return (
        job.status == JobStatus.RUNNING
        and job.started_at is not None
        and now - job.started_at > settings.JOB_TIME_LIMITS[job.kind]
    )


def job_fail_if_stale(*, job: Job, now: datetime) -> Job:
    """Mark failed a job running past its time limit with no worker on it:
    its worker died, and no other picked it up (the broker hands a killed
    job out again well before, CELERY_VISIBILITY_TIMEOUT). Returns the job,
    as it now is.

    A job a live worker still runs is left to end: on PostgreSQL its run
    lock is held, and taking that lock here keeps a worker from starting the
    job meanwhile. What the dead run wrote is gone with its transaction, and
    an export's half-written files are deleted; an import's upload is kept,
    so the job can be run again (job_retry). Idempotent.
    """
    if job.started_at is None or not job_is_stale(job, now=now):
        return job
    limit = settings.JOB_TIME_LIMITS[job.kind]
    with _run_lock(job.pk) as free:
        if not free:
            return job
        failed = Job.objects.filter(
            pk=job.pk, status=JobStatus.RUNNING, started_at=job.started_at
        ).update(
            status=JobStatus.FAILED,
            errors=[
                f"It started at {job.started_at:%Y-%m-%d %H:%M} UTC and was still "
                f"unfinished past its time limit of {_duration(limit)}, with no "
                "worker running it: its worker stopped (killed, or its machine "
                "went away) before the end."
            ],
            result={"message": "The job's worker stopped; nothing it wrote was kept."},
            stage="",
            finished_at=now,
        )
    if failed:
        logger.warning(
            "job %s (%s, project %s) failed: no worker on it past its time limit",
            job.pk,
            job.kind,
            job.project_id,
        )
        if job.kind == JobKind.EXPORT:
            _export_parts_remove(job)
        cache.delete(job.progress_key)
    job.refresh_from_db()
    return job


def _duration(limit: timedelta) -> str:
    minutes, seconds = divmod(int(limit.total_seconds()), 60)
    return f"{minutes} min" if not seconds else f"{minutes * 60 + seconds} s"


def _export_parts_remove(job: Job) -> None:
    from annotate.services.exports import export_paths

    directory = export_paths(job)[0].parent
    if directory.is_dir():
        for part in directory.glob("*.part"):
            part.unlink(missing_ok=True)


def jobs_fail_stale(*, now: datetime) -> int:
    """Mark failed every job whose worker died for good (job_fail_if_stale);
    returns how many. Run on beat, every minute."""
    shortest = min(settings.JOB_TIME_LIMITS.values())
    running = Job.objects.filter(
        status=JobStatus.RUNNING, started_at__lt=now - shortest
    ).order_by("pk")
    return sum(
        job_fail_if_stale(job=job, now=now).status == JobStatus.FAILED
        for job in running
    )


def jobs_requeue_lost(*, now: datetime) -> int:
    """Send again the task of every job queued for longer than the broker's
    visibility timeout (a message lost with a Redis that restarted empty, or
    never sent while it was down), at most once per timeout each; returns
    how many. A job whose first message does arrive runs once all the same:
    job_run takes its run lock and skips a job already started or finished.
    Run on beat, every minute, with jobs_fail_stale."""
    from annotate import tasks
    from annotate.services import deferred

    timeout = timedelta(seconds=settings.CELERY_VISIBILITY_TIMEOUT)
    sent = 0
    for job in Job.objects.filter(
        status=JobStatus.QUEUED, created_at__lt=now - timeout
    ).order_by("pk"):
        last = job.params.get("requeued_at")
        if last and datetime.fromisoformat(last) > now - timeout:
            continue
        params = {**job.params, "requeued_at": now.isoformat()}
        # Marked first, and only while still queued, so a run that starts
        # meanwhile keeps its status.
        if Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(params=params):
            logger.warning(
                "job %s (%s, project %s) queued since %s: sent again",
                job.pk,
                job.kind,
                job.project_id,
                job.created_at.isoformat(),
            )
            sent += deferred.publish(tasks.job_run, job_id=job.pk)
    return sent


def job_retry(*, job: Job, created_by: User | None, now: datetime) -> Job:
    """Queue a new job of a failed job's kind with its params: "run it again".

    The failed job stays as it was, for the record. Raises ValidationError:
    `not_failed` unless the job failed, `missing_file` for an import whose
    upload is gone (a file refused as invalid is deleted: upload it again),
    and what starting such a job raises (`archived`). A retrain or rescore
    joins the project's live one, as starting one does.
    """
    if job.status != JobStatus.FAILED:
        raise ValidationError("Only a failed job can be run again.", code="not_failed")
    kind = JobKind(job.kind)
    if kind in {JobKind.RETRAIN, JobKind.RESCORE}:
        from annotate.services.learning import queue_job_create

        return queue_job_create(
            project=job.project, kind=kind, created_by=created_by, now=now
        )
    if kind == JobKind.IMPORT:
        job.project.refuse_if_archived("nothing can be imported into it")
        path = Path(str(job.params.get("path") or ""))
        if path.parent != _uploads_dir() or not path.is_file():
            raise ValidationError(
                "The uploaded file is gone; upload it again.", code="missing_file"
            )
    return job_create(
        project=job.project,
        kind=kind,
        created_by=created_by,
        params=dict(job.params),
        now=now,
    )


def _run_import(job: Job, now: Clock) -> dict[str, object]:
    path = Path(str(job.params["path"]))
    if not path.exists():
        raise ValidationError(
            "The uploaded file is gone; upload it again.", code="missing_file"
        )
    size = path.stat().st_size
    job_progress(job=job, done=0, total=size, stage="Importing")
    with path.open("rb") as stream:
        summary = transcripts_import(
            project=job.project,
            stream=stream,
            filename=str(job.params.get("filename") or path.name),
            fmt=str(job.params.get("format") or "") or None,
            job=job,
            now=now(),
            # Bytes read: the row count is unknown until the end.
            progress=lambda _rows: job_progress(job=job, done=stream.tell()),
        )
    job_progress(job=job, done=size, stage="Done")
    if summary.imported and job.project.queue_strategy != QueueStrategy.SEQUENTIAL:
        from annotate.services.learning import queue_job_create

        # The new items get their place in the queue (and the statistics
        # their count) from the rescoring job.
        queue_job_create(
            project=job.project,
            kind=JobKind.RESCORE,
            created_by=job.created_by,
            now=now(),
        )
    return summary.as_dict()


def agreement_job_create(
    *,
    project: Project,
    params: dict[str, object],
    created_by: User | None,
    now: datetime,
) -> Job:
    """Queue the agreement figures for `params` (reliability.agreement_params)
    as a job; the page and the API find its result by the same params."""
    return job_create(
        project=project,
        kind=JobKind.AGREEMENT,
        created_by=created_by,
        params=params,
        now=now,
    )


def _run_agreement(job: Job, now: Clock) -> dict[str, object]:
    # numpy, scikit-learn and krippendorff load here, in the worker, so web
    # processes never pay for them.
    from annotate.services.agreement import Filters, agreement_report

    filters = job.params.get("filters")
    project = Project.objects.select_related("label_set_version__label_set").get(
        pk=job.project_id
    )
    return agreement_report(
        project=project,
        filters=Filters.from_dict(filters if isinstance(filters, dict) else {}),
        resamples=int(job.params.get("resamples", 1000)),
        seed=int(job.params.get("seed", 0)),
        now=now(),
        progress=lambda stage, done, total: job_progress(
            job=job, done=done, total=total, stage=stage
        ),
    )


def calibration_job_create(
    *, project: Project, breakdown: str, created_by: User | None, now: datetime
) -> Job:
    """Queue the calibration report of the project's gold, broken down by the
    metadata key `breakdown` (exports.calibration_breakdown_parse), as a job;
    the page and the API find its result by calibration_params(breakdown)."""
    return job_create(
        project=project,
        kind=JobKind.CALIBRATION,
        created_by=created_by,
        params=calibration_params(breakdown),
        now=now,
    )


def calibration_params(breakdown: str) -> dict[str, object]:
    """What a calibration job computes, as stored on it."""
    return {"breakdown": breakdown}


def _run_calibration(job: Job, now: Clock) -> dict[str, object]:
    from annotate.services.exports import calibration_report

    project = Project.objects.select_related("label_set_version").get(pk=job.project_id)
    job_progress(job=job, done=0, total=project.items_total, stage="Counting")
    return calibration_report(
        project=project,
        now=now(),
        breakdown=str(job.params.get("breakdown") or "category"),
        progress=lambda n: job_progress(job=job, done=n),
    )


def export_job_create(
    *,
    project: Project,
    options: ExportOptions,
    created_by: User | None,
    now: datetime,
) -> Job:
    """Queue a gold export as a job (options from exports.export_options_parse)."""
    return job_create(
        project=project,
        kind=JobKind.EXPORT,
        created_by=created_by,
        params=options.as_dict(),
        now=now,
    )


def _run_export(job: Job, now: Clock) -> dict[str, object]:
    from annotate.services.exports import (
        export_card_path,
        export_paths,
        export_to_files,
    )

    project = Project.objects.select_related("label_set_version__label_set").get(
        pk=job.project_id
    )
    options = ExportOptions.from_dict(job.params)
    data_path, manifest_path = export_paths(job)
    data_path.parent.mkdir(parents=True, exist_ok=True)
    job_progress(job=job, done=0, total=project.items_total, stage="Exporting")
    manifest = export_to_files(
        project=project,
        options=options,
        data_path=data_path,
        manifest_path=manifest_path,
        now=now(),
        progress=lambda n: job_progress(job=job, done=n),
        card_path=export_card_path(job),
    )
    job_progress(job=job, done=manifest["counts"]["rows"], stage="Done")
    return {
        "rows": manifest["counts"]["rows"],
        "format": options.fmt,
        "kind": options.kind,
        "bytes": manifest["bytes"],
        "sha256": manifest["sha256"],
        "by_split": manifest["counts"]["by_split"],
        "key_unresolved": manifest["counts"]["key_unresolved"],
        # None when they were exported (include_unresolved), not left out.
        "left_out_unresolved": manifest["counts"].get("left_out_unresolved"),
    }


def _run_retrain(job: Job, now: Clock) -> dict[str, object]:
    from annotate.services.learning import queue_retrain

    job_progress(job=job, done=0, stage="Training")
    return queue_retrain(job=job, now=now())


def _run_rescore(job: Job, now: Clock) -> dict[str, object]:
    from annotate.services.learning import queue_rescore

    job_progress(job=job, done=0, stage="Rescoring")
    return queue_rescore(job=job, now=now())


_JOB_RUNNERS: dict[JobKind, Callable[[Job, Clock], dict[str, object]]] = {
    JobKind.IMPORT: _run_import,
    JobKind.AGREEMENT: _run_agreement,
    JobKind.EXPORT: _run_export,
    JobKind.CALIBRATION: _run_calibration,
    JobKind.RETRAIN: _run_retrain,
    JobKind.RESCORE: _run_rescore,
}
