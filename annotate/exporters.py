"""Write gold exports (JSONL, CSV, Parquet) a row at a time, with no database access.

The database layer streams one row per item (shaped like `Row`) into a writer
from `writer_for`, or training rows (preference pairs, chat rows) into one
from `training_writer_for`. A writer holds at most one buffer (a megabyte of JSONL,
the text wrapper's few kilobytes of CSV, one Parquet row group), so memory
stays flat whatever the row count. A JSONL export re-imports as transcripts
(`importers.iter_rows`); its extra keys (gold, split, ...) are meant to stay
out of the transcripts' metadata (`importers.EXPORT_KEYS`, which has to list
each of them). `Tally` counts the rows as they pass and `HashingStream` hashes
the bytes as they are written, so `manifest` can describe the file without
reading it again.

Every row says whether its item's key field has gold (`key_resolved`): the
database layer leaves the unresolved out unless asked, and flags them when
asked.

CSV cells are for spreadsheets, which run a cell starting with =, +, -, @, a
tab or a carriage return as a formula (CSV injection). So, as OWASP advises,
the CSV writer prefixes such a text cell (ids, model, dataset, prompt group,
gold values, JSON) with a single quote, which a spreadsheet shows as text.
Numbers the writer formats itself (counts, disagreement, confidences,
ratings) are left as they are, so a negative one still reads as a number.
JSONL and Parquet are not read by spreadsheets and keep every value exactly.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import hmac
import io
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, BinaryIO, NotRequired, Protocol, Self, TypedDict

import orjson

FORMATS = ("jsonl", "csv", "parquet")
SPLITS = ("train", "validation", "test")
# Rows per Parquet row group; a group closes early once its JSON text passes
# _ROW_GROUP_BYTES, so long transcripts don't make the buffer balloon.
ROW_GROUP_ROWS = 50_000
_ROW_GROUP_BYTES = 32 * 2**20
# A training row held for its group is nested Python objects (a dict per turn
# and per gold field), several times its text, so its groups are smaller:
# bench/export.py's pairs-parquet at 100k items peaked at 281 MB with 8 MB
# groups, 224 MB with 2 MB ones and 226 MB with 512 KB (what is left is
# pyarrow's own), with rows/s falling below 2 MB.
_TRAINING_GROUP_BYTES = 2 * 2**20
_CHUNK_BYTES = 2**20  # JSONL reaches the stream in writes of up to this size

_LEADING_COLUMNS = (
    "id",
    "transcript_id",
    "model",
    "dataset",
    "prompt_group",
    "split",
    "annotations_count",
    "disagreement",
    "key_resolved",
)
_KEY_RESOLVED = _LEADING_COLUMNS.index("key_resolved")
_NO_GOLD = {"value": None, "method": None, "confidence": None}


class GoldEntry(TypedDict):
    value: str | int | list[str] | None  # single/text, rating, multi; None unresolved
    method: str  # how it was reached: unanimous, majority, ..., unresolved
    confidence: float | None


class TranscriptData(TypedDict):
    id: int
    external_id: str
    messages: list[dict[str, str]]
    source_model: str
    dataset: str
    prompt_group: str
    metadata: dict[str, Any]


class RawAnnotation(TypedDict):
    annotator: str  # pseudonym() of the annotator's id
    values: dict[str, Any]
    created_at: str


class Row(TypedDict):
    """One item as the database layer hands it to a writer."""

    transcript: TranscriptData
    gold: dict[str, GoldEntry]
    annotations_count: int
    disagreement: float | None
    split: str
    key_resolved: bool  # the label set's key field has a gold value
    annotations: NotRequired[list[RawAnnotation]]  # only when asked for


class Writer(Protocol):
    def write(self, row: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@functools.cache
def _check_ratios(ratios: tuple[float, ...]) -> None:
    # Cached: an export asks for every row, always with the same ratios.
    if not all(math.isfinite(r) and r >= 0 for r in ratios):
        raise ValueError(f"split ratios must be non-negative, got {ratios}")
    if abs(math.fsum(ratios) - 1) > 1e-9:
        raise ValueError(f"split ratios must sum to 1, got {ratios}")


def split_of(
    prompt_group: str,
    transcript_id: int,
    *,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    salt: str = "",
) -> str:
    """The split (train, validation or test) of a transcript.

    Decided by the sha256 of the prompt group, or of the transcript id when it
    has none: every sample of one prompt lands in the same split, and the split
    depends on nothing that changes as labels arrive. `ratios` are the shares of
    train, validation and test; raises ValueError unless they are non-negative
    and sum to 1 (within 1e-9).
    """
    _check_ratios(tuple(ratios))
    # Tagged keys: a prompt group named "17" and transcript 17 hash apart.
    key = f"group:{prompt_group}" if prompt_group else f"transcript:{transcript_id}"
    digest = hashlib.sha256(f"{salt}\x00{key}".encode()).digest()
    point = (int.from_bytes(digest[:8]) >> 11) / 2**53  # uniform in [0, 1)
    bound = 0.0
    for name, share in zip(SPLITS, ratios, strict=True):
        bound += share
        if point < bound:
            return name
    # The running sum can fall a hair short of 1: the last split with a share
    # takes the rest, so a zero share is never chosen.
    return next(n for n, r in zip(SPLITS[::-1], ratios[::-1], strict=True) if r > 0)


def pseudonym(annotator_id: int, *, secret: str) -> str:
    """A stable 12-hex-digit stand-in for an annotator id (HMAC-SHA256).

    The same id and secret always give the same pseudonym, so raw annotations
    stay linkable across exports of one deployment, while without the secret
    the small, guessable ids can't be recovered. Raises ValueError for an
    empty secret.
    """
    if not secret:
        raise ValueError("pseudonym needs a non-empty secret")
    message = f"annotator:{annotator_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:12]


def columns(fields: Sequence[str], *, with_annotations: bool) -> list[str]:
    """The CSV and Parquet columns, in order.

    Raises ValueError if two would share a name (a field called "split", or
    fields "a" and "a_method").
    """
    names = list(_LEADING_COLUMNS)
    for field in fields:
        names += (field, f"{field}_method", f"{field}_confidence")
    names += ("messages", "metadata")
    if with_annotations:
        names.append("annotations")
    if clashes := sorted(name for name, n in Counter(names).items() if n > 1):
        raise ValueError(f"export columns would repeat: {', '.join(clashes)}")
    return names


def writer_for(
    fmt: str, stream: BinaryIO, *, fields: Sequence[str], with_annotations: bool
) -> Writer:
    """A writer of `fmt` onto `stream`, for gold `fields` in this order.

    The writer never closes `stream`; its close() writes what is buffered (and
    Parquet's footer) and flushes. Without a single write() it still leaves a
    valid empty file: nothing for JSONL, the header for CSV, the schema for
    Parquet. Raises ValueError for an unknown format or clashing columns.
    """
    if fmt == "jsonl":
        return _JsonlWriter(
            stream,
            record=functools.partial(_gold_record, with_annotations=with_annotations),
        )
    if fmt == "csv":
        return _CsvWriter(stream, fields=fields, with_annotations=with_annotations)
    if fmt == "parquet":
        names = columns(fields, with_annotations=with_annotations)
        return _ParquetWriter(
            stream,
            _parquet_schema(names, fields),
            cells=functools.partial(
                _gold_parquet_cells,
                fields=tuple(fields),
                with_annotations=with_annotations,
            ),
            short=[name for name in names if name not in _JSON_COLUMNS],
            group_bytes=_ROW_GROUP_BYTES,
        )
    raise ValueError(f"Unknown format {fmt!r}; expected one of {', '.join(FORMATS)}.")


# The training rows' columns (training_exports.py makes the rows), in order:
# conversations as lists of {role, content}, gold as {field: {value, method,
# confidence}}, the rest text.
TRAINING_COLUMNS = {
    "pairs": (
        "prompt",
        "chosen",
        "rejected",
        "chosen_id",
        "rejected_id",
        "chosen_model",
        "rejected_model",
        "chosen_gold",
        "rejected_gold",
        "reason",
        "prompt_group",
        "split",
    ),
    "sft": ("messages", "id", "model", "prompt_group", "gold", "split"),
}
_TURN_COLUMNS = frozenset({"prompt", "chosen", "rejected", "messages"})
_GOLD_COLUMNS = frozenset({"chosen_gold", "rejected_gold", "gold"})


def training_writer_for(
    fmt: str, stream: BinaryIO, *, kind: str, gold_fields: Mapping[str, str]
) -> Writer:
    """A writer of `kind` (pairs, sft) rows in `fmt` (jsonl, parquet) onto
    `stream`. `gold_fields` maps each field a row's gold may hold to its kind
    (single, multi, rating, text), which gives Parquet the value's type.

    Parquet keeps the shapes JSONL has (a conversation a list of {role,
    content}, gold a struct per field), so `datasets` and TRL read either the
    same way. Raises ValueError for a format or kind it does not write.
    """
    if kind not in TRAINING_COLUMNS:
        raise ValueError(f"Unknown training kind {kind!r}.")
    if fmt == "jsonl":
        return _JsonlWriter(stream, record=_as_is)
    if fmt == "parquet":
        names = TRAINING_COLUMNS[kind]
        return _ParquetWriter(
            stream,
            _training_schema(names, gold_fields),
            cells=functools.partial(_training_cells, names=names),
            short=[n for n in names if n not in _TURN_COLUMNS | _GOLD_COLUMNS],
            group_bytes=_TRAINING_GROUP_BYTES,
        )
    raise ValueError(f"A {kind} export is JSONL or Parquet, not {fmt!r}.")


def _as_is(row: Mapping[str, Any]) -> Mapping[str, Any]:
    return row


def _training_cells(
    row: Mapping[str, Any], *, names: Sequence[str]
) -> tuple[list[object], int]:
    size = sum(
        len(turn["content"])
        for name in _TURN_COLUMNS & row.keys()
        for turn in row[name]
    )
    return [row[name] for name in names], size


def _training_schema(names: Sequence[str], gold_fields: Mapping[str, str]) -> Any:
    import pyarrow as pa

    turns = pa.list_(
        pa.struct(
            [
                pa.field("role", pa.string(), False),
                pa.field("content", pa.string(), False),
            ]
        )
    )
    values = {"rating": pa.int64(), "multi": pa.list_(pa.string())}
    gold = pa.struct(
        [
            pa.field(
                name,
                pa.struct(
                    [
                        ("value", values.get(kind, pa.string())),
                        ("method", pa.string()),
                        ("confidence", pa.float64()),
                    ]
                ),
            )
            for name, kind in gold_fields.items()
        ]
    )
    types = dict.fromkeys(_TURN_COLUMNS, turns) | dict.fromkeys(_GOLD_COLUMNS, gold)
    return pa.schema(
        [
            pa.field(name, types.get(name, pa.string()), nullable=name not in types)
            for name in names
        ]
    )


class _Writer:
    _closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._finish()

    def _finish(self) -> None:
        raise NotImplementedError

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("write to a closed export writer")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Also on an error, so the stream is left flushed and usable; the file
        # is then partial, which is why the manifest is written last.
        self.close()


class _JsonlWriter(_Writer):
    """A line of JSON per row, of what `record` makes of it."""

    def __init__(
        self,
        stream: BinaryIO,
        *,
        record: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    ) -> None:
        self._stream = stream
        self._record = record
        # One buffer, filled in place: the lines are freed as soon as they are
        # copied, so the heap neither grows nor churns however many rows pass.
        self._buffer = bytearray(_CHUNK_BYTES)
        self._view = memoryview(self._buffer)
        self._used = 0

    def write(self, row: Mapping[str, Any]) -> None:
        self._check_open()
        line = orjson.dumps(self._record(row), option=orjson.OPT_APPEND_NEWLINE)
        end = self._used + len(line)
        if end > _CHUNK_BYTES:
            self._flush()
            if len(line) > _CHUNK_BYTES:
                self._stream.write(line)
                return
            end = len(line)
        self._buffer[self._used : end] = line
        self._used = end

    def _flush(self) -> None:
        if self._used:
            self._stream.write(self._view[: self._used])
            self._used = 0

    def _finish(self) -> None:
        self._flush()
        self._view.release()
        self._stream.flush()


def _gold_record(row: Mapping[str, Any], *, with_annotations: bool) -> dict[str, Any]:
    transcript = row["transcript"]
    # The keys importers.py reads back, then the export's own.
    record = {
        "id": _export_id(transcript),
        "messages": transcript["messages"],
        "model": transcript["source_model"],
        "dataset": transcript["dataset"],
        "prompt_group": transcript["prompt_group"],
        "metadata": transcript["metadata"],
        "gold": row["gold"],
        "key_resolved": row["key_resolved"],
        "annotations_count": row["annotations_count"],
        "disagreement": row["disagreement"],
        "split": row["split"],
    }
    if with_annotations:
        record["annotations"] = row["annotations"]
    return record


class _CsvWriter(_Writer):
    def __init__(
        self, stream: BinaryIO, *, fields: Sequence[str], with_annotations: bool
    ) -> None:
        header = columns(fields, with_annotations=with_annotations)
        self._stream = stream
        self._fields = tuple(fields)
        self._with_annotations = with_annotations
        # newline="": the csv module writes its own \r\n and quotes newlines in
        # cells; the wrapper gathers rows into chunks before they reach stream.
        self._text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
        self._csv = csv.writer(self._text)
        self._csv.writerow(header)

    def write(self, row: Mapping[str, Any]) -> None:
        self._check_open()
        cells = _cells(row, self._fields, text=_neutralised)
        # As JSON spells it, where Python's csv would write True and False.
        cells[_KEY_RESOLVED] = "true" if cells[_KEY_RESOLVED] else "false"
        # JSON text starts with [ or {, so it never needs the quote; passed
        # through anyway, so no text cell skips the rule.
        cells += map(_neutralised, _json_cells(row, self._with_annotations))
        self._csv.writerow(cells)

    def _finish(self) -> None:
        self._text.flush()
        # Detached, the wrapper can't close the caller's stream when collected.
        self._text.detach()
        self._stream.flush()


class _ParquetWriter(_Writer):
    """Rows gathered into row groups, each written as one table: a group
    closes at ROW_GROUP_ROWS rows or once the text `cells` counted passes
    `group_bytes`, so long transcripts don't make the buffer balloon."""

    def __init__(
        self,
        stream: BinaryIO,
        schema: Any,
        *,
        cells: Callable[[Mapping[str, Any]], tuple[list[object], int]],
        short: Sequence[str],
        group_bytes: int,
    ) -> None:
        # pyarrow loads here, where a Parquet file is written, so the web
        # processes that import this module for its options never pay for it.
        import pyarrow.parquet as pq

        self._stream = stream
        self._schema = schema
        self._cells = cells
        # Dictionaries and min/max statistics pay off on the `short` columns
        # (ids, models, methods); on transcript text they cost time and are
        # thrown away.
        self._writer = pq.ParquetWriter(
            stream,
            schema,
            compression="zstd",
            use_dictionary=list(short),
            write_statistics=list(short),
        )
        self._group_bytes = group_bytes
        self._rows: list[list[object]] = []
        self._pending = 0

    def write(self, row: Mapping[str, Any]) -> None:
        self._check_open()
        cells, size = self._cells(row)
        self._rows.append(cells)
        self._pending += size
        if len(self._rows) >= ROW_GROUP_ROWS or self._pending >= self._group_bytes:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        arrays = [
            pa.array(column, type=field.type)
            for column, field in zip(
                zip(*self._rows, strict=True), self._schema, strict=True
            )
        ]
        table = pa.Table.from_arrays(arrays, schema=self._schema)
        self._writer.write_table(table, row_group_size=len(self._rows))
        self._rows.clear()
        self._pending = 0

    def _finish(self) -> None:
        if self._rows:
            self._flush()
        self._writer.close()
        self._stream.flush()


_JSON_COLUMNS = frozenset({"messages", "metadata", "annotations"})
_NOT_NULL = frozenset(
    {"id", "transcript_id", "model", "dataset", "prompt_group", "split"}
    | {"annotations_count", "key_resolved"}
    | _JSON_COLUMNS
)


def _parquet_schema(names: Sequence[str], fields: Sequence[str]) -> Any:
    """Strings but for the counts (int64), the scores (float64) and the key
    flag (bool); JSON as text."""
    import pyarrow as pa

    types = dict.fromkeys(names, pa.string())
    types.update(transcript_id=pa.int64(), annotations_count=pa.int64())
    types.update(key_resolved=pa.bool_())
    types.update(
        dict.fromkeys(
            ["disagreement", *(f"{f}_confidence" for f in fields)], pa.float64()
        )
    )
    return pa.schema(
        [pa.field(name, types[name], nullable=name not in _NOT_NULL) for name in names]
    )


type _Text = Callable[[str], str]


def _export_id(transcript: Mapping[str, Any], text: _Text = str) -> str:
    # The transcript id is digits the writer formats: only an external id is text.
    return text(transcript["external_id"]) or str(transcript["id"])


# What a spreadsheet takes for the start of a formula (OWASP, "CSV Injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _neutralised(text: str) -> str:
    """`text`, with a single quote before it if a spreadsheet would run it.

    Only for cells that came as text: a number the writer formats (-0.5, a
    rating of -1) must stay a number, so it never passes through here.
    """
    return "'" + text if text.startswith(_FORMULA_START) else text


def _cells(
    row: Mapping[str, Any], fields: Sequence[str], *, text: _Text = str
) -> list[object]:
    """The leading columns and three per field (value, method, confidence).

    `text` is applied to every cell that came as text (ids, names, gold
    values, methods), and to none of the numbers.
    """
    transcript = row["transcript"]
    cells: list[object] = [
        _export_id(transcript, text),
        transcript["id"],
        text(transcript["source_model"]),
        text(transcript["dataset"]),
        text(transcript["prompt_group"]),
        text(row["split"]),
        row["annotations_count"],
        row["disagreement"],
        row["key_resolved"],
    ]
    gold = row["gold"]
    for field in fields:
        # No entry at all (an item with no gold yet) reads as empty cells.
        entry = gold.get(field) or _NO_GOLD
        value = entry["value"]
        if isinstance(value, str):
            value = text(value)
        elif isinstance(value, list):
            # A multi field's options (text) joined by "|".
            value = text("|".join(map(str, value)))
        elif value is not None:
            value = str(value)  # a rating: its digits, a number even if negative
        method = entry["method"]
        cells += (value, None if method is None else text(method), entry["confidence"])
    return cells


def _json_cells(row: Mapping[str, Any], with_annotations: bool) -> list[str]:
    """messages, metadata (and annotations) as JSON text.

    Decoded at once: a str is allocated at its exact size, while orjson's
    bytes keep spare room, which adds up over a Parquet row group.
    """
    transcript = row["transcript"]
    cells = [
        orjson.dumps(transcript["messages"]).decode(),
        orjson.dumps(transcript["metadata"]).decode(),
    ]
    if with_annotations:
        cells.append(orjson.dumps(row["annotations"]).decode())
    return cells


def _gold_parquet_cells(
    row: Mapping[str, Any], *, fields: Sequence[str], with_annotations: bool
) -> tuple[list[object], int]:
    json_cells = _json_cells(row, with_annotations)
    return _cells(row, fields) + json_cells, sum(map(len, json_cells))


class Tally:
    """Counts of the rows written, for the manifest: call add() with each row."""

    def __init__(self, fields: Sequence[str]) -> None:
        self.fields = tuple(fields)
        self.rows = 0
        self.by_split: dict[str, int] = dict.fromkeys(SPLITS, 0)
        # Per field, rows by gold method; "none" counts rows with no entry.
        self.by_method: dict[str, dict[str, int]] = {f: {} for f in self.fields}
        self.key_resolved = 0
        self.key_unresolved = 0  # rows written flagged key_resolved false

    def add(self, row: Mapping[str, Any]) -> None:
        self.rows += 1
        if row["key_resolved"]:
            self.key_resolved += 1
        else:
            self.key_unresolved += 1
        split = row["split"]
        self.by_split[split] = self.by_split.get(split, 0) + 1
        gold = row["gold"]
        for field in self.fields:
            entry = gold.get(field)
            method = entry["method"] if entry else "none"
            counts = self.by_method[field]
            counts[method] = counts.get(method, 0) + 1


class HashingStream(io.BufferedIOBase, BinaryIO):
    """A write-only wrapper that hashes (sha256) and counts the bytes passing.

    Closing it leaves the wrapped stream open. `tell()` is the count, so a
    Parquet file's offsets are right even when the wrapped stream had data
    before it.
    """

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self._stream = stream
        self._sha256 = hashlib.sha256()
        self.size = 0

    @property
    def name(self) -> str:
        return f"<sha256 of {getattr(self._stream, 'name', 'a stream')}>"

    @property
    def mode(self) -> str:
        return "wb"

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to a closed HashingStream")
        self._stream.write(data)
        self._sha256.update(data)
        size = memoryview(data).nbytes
        self.size += size
        return size

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        if not self.closed and not self._stream.closed:
            self._stream.flush()

    def hexdigest(self) -> str:
        return self._sha256.hexdigest()


class LabelSetInfo(TypedDict):
    name: str
    version: int
    schema: dict[str, Any]


class Counts(TypedDict):
    rows: int
    key_resolved: int
    key_unresolved: int  # exported, flagged key_resolved false
    # Only when unresolved items were left out: how many the filters let
    # through but for their key field.
    left_out_unresolved: NotRequired[int]
    by_split: dict[str, int]
    by_method: dict[str, dict[str, int]]
    # Training exports (pairs, sft): rows by why they are there.
    by_reason: NotRequired[dict[str, int]]


class Manifest(TypedDict):
    format: str
    kind: NotRequired[str]  # pairs or sft; absent for the gold export
    created_at: str
    label_set: LabelSetInfo
    fields: list[str]
    filters: dict[str, Any]
    counts: Counts
    alpha: dict[str, float | None]
    bytes: int
    sha256: str


def manifest(
    *,
    fmt: str,
    label_set: str,
    label_set_version: int,
    schema: Mapping[str, Any],
    filters: Mapping[str, Any],
    alpha: Mapping[str, float | None],
    created_at: datetime,
    tally: Tally,
    data: HashingStream,
    left_out_unresolved: int | None = None,
) -> Manifest:
    """The manifest written beside a data file, as a JSON-ready dict.

    `tally` and `data` must have seen every row and byte of the file, so the
    writer is closed first. `left_out_unresolved`, the items left out because
    their key field is unresolved, goes in the counts when given (an export
    that left them out). Raises ValueError for an unknown format.
    """
    if fmt not in FORMATS:
        raise ValueError(
            f"Unknown format {fmt!r}; expected one of {', '.join(FORMATS)}."
        )
    counts: Counts = {
        "rows": tally.rows,
        "key_resolved": tally.key_resolved,
        "key_unresolved": tally.key_unresolved,
        "by_split": dict(tally.by_split),
        "by_method": {f: dict(c) for f, c in tally.by_method.items()},
    }
    if left_out_unresolved is not None:
        counts["left_out_unresolved"] = left_out_unresolved
    return {
        "format": fmt,
        "created_at": created_at.isoformat(),
        "label_set": {
            "name": label_set,
            "version": label_set_version,
            "schema": dict(schema),
        },
        "fields": list(tally.fields),
        "filters": dict(filters),
        "counts": counts,
        "alpha": dict(alpha),
        "bytes": data.size,
        "sha256": data.hexdigest(),
    }
