"""Transcript imports: a file in, all of it or none."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, BinaryIO, Self

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from psycopg.copy import QueuedLibpqWriter
from psycopg.types.json import set_json_dumps

from annotate import importers
from annotate.models import (
    GoldQuestion,
    Item,
    Job,
    Project,
    Transcript,
)
from annotate.services.planner import tables_analyze
from annotate.services.quality import expected_parse
from labelsets.models import LabelSetVersion

MAX_REPORTED_ERRORS = 50
MAX_REPORTED_DUPLICATES = 50
IMPORT_BATCH = 1000


@dataclass
class ImportSummary:
    format: str
    imported: int = 0
    duplicates: int = 0
    by_model: dict[str, int] = field(default_factory=dict)
    # The first duplicates in file order, so a manager can see what was merged:
    # {"line": n, "id": external id or None, "reason": ...}.
    duplicate_rows: list[dict[str, object]] = field(default_factory=list)

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
    now: datetime,
) -> ImportSummary:
    """Import every transcript of a file into the project, or none of them.

    One streamed pass inside one transaction keeps memory flat whatever the
    file size. At the first bad row writing stops, but parsing goes on so that
    ImportRejected lists every error (the first 50, with line and field), and
    the transaction rolls back. A row is skipped as a duplicate when its
    identity key (importers.identity_key: its external id if it has one, else
    its content) repeats within the file or the project already has it;
    duplicates are counted and the first 50 listed with their reason.
    `progress` is called with the rows read so far, every batch.
    """
    fmt, rows = _open_rows(stream, filename=filename, fmt=fmt)
    errors: list[str] = []
    total_errors = 0
    expected: dict[str, dict[str, Any]] = {}  # content hash -> gold question answer
    with transaction.atomic():
        _project_import_lock(project)
        project = Project.objects.select_related("label_set_version").get(pk=project.pk)
        # An import queued before the project was archived stops here.
        project.refuse_if_archived("nothing can be imported into it")
        # Read now: on PostgreSQL the writer holds the connection in COPY
        # mode, where any other query would wait for ever.
        version = project.label_set_version
        writer_class = (
            _CopyWriter if connection.vendor == "postgresql" else _BatchWriter
        )
        with writer_class(project=project, job=job, fmt=fmt, now=now) as writer:
            try:
                for row in rows:
                    if isinstance(row, importers.RowError):
                        total_errors += 1
                        if len(errors) < MAX_REPORTED_ERRORS:
                            errors.append(str(row))
                    elif (bad := _expected_error(row, version, expected)) is not None:
                        total_errors += 1
                        if len(errors) < MAX_REPORTED_ERRORS:
                            errors.append(str(bad))
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
        if expected:
            _questions_store(project, expected, now=now)
        tables_analyze(
            written={
                Transcript: summary.imported,
                Item: summary.imported,
                GoldQuestion: len(expected),
            }
        )
    return summary


def _expected_error(
    row: importers.TranscriptRow,
    version: LabelSetVersion,
    expected: dict[str, dict[str, Any]],
) -> importers.RowError | None:
    """Check a row's metadata._expected (the answer that makes its item a
    gold question) and keep it by content hash; the error, if any."""
    if "_expected" not in row.metadata:
        return None
    try:
        expected[row.content_hash] = expected_parse(
            version=version, values=row.metadata["_expected"]
        )
    except ValidationError as e:
        problems = (
            "; ".join(f"{k}: {' '.join(v)}" for k, v in e.message_dict.items())
            if hasattr(e, "error_dict")
            else " ".join(e.messages)
        )
        return importers.RowError(row.line, "metadata._expected", problems)
    return None


def _questions_store(
    project: Project, expected: dict[str, dict[str, Any]], *, now: datetime
) -> None:
    """Make the imported items with an expected answer gold questions."""
    found = Transcript.objects.filter(
        project=project, content_hash__in=list(expected)
    ).values_list("pk", "content_hash")
    GoldQuestion.objects.bulk_create(
        [
            GoldQuestion(
                item_id=pk,
                project=project,
                values=expected[content_hash],
                source="import",
                created_at=now,
            )
            for pk, content_hash in found
        ],
        update_conflicts=True,
        unique_fields=["item"],
        update_fields=["values", "source"],
        batch_size=1000,
    )
    Project.objects.filter(pk=project.pk).update(
        questions_count=GoldQuestion.objects.filter(project=project).count()
    )


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
    finishes the writing on a clean exit and abandons it on an exception.

    Both writers decide duplicates alike, in file order, through `is_new`.
    """

    def __init__(
        self, *, project: Project, job: Job | None, fmt: str, now: datetime
    ) -> None:
        self.project = project
        self.job = job
        self.now = now
        self.summary = ImportSummary(format=fmt)
        # Identity keys seen, as digests (not hex strings: half the memory per
        # row), to the line that first had each; None for the project's own.
        self.seen: dict[bytes, int | None] = {}
        self.rows_read = 0

    def add(self, row: importers.TranscriptRow) -> None:
        self.rows_read += 1
        self.write(row)

    def is_new(self, row: importers.TranscriptRow, digest: bytes) -> bool:
        """Whether `row` is a new item; if not, it is counted as a duplicate."""
        if digest not in self.seen:
            self.seen[digest] = row.line
            return True
        self.summary.duplicates += 1
        if len(self.summary.duplicate_rows) < MAX_REPORTED_DUPLICATES:
            first = self.seen[digest]
            if first is None:
                reason = "already in the project"
            elif row.external_id:
                reason = f"repeated id {row.external_id} (line {first})"
            else:
                reason = f"same content as line {first}"
            self.summary.duplicate_rows.append(
                {"line": row.line, "id": row.external_id or None, "reason": reason}
            )
        return False

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
    """Any database: batches of bulk_create, skipping keys the project has."""

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
        digests = [bytes.fromhex(r.content_hash) for r in self.batch]
        # Only keys the file has not shown yet can be the project's own.
        unseen = {
            r.content_hash
            for r, digest in zip(self.batch, digests, strict=True)
            if digest not in self.seen
        }
        existing = Transcript.objects.filter(
            project=self.project, content_hash__in=unseen
        ).values_list("content_hash", flat=True)
        self.seen.update((bytes.fromhex(h), None) for h in existing)
        fresh = [
            r
            for r, digest in zip(self.batch, digests, strict=True)
            if self.is_new(r, digest)
        ]
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
                created_at=self.now,
            )
            for r in fresh
        )
        Item.objects.bulk_create(
            Item(
                project=self.project,
                transcript=t,
                slots_left=self.project.overlap,
                distressing=r.content_warning is not None,
                content_warning=r.content_warning or "",
            )
            for t, r in zip(transcripts, fresh, strict=True)
        )
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
    one parses the file. COPY cannot skip conflicts, so the project's keys
    are loaded first (the project lock keeps other imports out meanwhile);
    the queue items follow in one INSERT ... SELECT at the end.
    """

    def __enter__(self) -> Self:
        self.by_model: Counter[str] = Counter()
        # (identity key, kind) of the rows flagged with a content warning,
        # set on their items once these exist; usually few.
        self.flagged: list[tuple[str, str]] = []
        existing = Transcript.objects.filter(project=self.project).values_list(
            "content_hash", flat=True
        )
        self.seen.update(
            (bytes.fromhex(h), None) for h in existing.iterator(chunk_size=10_000)
        )
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
        if not self.is_new(row, bytes.fromhex(row.content_hash)):
            return
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
        if row.content_warning is not None:
            self.flagged.append((row.content_hash, row.content_warning))

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
        for start in range(0, len(self.flagged), IMPORT_BATCH):
            hashes, kinds = zip(
                *self.flagged[start : start + IMPORT_BATCH], strict=True
            )
            self.pg.execute(
                "UPDATE annotate_item AS i SET distressing = true, content_warning = f.kind "
                "FROM annotate_transcript AS t, unnest(%s::text[], %s::text[]) AS f(hash, kind) "
                "WHERE t.project_id = %s AND t.content_hash = f.hash AND t.id > %s "
                "AND i.transcript_id = t.id",
                [list(hashes), list(kinds), self.project.pk, self.last_id_before],
            )
        self.pg.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's default again
        self.summary.by_model = dict(sorted(self.by_model.items()))
