"""Gold export from the database: one consistent snapshot, streamed to a writer.

Rows come from a server-side cursor in item order (so memory stays flat
whatever the project's size), inside one REPEATABLE READ transaction on
PostgreSQL, so an export taken while annotators keep labelling sees every
table as of one moment. annotate/exporters.py does the formats.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from annotate import exporters
from annotate.inputs import fields_parse
from annotate.models import Job, JobKind, JobStatus, Project
from annotate.stats.calibration import (
    COMPLYING,
    DEFAULT_BREAKDOWN,
    FIGURES,
    HARMS,
    REFUSING,
    Calibration,
)
from labelsets.schema import Schema

PROGRESS_EVERY = 10_000
KINDS = ("gold", "pairs", "sft")
type Progress = Callable[[int], None]


@dataclass(frozen=True)
class ExportOptions:
    """What goes into a gold export, and how."""

    fmt: str = "jsonl"
    source_model: str = ""
    dataset: str = ""
    min_agreement: float | None = None  # 1 - item disagreement; unscored items pass
    adjudicated_only: bool = False
    since: date | None = None  # gold last changed, inclusive
    until: date | None = None
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    with_annotations: bool = False
    # A gold set is the items whose key field has gold; the rest, flagged, on request.
    include_unresolved: bool = False
    # gold (the evaluation set), pairs (preference pairs) or sft (chat rows):
    # the last two are training_exports.py's, and read the options below.
    kind: str = "gold"
    min_confidence: float | None = None  # of the appropriateness gold, each row
    max_pairs_per_group: int | None = None
    quality_margin: float | None = None  # None: no tie-break between refusals
    behaviour_differs: bool = False  # pairs whose refusal types differ, only
    refusal_type: str = ""
    request_harm: str = ""
    min_quality: float | None = None  # of an appropriate refusal's four ratings

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["since"] = self.since.isoformat() if self.since else None
        data["until"] = self.until.isoformat() if self.until else None
        data["ratios"] = list(self.ratios)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExportOptions:
        return cls(
            fmt=str(data.get("fmt") or "jsonl"),
            source_model=str(data.get("source_model") or ""),
            dataset=str(data.get("dataset") or ""),
            min_agreement=data.get("min_agreement"),
            adjudicated_only=bool(data.get("adjudicated_only")),
            since=date.fromisoformat(data["since"]) if data.get("since") else None,
            until=date.fromisoformat(data["until"]) if data.get("until") else None,
            ratios=tuple(data.get("ratios") or (0.8, 0.1, 0.1)),
            with_annotations=bool(data.get("with_annotations")),
            include_unresolved=bool(data.get("include_unresolved")),
            kind=str(data.get("kind") or "gold"),
            min_confidence=data.get("min_confidence"),
            max_pairs_per_group=data.get("max_pairs_per_group"),
            quality_margin=data.get("quality_margin"),
            behaviour_differs=bool(data.get("behaviour_differs")),
            refusal_type=str(data.get("refusal_type") or ""),
            request_harm=str(data.get("request_harm") or ""),
            min_quality=data.get("min_quality"),
        )


# The rules for each option, whoever gives it: form fields used as parsers.
_OPTION_FIELDS: dict[str, forms.Field] = {
    "format": forms.ChoiceField(
        choices=[(f, f) for f in exporters.FORMATS], required=False
    ),
    "source_model": forms.CharField(required=False, max_length=200),
    "dataset": forms.CharField(required=False, max_length=200),
    "min_agreement": forms.FloatField(required=False, min_value=0, max_value=1),
    "adjudicated_only": forms.BooleanField(required=False),
    "since": forms.DateField(required=False),
    "until": forms.DateField(required=False),
    "annotations": forms.BooleanField(required=False),
    "include_unresolved": forms.BooleanField(required=False),
    "kind": forms.ChoiceField(choices=[(k, k) for k in KINDS], required=False),
    "min_confidence": forms.FloatField(required=False, min_value=0, max_value=1),
    "max_pairs_per_group": forms.IntegerField(required=False, min_value=1),
    "quality_margin": forms.FloatField(required=False, min_value=0, max_value=4),
    "behaviour_differs": forms.BooleanField(required=False),
    "refusal_type": forms.CharField(required=False, max_length=200),
    "request_harm": forms.CharField(required=False, max_length=200),
    "min_quality": forms.FloatField(required=False, min_value=1, max_value=5),
}
_RATIO = forms.FloatField(min_value=0, max_value=1)
DEFAULT_RATIOS = (0.8, 0.1, 0.1)


def export_options_parse(data: Mapping[str, Any]) -> ExportOptions:
    """Export options from input: the export page, the API and manage.py
    export_gold all parse theirs here, so one set of rules holds for each.

    Keys, all optional: format (jsonl, csv, parquet), source_model, dataset,
    min_agreement (0..1), adjudicated_only, since and until (YYYY-MM-DD),
    ratios (train, validation, test: three numbers as a list or as
    "0.8,0.1,0.1", adding up to 1), annotations, include_unresolved (items
    whose key field has no gold too, flagged), kind (gold, pairs, sft; the
    training kinds are JSONL or Parquet) and, for those, min_confidence
    (0..1), max_pairs_per_group, quality_margin (0..4), behaviour_differs,
    refusal_type, request_harm and min_quality (1..5). Other keys are ignored.
    Raises ValidationError naming every bad key.
    """
    clean, errors = fields_parse(_OPTION_FIELDS, data)
    try:
        ratios = _ratios(data.get("ratios"))
    except ValidationError as e:
        errors["ratios"] = e.messages
    kind = clean.get("kind") or "gold"
    if kind != "gold" and clean.get("format") == "csv":
        errors["format"] = [f"A {kind} export is JSONL or Parquet."]
    if errors:
        raise ValidationError(errors)
    return ExportOptions(
        fmt=clean["format"] or "jsonl",
        source_model=clean["source_model"],
        dataset=clean["dataset"],
        min_agreement=clean["min_agreement"],
        adjudicated_only=clean["adjudicated_only"],
        since=clean["since"],
        until=clean["until"],
        ratios=ratios,
        with_annotations=clean["annotations"],
        include_unresolved=clean["include_unresolved"],
        kind=kind,
        min_confidence=clean["min_confidence"],
        max_pairs_per_group=clean["max_pairs_per_group"],
        quality_margin=clean["quality_margin"],
        behaviour_differs=clean["behaviour_differs"],
        refusal_type=clean["refusal_type"],
        request_harm=clean["request_harm"],
        min_quality=clean["min_quality"],
    )


def _ratios(given: object) -> tuple[float, float, float]:
    if given is None or given == "":
        return DEFAULT_RATIOS
    parts = given.split(",") if isinstance(given, str) else given
    if not isinstance(parts, list | tuple) or len(parts) != 3:
        raise ValidationError(
            "Give three numbers, train, validation and test (like 0.8,0.1,0.1)."
        )
    train, validation, test = (_RATIO.clean(p) for p in parts)
    if abs(train + validation + test - 1) > 1e-9:
        raise ValidationError("Train, validation and test must add up to 1.")
    return train, validation, test


def export_paths(job: Job) -> tuple[Path, Path]:
    """Where an export job writes its data file and its manifest."""
    directory = Path(settings.MEDIA_ROOT) / "exports" / str(job.pk)
    kind = job.params.get("kind") or "gold"
    return directory / f"{kind}.{job.params['fmt']}", directory / "manifest.json"


def export_card_path(job: Job) -> Path:
    """Where an export job writes its dataset card: README.md beside the data,
    where the Hugging Face hub looks for it."""
    return export_paths(job)[0].with_name("README.md")


def export_to_files(
    *,
    project: Project,
    options: ExportOptions,
    data_path: Path,
    manifest_path: Path,
    now: datetime,
    progress: Progress | None = None,
    card_path: Path | None = None,
) -> exporters.Manifest:
    """Write the export (of options.kind) to `data_path`, its manifest to
    `manifest_path` and, when given, its dataset card to `card_path`: what an
    export job and manage.py export_gold both run. Raises OSError when a file
    cannot be written.

    Each file is written under a `.part` name and renamed when all are
    written, so a process killed midway leaves no file by its final name:
    nothing half-written is ever taken for an export."""
    from annotate.services import training_exports

    run = gold_export if options.kind == "gold" else training_exports.training_export
    with export_part_path(data_path).open("wb") as stream:
        manifest = run(
            project=project,
            options=options,
            stream=stream,
            alpha=export_alpha(project, now=now),
            now=now,
            progress=progress,
        )
    written = [data_path, manifest_path]
    export_part_path(manifest_path).write_bytes(
        orjson.dumps(manifest, option=orjson.OPT_INDENT_2)
    )
    if card_path is not None:
        card = training_exports.dataset_card(manifest, data_file=data_path.name)
        export_part_path(card_path).write_text(card, encoding="utf-8")
        written.append(card_path)
    for path in written:
        export_part_path(path).replace(path)  # atomic on one filesystem
    return manifest


def export_part_path(path: Path) -> Path:
    """Where `path` is written until the whole export is (export_to_files)."""
    return path.with_name(f"{path.name}.part")


def _where(project: Project, options: ExportOptions) -> tuple[str, list[Any]]:
    """Every filter but the key field's: the export adds that one, and the
    count of the unresolved items it leaves out adds its opposite."""
    clauses: list[str] = ["i.project_id = %s"]
    params: list[Any] = [project.pk]
    if options.source_model:
        clauses.append("t.source_model = %s")
        params.append(options.source_model)
    if options.dataset:
        clauses.append("t.dataset = %s")
        params.append(options.dataset)
    if options.min_agreement is not None:
        clauses.append("(i.disagreement IS NULL OR i.disagreement <= %s)")
        params.append(1 - options.min_agreement)
    if options.adjudicated_only:
        clauses.append("g.adjudicated")
    ops = connection.ops
    if options.since:
        clauses.append("g.updated_at >= %s")
        params.append(ops.adapt_datetimefield_value(_day_start(options.since)))
    if options.until:
        clauses.append("g.updated_at < %s")
        params.append(ops.adapt_datetimefield_value(_day_start(options.until, 1)))
    return " AND ".join(clauses), params


def _day_start(day: date, plus: int = 0) -> datetime:
    from datetime import UTC, timedelta

    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=plus)


_ROWS = """
    SELECT t.id, t.external_id, t.messages_json, t.source_model, t.dataset,
        t.prompt_group, CAST(t.metadata AS TEXT), i.annotations_count,
        i.disagreement, CAST(g."values" AS TEXT), g.key_resolved
    FROM annotate_gold g
    JOIN annotate_item i ON i.transcript_id = g.item_id
    JOIN annotate_transcript t ON t.id = g.item_id
    WHERE {where} ORDER BY g.item_id"""
_ANNOTATIONS = """
    SELECT a.item_id, a.annotator_id, CAST(a."values" AS TEXT), a.created_at
    FROM annotate_annotation a
    JOIN annotate_gold g ON g.item_id = a.item_id
    JOIN annotate_item i ON i.transcript_id = a.item_id
    JOIN annotate_transcript t ON t.id = a.item_id
    WHERE {where} AND a.is_human ORDER BY a.item_id, a.id"""
_LEFT_OUT = """
    SELECT COUNT(*)
    FROM annotate_gold g
    JOIN annotate_item i ON i.transcript_id = g.item_id
    JOIN annotate_transcript t ON t.id = g.item_id
    WHERE {where} AND NOT g.key_resolved"""


def _stream(sql: str, params: list[Any]) -> Iterator[tuple[Any, ...]]:
    """The query's rows through a server-side cursor on PostgreSQL, in batches.

    There a thread fetches the next batches while this one works on the last,
    so the database and Python work at once rather than taking turns (twice
    the rows/s of bench/export.py); at most a few batches wait in memory.
    """
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        if connection.vendor != "postgresql":
            while batch := cursor.fetchmany(2000):
                yield from batch
            return
        yield from _prefetched(cursor.cursor)


def _prefetched(raw: Any) -> Iterator[tuple[Any, ...]]:
    batches: queue.Queue[list[tuple[Any, ...]] | BaseException | None] = queue.Queue(4)
    stop = threading.Event()

    def fetch() -> None:
        try:
            while not stop.is_set() and (batch := raw.fetchmany(2000)):
                while not stop.is_set():
                    try:
                        batches.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
            batches.put(None)
        except BaseException as e:  # noqa: BLE001 - handed to the consuming thread
            batches.put(e)

    fetcher = threading.Thread(target=fetch, name="export-fetch", daemon=True)
    fetcher.start()
    try:
        while (batch := batches.get()) is not None:
            if isinstance(batch, BaseException):
                raise batch
            yield from batch
    finally:
        # Stopped early (an error downstream): let the fetcher end, and drain
        # so its last put cannot block.
        stop.set()
        while fetcher.is_alive():
            try:
                batches.get(timeout=0.1)
            except queue.Empty:
                continue
        fetcher.join()


def _annotations_by_item(
    where: str, params: list[Any], secret: str
) -> Iterator[tuple[int, list[exporters.RawAnnotation]]]:
    """(item id, its labels) in item order, annotators pseudonymised."""
    current: int | None = None
    labels: list[exporters.RawAnnotation] = []
    names: dict[int, str] = {}
    for item_id, annotator_id, values, created_at in _stream(
        _ANNOTATIONS.format(where=where), params
    ):
        if item_id != current:
            if current is not None:
                yield current, labels
            current, labels = item_id, []
        if (name := names.get(annotator_id)) is None:
            name = names[annotator_id] = exporters.pseudonym(
                annotator_id, secret=secret
            )
        created = created_at if isinstance(created_at, datetime) else None
        labels.append(
            {
                "annotator": name,
                "values": orjson.loads(values),
                "created_at": created.isoformat() if created else str(created_at),
            }
        )
    if current is not None:
        yield current, labels


def gold_export(
    *,
    project: Project,
    options: ExportOptions,
    stream: BinaryIO,
    alpha: dict[str, float | None],
    now: datetime,
    progress: Progress | None = None,
) -> exporters.Manifest:
    """Write the project's gold to `stream` in `options.fmt`; its manifest.

    Every item whose key field has gold (with include_unresolved, every item
    with gold) that passes the filters, in item order: transcript, gold value
    per field with method and confidence, whether the key field is resolved,
    number of labels, disagreement, a split by hash of the prompt group, and
    (with_annotations) every label with its annotator pseudonymised. The
    manifest counts the rows with the key field resolved and unresolved and,
    when those were left out, how many were. An export with no rows is an
    empty data file and a manifest that says 0. Raises ValueError for an
    unknown format or bad ratios.
    """
    version = project.label_set_version
    fields = [f.name for f in version.schema.fields if f.kind != "text"]
    filtered, params = _where(project, options)
    where = filtered if options.include_unresolved else f"{filtered} AND g.key_resolved"
    left_out: int | None = None
    data = exporters.HashingStream(stream)
    tally = exporters.Tally(fields)
    secret = settings.SECRET_KEY
    # Inside a caller's transaction (a test's), that transaction's snapshot holds.
    own_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if own_transaction and connection.vendor == "postgresql":
            # The first statement of the transaction, so the snapshot is one
            # moment for every query (the count, the rows, the labels) however
            # long the export takes.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"
                )
        if not options.include_unresolved:
            # In the transaction, so of the same snapshot as the rows. It reads
            # a boolean column and no JSON, so it costs little beside the export.
            with connection.cursor() as cursor:
                cursor.execute(_LEFT_OUT.format(where=filtered), params)
                (left_out,) = cursor.fetchone()
        labels = (
            _annotations_by_item(where, params, secret)
            if options.with_annotations
            else None
        )
        pending = next(labels, None) if labels else None
        with exporters.writer_for(
            options.fmt, data, fields=fields, with_annotations=options.with_annotations
        ) as writer:
            for n, row in enumerate(_stream(_ROWS.format(where=where), params), 1):
                (
                    tid,
                    external,
                    messages,
                    model,
                    dataset,
                    group,
                    meta,
                    count,
                    dis,
                    gold,
                    resolved,
                ) = row
                out: dict[str, Any] = {
                    "transcript": {
                        "id": tid,
                        "external_id": external,
                        # Stored as canonical JSON already: passed through as it is.
                        "messages": orjson.Fragment(messages),
                        "source_model": model,
                        "dataset": dataset,
                        "prompt_group": group,
                        "metadata": orjson.loads(meta),
                    },
                    "gold": orjson.loads(gold),
                    "key_resolved": bool(resolved),  # SQLite's is 0 or 1
                    "annotations_count": count,
                    "disagreement": dis,
                    "split": exporters.split_of(group, tid, ratios=options.ratios),
                }
                if labels is not None:
                    mine: list[exporters.RawAnnotation] = []
                    while pending is not None and pending[0] <= tid:
                        if pending[0] == tid:
                            mine = pending[1]
                        pending = next(labels, None)
                    out["annotations"] = mine
                writer.write(out)
                tally.add(out)
                if progress and n % PROGRESS_EVERY == 0:
                    progress(n)
    return exporters.manifest(
        fmt=options.fmt,
        label_set=version.label_set.name,
        label_set_version=version.number,
        schema=version.schema_data,
        filters=options.as_dict(),
        alpha=alpha,
        created_at=now,
        tally=tally,
        data=data,
        left_out_unresolved=left_out,
    )


def export_alpha(project: Project, *, now: datetime) -> dict[str, float | None]:
    """Per-field alpha for the manifest: the latest agreement figures of the
    whole project when they cover its labels as they are, else computed now
    (without bootstrap)."""
    from annotate.services.agreement import Filters, agreement_report

    latest = (
        Job.objects.filter(
            project=project, kind=JobKind.AGREEMENT, status=JobStatus.SUCCEEDED
        )
        .order_by("-finished_at")
        .values_list("result", flat=True)
        .first()
    )
    report: dict[str, Any]
    if (
        latest
        and latest["filters"] == Filters().as_dict()
        and latest["counts"]["project_annotations"] == project.annotations_total
    ):
        report = latest
    else:
        report = agreement_report(project=project, resamples=0, now=now)
    return {
        field["name"]: field["figures"][0]["alpha"] if field["figures"] else None
        for field in report["fields"]
    }


_CALIBRATION_ROWS = """
    SELECT t.source_model, t.prompt_group, CAST(t.metadata AS TEXT),
        CAST(g."values" AS TEXT), i.audit
    FROM annotate_gold g
    JOIN annotate_item i ON i.transcript_id = g.item_id
    JOIN annotate_transcript t ON t.id = g.item_id
    WHERE i.project_id = %s ORDER BY g.item_id"""


_BREAKDOWN = forms.CharField(required=False, max_length=100)
MAX_METADATA_KEYS = 200  # listed for choosing a breakdown; the rest are left out


def calibration_breakdown_parse(data: Mapping[str, Any]) -> str:
    """The metadata key a calibration report breaks its figures down by, from
    input (`breakdown`; the page, the API and manage.py calibration): the
    default is "category". Raises ValidationError naming `breakdown`."""
    try:
        key = _BREAKDOWN.clean(data.get("breakdown"))
    except ValidationError as e:
        raise ValidationError({"breakdown": e.messages}) from e
    return key.strip() or DEFAULT_BREAKDOWN


def calibration_labels_check(schema: Schema) -> None:
    """Refuse, saying what is missing, a label set the calibration report
    cannot read: it needs refusal-v1's request_harm and refusal_type, with no
    option it could not place (an extra refusal type would be neither a
    refusal nor compliance). ValidationError, code `not_refusal_labels`."""
    problems = []
    needed = {"request_harm": HARMS, "refusal_type": REFUSING | {COMPLYING}}
    for name, allowed in needed.items():
        field = next((f for f in schema.fields if f.name == name), None)
        if field is None or field.kind != "single":
            problems.append(f"a one-of field {name}")
        elif extra := [o.value for o in field.options if o.value not in allowed]:
            problems.append(
                f"{name} options among {', '.join(sorted(allowed))} only "
                f"(this label set adds {', '.join(extra)})"
            )
    if problems:
        raise ValidationError(
            "The calibration report needs refusal-v1's labels: "
            + "; ".join(problems)
            + ".",
            code="not_refusal_labels",
        )


def calibration_report(
    *,
    project: Project,
    now: datetime,
    breakdown: str = DEFAULT_BREAKDOWN,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The calibration report of the project's gold, per source model and
    per value of the transcripts' metadata key `breakdown` (stats/calibration.py),
    streamed from one snapshot. It lists the metadata keys the transcripts
    have (up to MAX_METADATA_KEYS, hidden ones left out), to choose another.

    Raises ValidationError (calibration_labels_check) for a label set it
    cannot read.
    """
    calibration_labels_check(project.label_set_version.schema)
    calibration, sample = Calibration(), Calibration()
    keys: set[str] = set()
    with transaction.atomic():
        for n, (model, group, meta, gold, audit) in enumerate(
            _stream(_CALIBRATION_ROWS, [project.pk]), 1
        ):
            metadata = orjson.loads(meta)
            if len(keys) < MAX_METADATA_KEYS:
                keys.update(k for k in metadata if not k.startswith("_"))
            item = {
                "model": model or "(no model)",
                "category": _breakdown_value(metadata.get(breakdown)),
                "prompt_group": group,
                "gold": orjson.loads(gold),
            }
            calibration.add(**item)
            if audit:
                sample.add(**item)
            if progress and n % PROGRESS_EVERY == 0:
                progress(n)
    report = calibration.report()
    return {
        "computed_at": now.isoformat(),
        "counts": {"project_annotations": project.annotations_total},
        "breakdown": breakdown,
        "metadata_keys": sorted(keys)[:MAX_METADATA_KEYS],
        **report,
        "unbiased": unbiased_figures(
            strategy=project.queue_strategy, report=report, sample=sample.report()
        ),
    }


SMALL_SAMPLE = 30  # a rate over fewer items is flagged as resting on a small sample
_UNBIASED_BASIS = {
    "random": "all labels: the random order chose every labelled item at random",
    "sequential": "none: labelled in import order, the labels are no random sample",
    "sample": "the exploration sample: items drawn at random, served in random order",
}


def unbiased_figures(
    *, strategy: str, report: dict[str, Any], sample: dict[str, Any]
) -> dict[str, Any]:
    """The rates that stay honest estimates of the whole project when the
    queue put the most informative items first: under uncertainty or hybrid
    ordering, the labelled items over-represent hard cases, so each rate is
    estimated from the exploration sample alone (a uniform random sample of
    the project, finished in random order: the rate over its finished items
    is unbiased, with its Wilson interval); under the random order, every
    label is such a sample already. Each rate over fewer than SMALL_SAMPLE
    items says so (`small`)."""
    basis = {"random": "random", "sequential": "sequential"}.get(strategy, "sample")
    source = report if basis == "random" else sample
    models = []
    if basis != "sequential":
        for entry in source["models"]:
            rates = {
                name: {**entry[name], "small": entry[name]["total"] < SMALL_SAMPLE}
                for name in FIGURES
                if name != "inconsistency"
            }
            models.append({"model": entry["model"], "items": entry["items"], **rates})
    return {"basis": basis, "explained": _UNBIASED_BASIS[basis], "models": models}


def _breakdown_value(value: object) -> str | None:
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
