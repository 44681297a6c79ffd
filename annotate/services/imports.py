"""Writes: every change to the domain goes through a named, keyword-only function."""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Self

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import F
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone
from psycopg.copy import QueuedLibpqWriter
from psycopg.types.json import set_json_dumps

from annotate import importers, tasks
from annotate.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    Decision,
    Gold,
    GoldMethod,
    Item,
    Job,
    JobKind,
    JobStatus,
    Membership,
    Project,
    Role,
    Transcript,
)
from annotate.queries import QUEUE_ORDER, QUEUE_WHERE
from annotate.rawsql import Columns, for_update
from labelsets.models import LabelSet, LabelSetVersion
from labelsets.schema import Field, Schema

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
    extra_labels_max: int = 0,
    disagreement_threshold: float = 0.35,
    gold_method: GoldMethod = GoldMethod.MAJORITY,
) -> Project:
    """Create a project labelled under one label set version.

    Raises ValidationError (code `duplicate_name`) if the name is taken, or
    (code `invalid_overlap`) if overlap is below 1, or (code `invalid`) for
    negative extra labels or a threshold outside 0..1.
    """
    if overlap < 1:
        raise ValidationError(
            {"overlap": "Overlap must be at least 1."}, code="invalid_overlap"
        )
    if extra_labels_max < 0:
        raise ValidationError(
            {"extra_labels_max": "Extra labels cannot be negative."}, code="invalid"
        )
    if not 0 <= disagreement_threshold <= 1:
        raise ValidationError(
            {"disagreement_threshold": "The threshold is between 0 and 1."},
            code="invalid",
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
        extra_labels_max=extra_labels_max,
        disagreement_threshold=disagreement_threshold,
        gold_method=gold_method,
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
    size = stream.seek(0, 2)
    stream.seek(0)
    if size == 0:
        raise ImportRejected(["The file is empty."], 1)
    if size > settings.IMPORT_MAX_BYTES:
        limit = settings.IMPORT_MAX_BYTES / 2**20
        raise ImportRejected(
            [
                f"The file is {size / 2**20:.0f} MiB; the limit is {limit:.0f} MiB (IMPORT_MAX_BYTES)."
            ],
            1,
        )
    try:
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

    One streamed pass inside one transaction keeps memory flat whatever the
    file size. At the first bad row writing stops, but parsing goes on so that
    ImportRejected lists every error (the first 50, with line and field), and
    the transaction rolls back. Transcripts whose content hash the project
    already has, or that repeat within the file, are skipped and counted.
    `progress` is called with the rows read so far, every batch.
    """
    fmt, rows = _open_rows(stream, filename=filename, fmt=fmt)
    errors: list[str] = []
    total_errors = 0
    with transaction.atomic():
        _project_import_lock(project)
        project = Project.objects.get(pk=project.pk)
        writer_class = (
            _CopyWriter if connection.vendor == "postgresql" else _BatchWriter
        )
        with writer_class(project=project, job=job, fmt=fmt) as writer:
            try:
                for row in rows:
                    if isinstance(row, importers.RowError):
                        total_errors += 1
                        if len(errors) < MAX_REPORTED_ERRORS:
                            errors.append(str(row))
                    elif not total_errors:  # the file will be refused: stop writing
                        writer.add(row)
                        if progress and writer.rows_read % IMPORT_BATCH == 0:
                            progress(writer.rows_read)
            except importers.ImportFileError as e:
                total_errors += 1
                errors.append(str(e))
            if total_errors:
                raise ImportRejected(errors, total_errors)
            if writer.rows_read == 0:
                raise ImportRejected(["The file holds no transcripts."], 1)
        summary = writer.summary
        Project.objects.filter(pk=project.pk).update(
            items_total=F("items_total") + summary.imported
        )
    return summary


def _project_import_lock(project: Project) -> None:
    """Imports into one project take turns: two files sharing transcripts would
    otherwise race on the unique content hash, and the COPY path relies on
    being the only writer of the project's transcripts.

    An advisory lock, not the project row: locking the row for a long import
    would stall every claim and submit of the project (their foreign keys and
    counters touch it). SQLite lets one writer at a time anyway.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_IMPORT_LOCK, project.pk]
            )


_IMPORT_LOCK = 1  # advisory lock namespace for imports


class _Writer:
    """Writes new transcripts and their queue items; a context manager that
    finishes the writing on a clean exit and abandons it on an exception."""

    def __init__(self, *, project: Project, job: Job | None, fmt: str) -> None:
        self.project = project
        self.job = job
        self.summary = ImportSummary(format=fmt)
        self.seen: set[bytes] = (
            set()
        )  # digests, not hex strings: half the memory per row
        self.rows_read = 0

    def add(self, row: importers.TranscriptRow) -> None:
        self.rows_read += 1
        digest = bytes.fromhex(row.content_hash)
        if digest in self.seen:
            self.summary.duplicates += 1
            return
        self.seen.add(digest)
        self.write(row)

    def write(self, row: importers.TranscriptRow) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.finish()


class _BatchWriter(_Writer):
    """Any database: batches of bulk_create, skipping hashes the project has."""

    batch: list[importers.TranscriptRow]
    by_model: Counter[str]

    def __enter__(self) -> Self:
        self.batch, self.by_model = [], Counter()
        return self

    def write(self, row: importers.TranscriptRow) -> None:
        self.batch.append(row)
        if len(self.batch) >= IMPORT_BATCH:
            self.flush()

    def flush(self) -> None:
        hashes = [r.content_hash for r in self.batch]
        existing = set(
            Transcript.objects.filter(
                project=self.project, content_hash__in=hashes
            ).values_list("content_hash", flat=True)
        )
        fresh = [r for r in self.batch if r.content_hash not in existing]
        transcripts = Transcript.objects.bulk_create(
            Transcript(
                project=self.project,
                messages_json=r.messages_json,
                source_model=r.source_model,
                dataset=r.dataset,
                external_id=r.external_id,
                prompt_group=r.prompt_group,
                metadata=r.metadata,
                content_hash=r.content_hash,
                job=self.job,
            )
            for r in fresh
        )
        Item.objects.bulk_create(
            Item(project=self.project, transcript=t, slots_left=self.project.overlap)
            for t in transcripts
        )
        self.summary.duplicates += len(self.batch) - len(fresh)
        self.summary.imported += len(fresh)
        self.by_model.update(r.source_model for r in fresh)
        self.batch.clear()

    def finish(self) -> None:
        if self.batch:
            self.flush()
        self.summary.by_model = dict(sorted(self.by_model.items()))


class _CopyWriter(_Writer):
    """PostgreSQL: the rows stream straight into the table with one COPY.

    COPY is several times faster than INSERT, and its queued writer sends from
    a thread, so the server parses and indexes on the other core while this
    one parses the file. COPY cannot skip conflicts, so the project's hashes
    are loaded first (the project lock keeps other imports out meanwhile);
    the queue items follow in one INSERT ... SELECT at the end.
    """

    def __enter__(self) -> Self:
        self.by_model: Counter[str] = Counter()
        existing = Transcript.objects.filter(project=self.project).values_list(
            "content_hash", flat=True
        )
        self.seen.update(bytes.fromhex(h) for h in existing.iterator(chunk_size=10_000))
        self.now = timezone.now()
        self.cursor = connection.cursor()
        self.pg = self.cursor.cursor  # psycopg's own cursor, which has copy()
        # Django's foreign keys are deferred to commit, where their checks run
        # one by one after the COPY; immediate, the server runs them during
        # the COPY, on its own core, while this one parses.
        self.pg.execute("SET CONSTRAINTS ALL IMMEDIATE")
        # The table's last id, not the project's: max(id) WHERE project_id
        # walks the whole primary key for a new project. Rows of this project
        # past it can only be this import's, since the project is locked.
        self.pg.execute("SELECT coalesce(max(id), 0) FROM annotate_transcript")
        self.last_id_before = self.pg.fetchone()[0]
        self.copying = self.pg.copy(
            "COPY annotate_transcript (project_id, messages_json, source_model, dataset, "
            "external_id, prompt_group, metadata, content_hash, job_id, created_at) "
            "FROM STDIN (FORMAT BINARY)",
            writer=QueuedLibpqWriter(self.pg),
        )
        self.copy = self.copying.__enter__()
        # Binary rows spare the server parsing and unescaping text; metadata
        # goes as a dict, dumped by orjson.
        set_json_dumps(orjson.dumps, context=self.pg)
        self.copy.set_types(
            [
                "int8",
                "text",
                "text",
                "text",
                "text",
                "text",
                "jsonb",
                "text",
                "int8",
                "timestamptz",
            ]
        )
        return self

    def write(self, row: importers.TranscriptRow) -> None:
        self.copy.write_row(
            (
                self.project.pk,
                row.messages_json,
                row.source_model,
                row.dataset,
                row.external_id,
                row.prompt_group,
                row.metadata,
                row.content_hash,
                self.job.pk if self.job else None,
                self.now,
            )
        )
        self.by_model[row.source_model] += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            # Ends the COPY (aborting it on an exception) before finish() queries.
            self.copying.__exit__(exc_type, exc, tb)
            super().__exit__(exc_type, exc, tb)
        finally:
            self.cursor.close()

    def finish(self) -> None:
        self.pg.execute(
            "INSERT INTO annotate_item (project_id, transcript_id, priority, slots_left, "
            "annotations_count, skips_count) SELECT project_id, id, 0, %s, 0, 0 "
            "FROM annotate_transcript WHERE project_id = %s AND id > %s ORDER BY id",
            [self.project.overlap, self.project.pk, self.last_id_before],
        )
        self.summary.imported = self.pg.rowcount
        self.pg.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's default again
        self.summary.by_model = dict(sorted(self.by_model.items()))


# Judges: labels from a classifier or an LLM, kept apart from people's.

JUDGE_PREFIX = "judge-"


@dataclass
class JudgementSummary:
    judge: str
    stored: int
    replaced: int


@transaction.atomic
def judgements_import(
    *, project: Project, stream: BinaryIO, judge: str, now: datetime
) -> JudgementSummary:
    """Store a judge's labels (JSONL of {"id": transcript id, "values": {...}})
    as a non-human annotator of the project, all or none.

    Rows of a gold export (with "gold" instead of "values") are read as
    their gold values, so an export's gold comes into a new project this way.

    `id` is the transcript's external id, or its number when it has none. The
    judge is a user `judge-<name>` who cannot log in and belongs to no
    project; its labels (is_human False) are never shown to people, never
    counted in agreement or gold, and compared with the gold on the agreement
    page. Importing the same judge again replaces its labels. Raises
    ImportRejected listing every bad line (unknown ids, bad JSON, values that
    do not fit the label set; the first 50), with nothing stored.
    """
    if not judge or not all(c.isalnum() or c in "-_." for c in judge):
        raise ValidationError({"judge": "Letters, digits, '-', '_' and '.' only."})
    version = project.label_set_version
    by_external = dict(
        Transcript.objects.filter(project=project)
        .exclude(external_id="")
        .values_list("external_id", "pk")
    )
    numbers = set(
        Transcript.objects.filter(project=project, external_id="").values_list(
            "pk", flat=True
        )
    )
    errors: list[str] = []
    total_errors = 0
    parsed: dict[int, dict[str, object]] = {}

    def problem(message: str) -> None:
        nonlocal total_errors
        total_errors += 1
        if len(errors) < MAX_REPORTED_ERRORS:
            errors.append(message)

    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            problem(f"line {number}: not JSON ({e})")
            continue
        if isinstance(record, dict) and "values" not in record and "gold" in record:
            # A row of a gold export: its gold values, as a judge's labels.
            gold = record["gold"] if isinstance(record["gold"], dict) else {}
            record["values"] = {
                name: entry["value"]
                for name, entry in gold.items()
                if isinstance(entry, dict) and entry.get("value") is not None
            }
        if not isinstance(record, dict) or "id" not in record or "values" not in record:
            problem(f'line {number}: needs "id" and "values"')
            continue
        key = record["id"]
        pk = by_external.get(str(key))
        if pk is None and str(key).isdigit() and int(str(key)) in numbers:
            pk = int(str(key))
        if pk is None:
            problem(f"line {number}: id {key!r}: no such transcript in this project")
            continue
        try:
            parsed[pk] = version.validate(record["values"])
        except ValidationError as e:
            fields = "; ".join(f"{f}: {' '.join(m)}" for f, m in e.message_dict.items())
            problem(f"line {number}: values: {fields}")
    if total_errors:
        raise ImportRejected(errors, total_errors)
    if not parsed:
        raise ImportRejected(["the file has no judgements"], 1)

    user, created = get_user_model().objects.get_or_create(
        username=f"{JUDGE_PREFIX}{judge}", defaults={"is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    replaced = Annotation.objects.filter(annotator=user, item__project=project).count()
    Annotation.objects.filter(annotator=user, item__project=project).delete()
    Annotation.objects.bulk_create(
        Annotation(
            item_id=pk,
            annotator=user,
            label_set_version=version,
            values=values,
            is_human=False,
            created_at=now,
            updated_at=now,
        )
        for pk, values in parsed.items()
    )
    return JudgementSummary(judge=judge, stored=len(parsed), replaced=replaced)


# The labelling loop: claim, submit, skip, expire, correct.

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


# Disagreement: scored per item after each new or corrected label, by a task.


@transaction.atomic
def item_rescore(*, item_id: int, now: datetime) -> Item | None:
    """Rescore an item after a label: how much its labels disagree, whether it
    gets one more labelling slot, and its gold. None if the item is gone.

    The score, stored on item.disagreement, is the normalised entropy of the
    disagreement field's values over its options (agreement.normalised_entropy:
    0 when all agree, 1 when spread evenly); None when the label set has no
    field to score. An item scoring above its project's disagreement_threshold
    that has no slot left, no live claim and fewer than overlap +
    extra_labels_max labels gets one slot, so the queue serves it to one more
    annotator (never one who has seen it). The gold (item.gold) aggregates
    the labels per field, a reviewer's latest decision winning (gold_store).
    Idempotent: a second run finds the slot open or claimed and writes the
    same gold.
    """
    # agreement pulls in numpy and scikit-learn (1.6 s): loaded by the worker
    # that runs this, not by every web process at startup.
    import numpy as np

    from annotate.agreement import normalised_entropy

    # The row lock makes runs for one item take turns, and holds claims (which
    # lock it too, and skip it) and submits (which bump its counter) until the
    # slot is decided, so no claim can land between the check and the grant.
    # NO KEY: rows pointing at the item (claims, annotations) can still be
    # inserted meanwhile. OF self: not the project row, which every submit of
    # the project updates.
    item = (
        Item.objects.select_for_update(no_key=True, of=("self",))
        .select_related("project__label_set_version")
        .defer("project__label_set_version__schema_data")  # schema: parsed once
        .filter(pk=item_id)
        .first()
    )
    if item is None:
        return None
    project = item.project
    version = project.label_set_version
    field = _disagreement_field(version.schema)
    # Whole values, a handful of rows: a JSON key read in SQL comes back from
    # SQLite as bare text, which turns an option like "1" into 1.
    labels = list(
        Annotation.objects.filter(
            item_id=item.pk, label_set_version_id=version.pk, is_human=True
        ).values_list("values", flat=True)
    )
    score: float | None = None
    if field is not None:
        choices: list[object] = (
            [o.value for o in field.options]
            if field.kind == "single"
            else [lv.value for lv in field.scale]
        )
        column = {value: i for i, value in enumerate(choices)}
        # Whole values, a handful of rows: a JSON key read in SQL comes back
        # from SQLite as bare text, which turns an option like "1" into 1.
        given = [column[v] for vs in labels if (v := vs.get(field.name)) in column]
        counts = np.bincount(np.asarray(given, dtype=np.int64), minlength=len(column))
        score = normalised_entropy(counts)

    slots_left = item.slots_left
    if (
        score is not None
        and score > project.disagreement_threshold
        and slots_left == 0
        and item.annotations_count < project.overlap + project.extra_labels_max
        # A live claim's label is still to come: rescored when it arrives.
        and not Assignment.objects.filter(
            item_id=item.pk, status=AssignmentStatus.LIVE
        ).exists()
    ):
        slots_left = 1
    if (score, slots_left) != (item.disagreement, item.slots_left):
        Item.objects.filter(pk=item.pk).update(
            disagreement=score, slots_left=slots_left
        )
        item.disagreement, item.slots_left = score, slots_left
    gold_store(item=item, labels=labels, now=now)
    return item


def gold_store(*, item: Item, labels: list[dict[str, object]], now: datetime) -> Gold:
    """Write the item's gold from its labels and its latest decision, if any.

    Call with the item row locked (item_rescore, decision_record), so two
    writers take turns. Every field is aggregated (aggregation.aggregate_item):
    unanimous, strict majority or median; a decided field is `adjudicated`.
    """
    from annotate import aggregation  # numpy: loaded where the work runs

    version = item.project.label_set_version
    decision = Decision.objects.filter(item_id=item.pk).order_by("-number").first()
    golds = aggregation.aggregate_item(
        aggregation.field_specs(version.schema),
        labels,
        decision.values if decision is not None else None,
    )
    values = {
        name: {"value": g.value, "method": g.method, "confidence": g.confidence}
        for name, g in golds.items()
    }
    if item.project.gold_method == GoldMethod.WEIGHTED:
        # The last weighted run's values stand until the next run: one new
        # label cannot re-weigh every annotator (gold_weighted_update).
        previous = Gold.objects.filter(item_id=item.pk).values_list("values", flat=True)
        for name, entry in (previous.first() or {}).items():
            if (
                entry.get("method") == "weighted"
                and golds[name].method != "adjudicated"
            ):
                values[name] = entry
    key = _disagreement_field(version.schema)
    gold, _ = Gold.objects.update_or_create(
        item_id=item.pk,
        defaults={
            "values": values,
            "key_resolved": key is None or golds[key.name].value is not None,
            "adjudicated": decision is not None,
            "updated_at": now,
        },
    )
    return gold


def gold_weighted_update(*, project: Project, now: datetime) -> int:
    """Weighted gold for every one-of field of the project: Dawid-Skene EM
    over all its human labels estimates how each annotator errs, and each
    item's gold is the most probable value (confidence: its posterior).

    A field a reviewer decided stays adjudicated. Items keep this weighted
    gold when new labels arrive until the next run (beat runs it hourly for
    projects whose gold_method is weighted). Returns the items updated.
    """
    import numpy as np

    from annotate import aggregation

    version = project.label_set_version
    singles = [f for f in version.schema.fields if f.kind == "single"]
    if not singles:
        return 0
    extracted = {
        f"v{i}": KeyTextTransform(f.name, "values") for i, f in enumerate(singles)
    }
    items: list[int] = []
    annotators: list[int] = []
    columns: list[list[str | None]] = [[] for _ in singles]
    # Streamed: three short columns per label, whatever the project's size.
    for row in (
        Annotation.objects.filter(
            item__project=project, label_set_version=version, is_human=True
        )
        .annotate(**extracted)
        .values_list("item_id", "annotator_id", *extracted)
        .iterator(chunk_size=5000)
    ):
        items.append(row[0])
        annotators.append(row[1])
        for column, value in zip(columns, row[2:], strict=True):
            column.append(value)
    if not items:
        return 0
    item_ids, item_index = np.unique(np.asarray(items), return_inverse=True)
    _, annotator_index = np.unique(np.asarray(annotators), return_inverse=True)
    weighted: dict[str, list[aggregation.Gold]] = {}
    for single, column in zip(singles, columns, strict=True):
        options = [o.value for o in single.options]
        position = {v: i for i, v in enumerate(options)}
        codes = np.fromiter(
            (position.get(str(v), -1) if v is not None else -1 for v in column),
            dtype=np.int64,
            count=len(column),
        )
        given = codes >= 0
        result = aggregation.dawid_skene(
            item_index[given],
            annotator_index[given],
            codes[given],
            n_items=len(item_ids),
            n_annotators=int(annotator_index.max()) + 1,
            n_values=len(options),
        )
        weighted[single.name] = aggregation.weighted_gold(result, values=options)
    key = _disagreement_field(version.schema)
    position_of = {int(pk): i for i, pk in enumerate(item_ids)}
    changed: list[Gold] = []
    for gold in Gold.objects.filter(item__project=project).iterator(chunk_size=2000):
        i = position_of.get(gold.item_id)
        if i is None:
            continue
        for name, golds in weighted.items():
            if gold.values.get(name, {}).get("method") == "adjudicated":
                continue
            g = golds[i]
            gold.values[name] = {
                "value": g.value,
                "method": g.method,
                "confidence": g.confidence,
            }
        if key is not None and key.name in gold.values:
            gold.key_resolved = gold.values[key.name].get("value") is not None
        gold.updated_at = now
        changed.append(gold)
    Gold.objects.bulk_update(
        changed, ["values", "key_resolved", "updated_at"], batch_size=1000
    )
    return len(changed)


@transaction.atomic
def decision_record(
    *,
    item: Item,
    reviewer: User,
    values: Mapping[str, object],
    reason: str,
    now: datetime,
) -> Decision:
    """A reviewer's gold labels for an item, with the reason; the gold follows.

    Versioned: each call adds a decision with the next number, recording the
    gold values it replaced. Raises ValidationError with per-field messages
    (nothing saved) if the values do not fit the label set or the reason is
    empty.
    """
    version = item.project.label_set_version
    clean = version.validate(values)
    if not reason.strip():
        raise ValidationError(
            {"reason": "Say why: the reason is kept with the decision."}
        )
    # The same lock as item_rescore: a label arriving now waits, then
    # recomputes the gold with this decision in it.
    Item.objects.select_for_update(no_key=True).filter(pk=item.pk).exists()
    last = Decision.objects.filter(item_id=item.pk).order_by("-number").first()
    before = (
        Gold.objects.filter(item_id=item.pk).values_list("values", flat=True).first()
    )
    decision = Decision.objects.create(
        item_id=item.pk,
        number=last.number + 1 if last else 1,
        reviewer=reviewer,
        label_set_version=version,
        values=clean,
        before=before or {},
        reason=reason.strip()[:5000],
        created_at=now,
    )
    labels = list(
        Annotation.objects.filter(
            item_id=item.pk, label_set_version_id=version.pk, is_human=True
        ).values_list("values", flat=True)
    )
    gold_store(item=item, labels=labels, now=now)
    return decision


def _disagreement_field(schema: Schema) -> Field | None:
    """The field disagreement is scored on: the key field, or the first single
    field. A multi key field is passed over: its value is a set of options,
    not one of them, so counts over its options would not show agreement."""
    key = next((f for f in schema.fields if f.key), None)
    if key is not None and key.kind in ("single", "rating"):
        return key
    return next((f for f in schema.fields if f.kind == "single"), None)


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
        job_progress_key(job.pk),
        {"done": done, "total": job.progress_total, "stage": job.stage},
        timeout=24 * 3600,
    )


def job_progress_key(job_id: int) -> str:
    return f"job-progress:{job_id}"


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
    cache.delete(job_progress_key(job.pk))
    return job


def _run_import(job: Job) -> dict[str, object]:
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
            # Bytes read: the row count is unknown until the end.
            progress=lambda _rows: job_progress(job=job, done=stream.tell()),
        )
    job_progress(job=job, done=size, stage="Done")
    path.unlink(missing_ok=True)
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


def _run_agreement(job: Job) -> dict[str, object]:
    # numpy, scikit-learn and krippendorff load here, in the worker, so web
    # processes never pay for them.
    from annotate.reliability import Filters, agreement_report

    filters = job.params.get("filters")
    project = Project.objects.select_related("label_set_version__label_set").get(
        pk=job.project_id
    )
    return agreement_report(
        project=project,
        filters=Filters.from_dict(filters if isinstance(filters, dict) else {}),
        resamples=int(job.params.get("resamples", 1000)),
        seed=int(job.params.get("seed", 0)),
        now=timezone.now(),
        progress=lambda stage, done, total: job_progress(
            job=job, done=done, total=total, stage=stage
        ),
    )


def calibration_job_create(
    *, project: Project, created_by: User | None, now: datetime
) -> Job:
    """Queue the calibration report of the project's gold as a job."""
    return job_create(
        project=project,
        kind=JobKind.CALIBRATION,
        created_by=created_by,
        params={},
        now=now,
    )


def _run_calibration(job: Job) -> dict[str, object]:
    from annotate.exports import calibration_report

    project = Project.objects.select_related("label_set_version").get(pk=job.project_id)
    job_progress(job=job, done=0, total=project.items_total, stage="Counting")
    return calibration_report(
        project=project,
        now=timezone.now(),
        progress=lambda n: job_progress(job=job, done=n),
    )


def export_job_create(
    *,
    project: Project,
    options: dict[str, object],
    created_by: User | None,
    now: datetime,
) -> Job:
    """Queue a gold export (exports.ExportOptions.as_dict()) as a job.

    Raises ValidationError naming the field for an unknown format or bad
    split ratios, before anything is queued.
    """
    from annotate import exporters
    from annotate.exports import ExportOptions

    parsed = ExportOptions.from_dict(dict(options))
    if parsed.fmt not in exporters.FORMATS:
        raise ValidationError(
            {"format": f"Choose one of {', '.join(exporters.FORMATS)}."}
        )
    try:
        exporters.split_of("", 0, ratios=parsed.ratios)
    except ValueError as e:
        raise ValidationError({"ratios": str(e)}) from e
    return job_create(
        project=project,
        kind=JobKind.EXPORT,
        created_by=created_by,
        params=parsed.as_dict(),
        now=now,
    )


def export_paths(job: Job) -> tuple[Path, Path]:
    """Where an export job writes its data file and its manifest."""
    directory = Path(settings.MEDIA_ROOT) / "exports" / str(job.pk)
    return directory / f"gold.{job.params['fmt']}", directory / "manifest.json"


def _run_export(job: Job) -> dict[str, object]:
    from annotate.exports import ExportOptions, export_alpha, gold_export

    project = Project.objects.select_related("label_set_version__label_set").get(
        pk=job.project_id
    )
    options = ExportOptions.from_dict(job.params)
    data_path, manifest_path = export_paths(job)
    data_path.parent.mkdir(parents=True, exist_ok=True)
    job_progress(job=job, done=0, total=project.items_total, stage="Exporting")
    with data_path.open("wb") as stream:
        manifest = gold_export(
            project=project,
            options=options,
            stream=stream,
            alpha=export_alpha(project, now=timezone.now()),
            now=timezone.now(),
            progress=lambda n: job_progress(job=job, done=n),
        )
    manifest_path.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    job_progress(job=job, done=manifest["counts"]["rows"], stage="Done")
    return {
        "rows": manifest["counts"]["rows"],
        "format": options.fmt,
        "bytes": manifest["bytes"],
        "sha256": manifest["sha256"],
        "by_split": manifest["counts"]["by_split"],
    }


_JOB_RUNNERS: dict[JobKind, Callable[[Job], dict[str, object]]] = {
    JobKind.IMPORT: _run_import,
    JobKind.AGREEMENT: _run_agreement,
    JobKind.EXPORT: _run_export,
    JobKind.CALIBRATION: _run_calibration,
}
