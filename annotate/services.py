"""Writes: every change to the domain goes through a named, keyword-only function."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from annotate import importers
from annotate.models import (
    Item,
    Job,
    JobKind,
    JobStatus,
    Membership,
    Project,
    Role,
    Transcript,
)
from labelsets.models import LabelSet, LabelSetVersion

MAX_REPORTED_ERRORS = 50
IMPORT_BATCH = 1000


@transaction.atomic
def project_create(
    *,
    name: str,
    label_set_version: LabelSetVersion,
    overlap: int = 3,
    lease: timedelta = timedelta(minutes=30),
    guidelines: str = "",
) -> Project:
    """Create a project labelled under one label set version.

    Raises ValidationError (code `duplicate_name`) if the name is taken, or
    (code `invalid_overlap`) if overlap is below 1.
    """
    if overlap < 1:
        raise ValidationError(
            {"overlap": "Overlap must be at least 1."}, code="invalid_overlap"
        )
    if Project.objects.filter(name=name).exists():
        raise ValidationError(
            {"name": f"A project named {name!r} already exists."}, code="duplicate_name"
        )
    return Project.objects.create(
        name=name,
        label_set_version=label_set_version,
        overlap=overlap,
        lease=lease,
        guidelines=guidelines,
    )


def label_set_version_get(*, name: str, number: int | None = None) -> LabelSetVersion:
    """A label set version by name (latest unless `number`); ValidationError if unknown."""
    label_set = LabelSet.objects.filter(name=name).first()
    if label_set is None:
        known = ", ".join(LabelSet.objects.values_list("name", flat=True)) or "none"
        raise ValidationError(
            {"label_set": f"No label set named {name!r} (known: {known})."},
            code="unknown",
        )
    versions = label_set.versions.order_by("-number")
    version = versions.filter(number=number).first() if number else versions.first()
    if version is None:
        raise ValidationError(
            {"label_set": f"{name} has no version {number}."}, code="unknown"
        )
    return version


@dataclass
class NewMember:
    membership: Membership
    created_user: bool
    password: str | None  # set only when the user was created here


@transaction.atomic
def membership_add(*, project: Project, username: str, role: Role) -> NewMember:
    """Add a user to a project with a role, creating the user if new.

    Idempotent: an existing member gets the new role and is reactivated. A new
    user gets a random password, returned once so it can be handed over.
    """
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    password = None
    if user is None:
        password = secrets.token_urlsafe(12)
        user = user_model.objects.create_user(username=username, password=password)
    membership, _ = Membership.objects.update_or_create(
        user=user, project=project, defaults={"role": role, "is_active": True}
    )
    return NewMember(
        membership=membership, created_user=password is not None, password=password
    )


@dataclass
class ImportSummary:
    format: str
    imported: int = 0
    duplicates: int = 0
    by_model: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class ImportRejected(ValidationError):
    """The whole file was refused; `errors` lists where and why (the first 50)."""

    def __init__(self, errors: list[str], total: int) -> None:
        more = f" (and {total - len(errors)} more)" if total > len(errors) else ""
        super().__init__(
            f"The file was not imported: {total} error{'s' if total != 1 else ''}{more}.",
            code="import_rejected",
        )
        self.errors = errors
        self.total = total


def _open_rows(
    stream: BinaryIO, *, filename: str, fmt: str | None
) -> tuple[str, Iterator[importers.TranscriptRow | importers.RowError]]:
    try:
        stream.seek(0)
        head = stream.read(8192)
        stream.seek(0)
        fmt = fmt or importers.detect_format(filename, head)
        if fmt not in importers.FORMATS:
            raise importers.ImportFileError(
                f"Unknown format {fmt!r}; use one of {', '.join(importers.FORMATS)}."
            )
        return fmt, importers.iter_rows(stream, fmt=fmt)
    except importers.ImportFileError as e:
        raise ImportRejected([str(e)], 1) from e


def _check_size(stream: BinaryIO) -> None:
    size = stream.seek(0, 2)
    stream.seek(0)
    if size == 0:
        raise ImportRejected(["The file is empty."], 1)
    if size > settings.IMPORT_MAX_BYTES:
        raise ImportRejected(
            [
                f"The file is {size / 2**20:.0f} MiB; the limit is "
                f"{settings.IMPORT_MAX_BYTES / 2**20:.0f} MiB (IMPORT_MAX_BYTES)."
            ],
            1,
        )


def transcripts_validate(
    *,
    stream: BinaryIO,
    filename: str,
    fmt: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[str, int]:
    """Parse the whole file without writing: (format, good rows) or ImportRejected.

    The first pass of an import, so nothing is written unless every row is good.
    """
    _check_size(stream)
    fmt, rows = _open_rows(stream, filename=filename, fmt=fmt)
    errors: list[str] = []
    total_errors = 0
    count = 0
    try:
        for row in rows:
            if isinstance(row, importers.RowError):
                total_errors += 1
                if len(errors) < MAX_REPORTED_ERRORS:
                    errors.append(str(row))
                continue
            count += 1
            if progress and count % IMPORT_BATCH == 0:
                progress(count)
    except importers.ImportFileError as e:
        total_errors += 1
        errors.append(str(e))
    if total_errors:
        raise ImportRejected(errors, total_errors)
    if count == 0:
        raise ImportRejected(["The file holds no transcripts."], 1)
    return fmt, count


def transcripts_import(
    *,
    project: Project,
    stream: BinaryIO,
    filename: str,
    fmt: str | None = None,
    job: Job | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import every transcript of a file into the project, or none of them.

    Two streamed passes keep memory flat whatever the file size: the first
    validates every row (ImportRejected lists the first 50 errors with their
    lines), the second writes in batches inside one transaction. Transcripts
    whose content hash the project already has are skipped and counted.
    """
    fmt, _ = transcripts_validate(
        stream=stream, filename=filename, fmt=fmt, progress=progress
    )
    stream.seek(0)
    return _transcripts_write(project=project, stream=stream, fmt=fmt, job=job)


@transaction.atomic
def _transcripts_write(
    *, project: Project, stream: BinaryIO, fmt: str, job: Job | None
) -> ImportSummary:
    # Imports into one project take turns: two files sharing transcripts would
    # otherwise race on the unique content hash.
    project = Project.objects.select_for_update().get(pk=project.pk)
    summary = ImportSummary(format=fmt)
    by_model: Counter[str] = Counter()
    seen: set[bytes] = set()  # digests, not hex strings: half the memory per row
    batch: list[importers.TranscriptRow] = []

    def flush() -> None:
        hashes = [r.content_hash for r in batch]
        existing = set(
            Transcript.objects.filter(
                project=project, content_hash__in=hashes
            ).values_list("content_hash", flat=True)
        )
        fresh = [r for r in batch if r.content_hash not in existing]
        summary.duplicates += len(batch) - len(fresh)
        transcripts = Transcript.objects.bulk_create(
            Transcript(
                project=project,
                messages=r.messages,
                source_model=r.source_model,
                dataset=r.dataset,
                external_id=r.external_id,
                prompt_group=r.prompt_group,
                metadata=r.metadata,
                content_hash=r.content_hash,
                job=job,
            )
            for r in fresh
        )
        Item.objects.bulk_create(
            Item(project=project, transcript=t, slots_left=project.overlap)
            for t in transcripts
        )
        by_model.update(r.source_model for r in fresh)
        summary.imported += len(fresh)
        batch.clear()

    for row in importers.iter_rows(stream, fmt=fmt):
        if isinstance(row, importers.RowError):  # the file changed since validation
            raise ImportRejected([str(row)], 1)
        digest = bytes.fromhex(row.content_hash)
        if digest in seen:
            summary.duplicates += 1
            continue
        seen.add(digest)
        batch.append(row)
        if len(batch) >= IMPORT_BATCH:
            flush()
    if batch:
        flush()
    Project.objects.filter(pk=project.pk).update(
        items_total=F("items_total") + summary.imported
    )
    summary.by_model = dict(sorted(by_model.items()))
    return summary


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

    job = Job.objects.create(
        project=project, kind=kind, created_by=created_by, params=params, created_at=now
    )
    tasks.job_run.delay_on_commit(job_id=job.pk)  # type: ignore[attr-defined]  # DjangoTask, Celery >= 5.4; celery-types lags
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
    sits in memory, and a worker on another process can read it.
    """
    directory = Path(settings.MEDIA_ROOT) / "imports"
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
    return job_create(
        project=project,
        kind=JobKind.IMPORT,
        created_by=created_by,
        params=params,
        now=now,
    )


def job_progress(
    *, job: Job, done: int, total: int | None = None, stage: str | None = None
) -> None:
    """Publish progress; outside any transaction so the UI sees it at once."""
    fields: dict[str, object] = {"progress_done": done}
    if total is not None:
        fields["progress_total"] = total
    if stage is not None:
        fields["stage"] = stage
    Job.objects.filter(pk=job.pk).update(**fields)


def job_run(*, job_id: int, now: Callable[[], datetime]) -> Job:
    """Run a queued job to its end, recording the result or the errors.

    Idempotent: a finished job is returned as it is. A job found running (its
    worker died and the broker redelivered it) starts over, which is safe
    because each job writes its data in one transaction.
    """
    job = Job.objects.select_related("project").get(pk=job_id)
    if job.is_finished:
        return job
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, started_at=now())
    try:
        result = _JOB_RUNNERS[JobKind(job.kind)](job)
    except ImportRejected as e:
        job.status, job.errors, job.result = (
            JobStatus.FAILED,
            e.errors,
            {"message": e.message},
        )
    except ValidationError as e:
        job.status, job.errors, job.result = JobStatus.FAILED, e.messages, {}
    else:
        job.status, job.result, job.errors = JobStatus.SUCCEEDED, result, []
    job.finished_at = now()
    job.save(update_fields=["status", "result", "errors", "finished_at"])
    job.refresh_from_db(fields=["progress_done", "progress_total"])
    return job


def _run_import(job: Job) -> dict[str, object]:
    path = Path(str(job.params["path"]))
    if not path.exists():
        raise ValidationError(
            "The uploaded file is gone; upload it again.", code="missing_file"
        )
    size = path.stat().st_size
    with path.open("rb") as stream:
        job_progress(job=job, done=0, total=size, stage="Checking every row")
        fmt, total = transcripts_validate(
            stream=stream,
            filename=str(job.params.get("filename") or path.name),
            fmt=str(job.params.get("format") or "") or None,
            # Bytes read so far: the row count is unknown until the end.
            progress=lambda _rows: job_progress(job=job, done=stream.tell()),
        )
        job_progress(job=job, done=0, total=total, stage=f"Saving {total} transcripts")
        stream.seek(0)
        summary = _transcripts_write(
            project=job.project, stream=stream, fmt=fmt, job=job
        )
    job_progress(job=job, done=total, total=total, stage="Done")
    path.unlink(missing_ok=True)
    return summary.as_dict()


_JOB_RUNNERS: dict[JobKind, Callable[[Job], dict[str, object]]] = {
    JobKind.IMPORT: _run_import
}
