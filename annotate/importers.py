"""Parse uploaded transcript files into rows, streaming, with no database access.

`iter_rows` reads the file a line or a chunk at a time, so memory stays flat
whatever the file size: only the record being parsed is held. A bad record
yields RowErrors carrying its line and the field path; a whole-file problem
raises ImportFileError. Transcript text is adversarial, so content is kept
exactly as written and never interpreted.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import BinaryIO

import orjson

FORMATS = ("jsonl", "json", "csv", "hh")
ROLES = ("system", "user", "assistant")
# A header of 100,000 columns costs a minute to read and means a wrong file.
MAX_CSV_COLUMNS = 1000
# Levels of objects and arrays in a record, the record itself the first. Far
# below what orjson will dump again (255), which the COPY import and the
# exports rely on, and the standard decoder's recursion (about 1000).
MAX_JSON_DEPTH = 64

type Message = dict[str, str]
type Problems = list[tuple[str, str]]  # (field path, message) found in one record
type Result = TranscriptRow | RowError


@dataclass(frozen=True, slots=True)
class TranscriptRow:
    line: int
    messages: list[Message]
    source_model: str
    dataset: str
    external_id: str
    prompt_group: str
    metadata: dict[str, object]
    content_hash: str
    messages_json: str  # canonical JSON of messages: hashed, and stored as it is
    # From metadata["content_warning"]: None when not flagged, else the kind
    # named ("" for none); the item keeps it (Item.distressing).
    content_warning: str | None = None


@dataclass(frozen=True, slots=True)
class RowError:
    line: int | None
    field: str
    message: str
    column: int | None = None  # of a JSON syntax error, on `line`

    def __str__(self) -> str:
        parts = (
            f"line {self.line}" if self.line is not None else "",
            f"column {self.column}" if self.column is not None else "",
            self.field,
        )
        where = ", ".join(part for part in parts if part)
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True, slots=True)
class JudgementRow:
    """One line of a judgement file: a transcript id as given, and the labels
    (checked against the label set by the import, which knows it)."""

    line: int
    id: object
    values: object


class ImportFileError(ValueError):
    """The file as a whole can't be read: nothing in it is imported."""


_EMPTY_FILE = "The file is empty."

_EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".txt": "hh",
}
_CHUNK = 64 * 1024
_SHAPES: tuple[tuple[str, ...], ...] = (
    ("messages",),
    ("prompt", "response"),
    ("chosen", "rejected"),
    ("text",),
)
_KNOWN_KEYS = frozenset(
    {"system", "model", "id", "prompt_group", "dataset", "metadata"}.union(*_SHAPES)
)
# What a gold export (annotate/exporters.py) adds beside the transcript: the
# old project's labels and figures, not the transcript's own metadata, so a
# re-import leaves them out (and a metadata key of the same name is no clash).
EXPORT_KEYS = frozenset(
    {
        "gold",
        "annotations_count",
        "disagreement",
        "split",
        "annotations",
        "key_resolved",
    }
)
_CSV_COLUMNS = frozenset(
    {"prompt", "response", "system", "model", "id", "prompt_group", "dataset"}
)

_HH_TURN = re.compile(r"\n\n(Human|Assistant): ?")
_HH_ROLES = {"Human": "user", "Assistant": "assistant"}
_HH_SEPARATOR = re.compile(r"-{3,}")

_NON_WS = re.compile(r"[^ \t\r\n]")
_STRUCTURE = re.compile(r'[{}\[\]"]')
# Possessive quantifiers: a string cut off at the buffer's end fails in linear time.
_STRING_REST = re.compile(r'[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
_SCALAR_END = re.compile(r'[ \t\r\n,\[\]{}"]')
_CLOSER_OF = {"{": "}", "[": "]"}
# PostgreSQL can't store NUL in text or jsonb, and a lone surrogate is not text.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_MAYBE_UNSTORABLE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_TOO_DEEP = f"nested deeper than {MAX_JSON_DEPTH} levels"
_INTEGER_TOO_LARGE = "is an integer outside the 64-bit range, which can't be stored"
# Where an import leaves its hints about a row: "_" keys are hidden from
# annotators, and a data set's own preference label must not steer them.
HH_VARIANT_KEY = "_hh_variant"
# Flags a transcript as possibly distressing (annotator care): true, or a
# string naming the kind of content. CSV cells are text, so "true"/"yes"/"1"
# flag without a kind and "false"/"no"/"0" (or an empty cell) do not flag.
CONTENT_WARNING_KEY = "content_warning"
CONTENT_WARNING_MAX = 200
_WARNING_YES = frozenset({"true", "yes", "1"})
_WARNING_NO = frozenset({"false", "no", "0", ""})


class _NotJSON(ValueError):
    pass


def _reject_constant(name: str) -> object:
    raise _NotJSON(f"{name} is not allowed")


# NaN and Infinity are not JSON, and PostgreSQL's jsonb refuses them.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def detect_format(filename: str, head: bytes) -> str:
    """The format of an upload: by its extension, else by sniffing its first bytes.

    Raises ImportFileError when `head` is empty or looks like no known format.
    """
    if fmt := _EXTENSIONS.get(PurePath(filename).suffix.lower()):
        return fmt
    # `head` may end mid-character; the parser reports real encoding errors.
    text = head.decode("utf-8", errors="ignore").removeprefix("\ufeff").lstrip()
    if not text:
        raise ImportFileError(_EMPTY_FILE)
    if text.startswith("["):
        return "json"
    if text.startswith("{"):
        first_line, newline, _ = text.partition("\n")
        if not newline:  # one long line: a record longer than the head
            return "jsonl"
        try:
            json.loads(first_line)
        except ValueError:
            return "json"  # an object spread over several lines
        return "jsonl"
    if text.startswith(("Human:", "System:")):
        return "hh"
    try:
        header = next(csv.reader([text.partition("\n")[0]]))
    except csv.Error:
        header = []
    if {"prompt", "response"} <= {name.strip().lower() for name in header}:
        return "csv"
    raise ImportFileError(
        f"Can't tell the format of {filename!r}: name it .jsonl, .json, .csv or .txt."
    )


def iter_rows(
    stream: BinaryIO, *, fmt: str, max_field_length: int = 200
) -> Iterator[Result]:
    """Yield a TranscriptRow per good record and RowErrors for each bad one.

    Reads `stream` incrementally and goes on past bad records so that every
    error can be listed. Raises ImportFileError (while iterating) for an empty
    file, a CSV header without prompt/response, a broken JSON array or bytes
    that are not UTF-8; ValueError at once for an unknown `fmt`.
    """
    readers: dict[str, Callable[[BinaryIO, int], Iterator[Result]]] = {
        "jsonl": _jsonl_rows,
        "json": _json_rows,
        "csv": _csv_rows,
        "hh": _hh_rows,
    }
    if fmt not in readers:
        raise ValueError(
            f"Unknown format {fmt!r}; expected one of {', '.join(FORMATS)}."
        )
    return readers[fmt](stream, max_field_length)


# Line-based formats (jsonl, csv, hh).


def _lines(stream: BinaryIO) -> Iterator[tuple[int, str]]:
    """Physical lines with their 1-based numbers, endings kept, BOM dropped."""
    # readline, not iteration: Django's File.__iter__ also splits on a bare "\r".
    for number, raw in enumerate(iter(stream.readline, b""), start=1):
        try:
            text = raw.decode()
        except UnicodeDecodeError as e:
            raise ImportFileError(_not_utf8(number)) from e
        if number == 1:
            text = text.removeprefix("\ufeff")
        yield number, text


def _not_utf8(line: int) -> str:
    return f"Line {line} is not valid UTF-8 text; save the file as UTF-8."


def _jsonl_rows(stream: BinaryIO, max_len: int) -> Iterator[Result]:
    empty = True
    for number, text in _lines(stream):
        if not text.strip():
            continue
        empty = False
        record = _decode_object(text, number, lambda: 0)
        if isinstance(record, RowError):
            yield record
        else:
            yield from _rows_from_object(record, number, max_len, json_text=text)
    if empty:
        raise ImportFileError(_EMPTY_FILE)


def _csv_rows(stream: BinaryIO, max_len: int) -> Iterator[Result]:
    # The reader pulls physical lines, so its line_num counts the lines of
    # quoted multi-line cells too and a record starts one past the last one.
    reader = csv.reader((text for _, text in _lines(stream)), strict=True)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise ImportFileError(f"Line {start}: malformed CSV ({e}).") from e
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = _csv_header(cells, start)
        elif len(cells) != len(header):
            message = f"has {len(cells)} cells but the header has {len(header)} columns"
            yield RowError(start, "", message)
        else:
            yield from _rows_from_object(_csv_object(header, cells), start, max_len)
    if header is None:
        raise ImportFileError(_EMPTY_FILE)


def _csv_header(cells: list[str], line: int) -> list[str]:
    if len(cells) > MAX_CSV_COLUMNS:
        raise ImportFileError(
            f"The CSV header (line {line}) has {len(cells)} columns; "
            f"the limit is {MAX_CSV_COLUMNS}."
        )
    header: list[str] = []
    seen: set[str] = set()
    for index, cell in enumerate(cells, start=1):
        name = cell.strip() or f"column {index}"
        name = name.lower() if name.lower() in _CSV_COLUMNS else name
        if name in seen:
            raise ImportFileError(
                f"The CSV header (line {line}) repeats the column {name!r}."
            )
        header.append(name)
        seen.add(name)
    if missing := [name for name in ("prompt", "response") if name not in seen]:
        names = " or ".join(repr(name) for name in missing)
        plural = "s" if len(missing) > 1 else ""
        raise ImportFileError(
            f"The CSV header (line {line}) has no {names} column{plural}."
        )
    return header


def _csv_object(header: list[str], cells: list[str]) -> dict[str, object]:
    record: dict[str, object] = {}
    metadata: dict[str, object] = {}
    for name, cell in zip(header, cells, strict=True):
        if name in ("prompt", "response"):
            record[name] = cell
        elif name in _CSV_COLUMNS:
            if cell:
                record[name] = cell
        elif cell:
            metadata[name] = cell
    record["metadata"] = metadata
    return record


def _hh_rows(stream: BinaryIO, max_len: int) -> Iterator[Result]:
    empty = True
    block: list[str] = []
    start = 0
    for number, text in _lines(stream):
        # Line endings are not content; the turn markers need "\n\n".
        line = text.removesuffix("\n").removesuffix("\r")
        if line.strip():
            empty = False
        if _HH_SEPARATOR.fullmatch(line):
            if block:
                yield from _rows_from_object({"text": "\n".join(block)}, start, max_len)
            block = []
        elif block or line.strip():
            if not block:
                start = number
            block.append(line)
    if block:
        yield from _rows_from_object({"text": "\n".join(block)}, start, max_len)
    if empty:
        raise ImportFileError(_EMPTY_FILE)


# A JSON array, parsed one item at a time.


class _TextWindow:
    """Decoded text over a binary stream, read a chunk at a time.

    `buf[pos:]` is unparsed; `line` is the line number at `pos`. The buffer
    only grows while an item is scanned, and is trimmed between items.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._lines_decoded = 0
        self._column0 = 0  # column of buf[0], once the start of its line is trimmed
        self.buf = ""
        self.pos = 0
        self.line = 1

    def fill(self) -> bool:
        """Append more text; False at the end of the stream."""
        text = ""
        while not text:
            # Reads grow with the pending text, so a huge item costs linear time.
            raw = self._stream.read(max(_CHUNK, len(self.buf) - self.pos))
            try:
                text = self._decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as e:
                line = self._lines_decoded + e.object[: e.start].count(b"\n") + 1
                raise ImportFileError(_not_utf8(line)) from e
            if not raw:
                break
        self._lines_decoded += text.count("\n")
        self.buf += text
        return bool(text)

    def advance(self, to: int) -> None:
        self.line += self.buf.count("\n", self.pos, to)
        self.pos = to

    def trim(self) -> None:
        if self.pos >= _CHUNK:
            self._column0 = self.column(self.pos)
            self.buf = self.buf[self.pos :]
            self.pos = 0

    def column(self, at: int) -> int:
        """0-based column of buf[at]."""
        newline = self.buf.rfind("\n", 0, at)
        return at - newline - 1 if newline >= 0 else self._column0 + at

    def next_char(self) -> str:
        """Skip whitespace; the next character, or "" at the end of the stream."""
        while (match := _NON_WS.search(self.buf, self.pos)) is None:
            self.advance(len(self.buf))
            if not self.fill():
                return ""
        self.advance(match.start())
        return match.group()

    def value_end(self) -> int | None:
        """Index just past the JSON value at `pos`; None if the stream ends inside it.

        Only brackets and strings are tracked: the decoder judges the rest.
        """
        if self.buf[self.pos] not in '{["':  # a bare scalar runs to a delimiter
            while (match := _SCALAR_END.search(self.buf, self.pos + 1)) is None:
                if not self.fill():
                    return len(self.buf)
            return match.start()
        closers: list[str] = []
        i = self.pos
        while True:
            match = _STRUCTURE.search(self.buf, i)
            if match is None:
                i = len(self.buf)
                if not self.fill():
                    return None
                continue
            char = match.group()
            if char == '"':
                string = _STRING_REST.match(self.buf, match.end())
                if string is None:
                    i = match.start()  # rescan the string once more text arrives
                    if not self.fill():
                        return None
                    continue
                i = string.end()
                if not closers:
                    return i
            elif char in _CLOSER_OF:
                closers.append(_CLOSER_OF[char])
                i = match.end()
            else:
                i = match.end()
                # A closer that doesn't match its opener ends the value early,
                # so one typo costs one item; the decoder then reports it.
                if closers.pop() != char or not closers:
                    return i


def _json_rows(stream: BinaryIO, max_len: int) -> Iterator[Result]:
    window = _TextWindow(stream)
    first = window.next_char()
    if not first:
        raise ImportFileError(_EMPTY_FILE)
    if first == "{":
        yield from _json_item(window, max_len)
    elif first == "[":
        yield from _json_array_items(window, max_len)
    else:
        raise ImportFileError(
            f"Line {window.line}: a .json file must hold an array of objects or one object."
        )
    if window.next_char():
        raise ImportFileError(
            f"Line {window.line}: unexpected text after the JSON data."
        )


def _json_array_items(window: _TextWindow, max_len: int) -> Iterator[Result]:
    opened_on = window.line
    window.advance(window.pos + 1)
    char = window.next_char()
    if char == "]":
        window.advance(window.pos + 1)
        return
    while char:
        if char == "]":
            raise ImportFileError(f"Line {window.line}: a comma with no item after it.")
        yield from _json_item(window, max_len)
        window.trim()
        char = window.next_char()
        if char not in (",", "]"):
            break
        window.advance(window.pos + 1)
        if char == "]":
            return
        char = window.next_char()
    if not char:
        raise ImportFileError(
            f"The JSON array opened on line {opened_on} is never closed."
        )
    raise ImportFileError(
        f"Line {window.line}: expected ',' or ']' after an item, found {char!r}."
    )


def _json_item(window: _TextWindow, max_len: int) -> Iterator[Result]:
    line, start = window.line, window.pos
    end = window.value_end()
    if end is None:
        raise ImportFileError(f"Line {line}: the item starting here is never closed.")
    window.advance(end)
    text = window.buf[start:end]
    record = _decode_object(text, line, lambda: window.column(start))
    if isinstance(record, RowError):
        yield record
    else:
        yield from _rows_from_object(record, line, max_len, json_text=text)


def _decode_object(
    text: str, line: int, start_column: Callable[[], int]
) -> dict[str, object] | RowError:
    """Decode the record that starts on `line`; `start_column` is the 0-based
    column it starts at there. An error names the file's line and column."""
    # orjson is several times faster; on anything it refuses, the standard
    # decoder decides, so results and error messages stay the same.
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    else:
        if isinstance(value, dict):
            return value
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as e:
        # The decoder counts from the record's start: the file's counts instead.
        column = e.colno + start_column() if e.lineno == 1 else e.colno
        return RowError(
            line + e.lineno - 1, "", f"invalid JSON: {e.msg}", column=column
        )
    except _NotJSON as e:  # NaN or Infinity
        return RowError(line, "", f"invalid JSON: {e}")
    except ValueError:  # an integer of more digits than Python will convert
        return RowError(line, "", _INTEGER_TOO_LARGE)
    except RecursionError:
        return RowError(line, "", _TOO_DEEP)
    if not isinstance(value, dict):
        return RowError(line, "", f"expected a JSON object, got {_json_type(value)}")
    return value


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return "null"


# Records, whatever the format.


def _rows_from_object(
    record: dict[str, object], line: int, max_len: int, json_text: str | None = None
) -> Iterator[Result]:
    """The row(s) of one record (two for a chosen/rejected pair), or its errors.

    `json_text`, the record's JSON, lets the scan of its strings be skipped:
    decoded JSON holds a NUL or a lone surrogate only where its text has a
    \\u0000 or \\udXXX escape (raw control characters are invalid JSON).
    """
    record = {key: value for key, value in record.items() if value is not None}
    problems: Problems = []
    texts = json_text is None or bool(_MAYBE_UNSTORABLE.search(json_text))
    if _suspect(record, 1, texts=texts):
        # orjson reads an integer past 64 bits as a float, silently rounded:
        # the standard decoder, exact, tells it from a float.
        exact = record if json_text is None else _exact(json_text, record)
        for key, value in exact.items():
            if texts and (reason := _unstorable_text(key)):
                problems.append(("", f"has a key that {reason}"))
            elif found := _unstorable(value, key, texts=texts):
                problems.append(found)
    source_model = _text_field(record, "model", max_len, problems)
    external_id = _text_field(record, "id", max_len, problems)
    prompt_group = _text_field(record, "prompt_group", max_len, problems)
    dataset = _text_field(record, "dataset", max_len, problems)
    metadata = _metadata(record, problems)
    try:
        warning = content_warning_of(metadata)
    except ValueError as e:
        problems.append((f"metadata.{CONTENT_WARNING_KEY}", str(e)))
        warning = None
    system = record.get("system", "")
    if not isinstance(system, str):
        problems.append(("system", "must be a string"))
        system = ""

    # (variant, messages): one conversation, or one per chosen/rejected key.
    conversations: list[tuple[str, list[Message]]] = []
    shapes = [keys for keys in _SHAPES if any(key in record for key in keys)]
    if len(shapes) != 1:
        problems.append(("", _shape_problem(shapes)))
    elif shapes[0] == ("messages",):
        conversations.append(("", _chat_messages(record["messages"], problems)))
    elif shapes[0] == ("prompt", "response"):
        conversations.append(("", _prompt_response(record, problems)))
    else:
        for key in shapes[0]:
            if key in record:
                variant = "" if key == "text" else key
                conversations.append((variant, _hh_field(record, key, problems)))

    if system and any(m and m[0]["role"] == "system" for _, m in conversations):
        problems.append(
            ("system", "the conversation already starts with a system message")
        )
    elif system:
        for _, messages in conversations:
            messages.insert(0, {"role": "system", "content": system})
    if problems:
        for field, message in problems:
            yield RowError(line, field, message)
        return

    if not prompt_group and conversations[0][0]:
        prompt_group = _prompt_hash(conversations[0][1])
    for variant, messages in conversations:
        messages_json = _canonical_json(messages)
        row_metadata = {**metadata, HH_VARIANT_KEY: variant} if variant else metadata
        yield TranscriptRow(
            line=line,
            messages=messages,
            source_model=source_model,
            dataset=dataset,
            external_id=external_id,
            prompt_group=prompt_group,
            metadata=row_metadata,
            content_hash=identity_key(
                external_id=external_id,
                source_model=source_model,
                variant=_variant(row_metadata),
                messages_json=messages_json,
            ),
            messages_json=messages_json,
            content_warning=warning,
        )


def content_warning_of(metadata: dict[str, object]) -> str | None:
    """Whether metadata flags the transcript as possibly distressing: None if
    not, else the kind of content it names ("" for none). ValueError, saying
    why, for a value that is neither a boolean nor a short string."""
    value = metadata.get(CONTENT_WARNING_KEY)
    if value is None or value is False:
        return None
    if value is True:
        return ""
    if not isinstance(value, str):
        raise ValueError("must be true, false or a string naming the kind of content")
    kind = value.strip()
    if kind.lower() in _WARNING_NO:
        return None
    if kind.lower() in _WARNING_YES:
        return ""
    if len(kind) > CONTENT_WARNING_MAX:
        raise ValueError(
            f"is {len(kind)} characters long; the limit is {CONTENT_WARNING_MAX}"
        )
    return kind


def _text_field(
    record: dict[str, object], key: str, max_len: int, problems: Problems
) -> str:
    value = record.get(key, "")
    if key == "id" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        expected = "a string or an integer" if key == "id" else "a string"
        problems.append((key, f"must be {expected}"))
        return ""
    if len(value) > max_len:
        problems.append(
            (key, f"is {len(value)} characters long; the limit is {max_len}")
        )
    return value


def _metadata(record: dict[str, object], problems: Problems) -> dict[str, object]:
    metadata = record.get("metadata", {})
    if not isinstance(metadata, dict):
        problems.append(("metadata", "must be an object"))
        metadata = {}
    extra = {
        key: value
        for key, value in record.items()
        if key not in _KNOWN_KEYS and key not in EXPORT_KEYS
    }
    problems.extend(
        (key, "is also a key in metadata; keep one") for key in extra if key in metadata
    )
    return {**metadata, **extra}


def _suspect(
    value: dict[str, object] | list[object], depth: int, *, texts: bool
) -> bool:
    """Whether `value`, a container `depth` levels deep, may hold what
    _unstorable refuses, or a float that may be a rounded integer. Quick, with
    no paths, as it runs on every record; _unstorable then says where and why.
    """
    if depth > MAX_JSON_DEPTH:
        return True
    if isinstance(value, dict):
        if texts and any(_UNSTORABLE.search(key) for key in value):
            return True
        items: Iterable[object] = value.values()
    else:
        items = value
    for item in items:
        if isinstance(item, str):
            if texts and _UNSTORABLE.search(item):
                return True
        elif isinstance(item, dict | list):
            # Recursion, as it is quicker: at most MAX_JSON_DEPTH calls deep.
            if _suspect(item, depth + 1, texts=texts):
                return True
        elif isinstance(item, float):
            if not math.isfinite(item) or (abs(item) >= 2**63 and item.is_integer()):
                return True
        elif isinstance(item, int) and not _INT64_MIN <= item <= _INT64_MAX:
            return True
    return False


def _exact(json_text: str, record: dict[str, object]) -> dict[str, object]:
    """The record as the standard decoder reads it, integers exactly."""
    try:
        value = _DECODER.decode(json_text)
    except (ValueError, RecursionError):  # orjson read it: leave it so
        return record
    if not isinstance(value, dict):
        return record
    return {key: item for key, item in value.items() if item is not None}


def _unstorable(value: object, path: str, *, texts: bool) -> tuple[str, str] | None:
    """(where, why) for the first part of `value`, a record's value at `path`,
    that JSON or the database can't hold; None if it all can.

    Refused: text with NUL or a lone surrogate (looked for only if `texts`,
    as the search costs more than the rest of the walk); an integer past 64 bits
    (orjson can't dump it, and the COPY import and the exports use orjson); a
    float that is infinite; nesting deeper than MAX_JSON_DEPTH. Caught here,
    each is one line's error instead of a failed job later.
    """
    # (value, its container's path, its key or index there, its depth: the
    # record is the first level); paths are built only for containers and for
    # what is reported, as most rows pass.
    pending: list[tuple[object, str, str | int | None, int]] = [(value, path, None, 2)]
    while pending:
        item, parent, step, depth = pending.pop()
        reason: str | None = None
        if isinstance(item, str):
            reason = _unstorable_text(item) if texts else None
        elif isinstance(item, int):
            if not _INT64_MIN <= item <= _INT64_MAX:
                reason = _INTEGER_TOO_LARGE
        elif isinstance(item, float):
            if not math.isfinite(item):
                reason = "is a number too large for JSON (it reads as infinity)"
        elif isinstance(item, dict | list):
            where = _path(parent, step)
            if depth > MAX_JSON_DEPTH:
                return where, _TOO_DEEP
            if isinstance(item, list):
                children = list(enumerate(item))
            else:
                children = []
                for key, child in item.items():
                    if texts and (key_reason := _unstorable_text(key)):
                        return where, f"has a key that {key_reason}"
                    children.append((key, child))
            # Reversed onto the stack, so the first problem in reading order is found.
            pending.extend(
                (child, where, index, depth + 1) for index, child in reversed(children)
            )
        if reason:
            return _path(parent, step), reason
    return None


def _path(parent: str, step: str | int | None) -> str:
    if step is None:
        return parent
    return f"{parent}[{step}]" if isinstance(step, int) else f"{parent}.{step}"


def _unstorable_text(text: str) -> str | None:
    if match := _UNSTORABLE.search(text):
        if match.group() == "\x00":
            return "contains a NUL character (\\u0000), which can't be stored"
        return "contains an unpaired surrogate such as \\ud800, which is not text"
    return None


def _shape_problem(shapes: list[tuple[str, ...]]) -> str:
    names = ["/".join(repr(key) for key in keys) for keys in shapes]
    if shapes:
        return f"has both {' and '.join(names)}; a record holds one conversation"
    return "has no conversation: expected 'messages', 'prompt' and 'response', 'chosen'/'rejected' or 'text'"


def _chat_messages(value: object, problems: Problems) -> list[Message]:
    if not isinstance(value, list):
        problems.append(("messages", "must be a list of {role, content} objects"))
        return []
    count = len(problems)
    messages: list[Message] = []
    for index, item in enumerate(value):
        path = f"messages[{index}]"
        if not isinstance(item, dict):
            problems.append((path, "must be an object with role and content"))
            continue
        role = item.get("role")
        if role not in ROLES:
            message = (
                "is required"
                if role is None
                else f"{role!r} is not one of {', '.join(ROLES)}"
            )
            problems.append((f"{path}.role", message))
        elif role == "system" and index > 0:
            problems.append((f"{path}.role", "a system message may only come first"))
        if "content" not in item:
            problems.append((f"{path}.content", "is required"))
            continue
        content = _content(item["content"], f"{path}.content", problems)
        if isinstance(role, str) and content is not None:
            messages.append({"role": role, "content": content})
    # A broken message would make the whole-conversation checks misleading.
    if len(problems) == count:
        _check_conversation(messages, "messages", problems)
    return messages


def _content(value: object, path: str, problems: Problems) -> str | None:
    """A message's text: a string, or OpenAI-style text parts joined by newlines."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        problems.append((path, "must be a string or a list of text parts"))
        return None
    texts: list[str] = []
    count = len(problems)
    for index, part in enumerate(value):
        part_path = f"{path}[{index}]"
        if not isinstance(part, dict) or "type" not in part:
            problems.append(
                (part_path, 'must be an object like {"type": "text", "text": "..."}')
            )
        elif part["type"] != "text":
            problems.append(
                (part_path, f"{part['type']!r} parts are not supported; only text")
            )
        elif not isinstance(part.get("text"), str):
            problems.append((f"{part_path}.text", "must be a string"))
        else:
            texts.append(part["text"])
    return "\n".join(texts) if len(problems) == count else None


def _prompt_response(record: dict[str, object], problems: Problems) -> list[Message]:
    messages: list[Message] = []
    for key, role in (("prompt", "user"), ("response", "assistant")):
        value = record.get(key)
        if value is None:
            problems.append((key, "is required"))
        elif not isinstance(value, str):
            problems.append((key, "must be a string"))
        else:
            messages.append({"role": role, "content": value})
    if len(messages) == 2 and not messages[0]["content"].strip():
        problems.append(("prompt", "must not be empty"))
    return messages


def _hh_field(record: dict[str, object], key: str, problems: Problems) -> list[Message]:
    value = record[key]
    if not isinstance(value, str):
        problems.append((key, "must be a string of 'Human:' and 'Assistant:' turns"))
        return []
    messages = _hh_messages(value)
    if messages is None:
        problems.append((key, "must start with a 'Human:' turn (or a 'System:' block)"))
        return []
    _check_conversation(messages, key, problems)
    return messages


def _hh_messages(text: str) -> list[Message] | None:
    """Turns of HH-RLHF text ("\\n\\nHuman: ...\\n\\nAssistant: ..."); None if it has no turns."""
    # Newlines around the record are layout; inside a turn everything is kept.
    text = text.lstrip("\n").rstrip("\n")
    messages: list[Message] = []
    if text.startswith("System:"):
        first_turn = _HH_TURN.search(text)
        end = first_turn.start() if first_turn else len(text)
        system = text[len("System:") : end].removeprefix(" ")
        messages.append({"role": "system", "content": system})
        text = text[end:]
    else:
        text = "\n\n" + text
    turns = list(_HH_TURN.finditer(text))
    if not turns and messages:
        return messages
    if not turns or turns[0].start() != 0:
        return None
    ends = [turn.start() for turn in turns[1:]] + [len(text)]
    for turn, end in zip(turns, ends, strict=True):
        messages.append(
            {"role": _HH_ROLES[turn.group(1)], "content": text[turn.end() : end]}
        )
    return messages


def _check_conversation(
    messages: list[Message], field: str, problems: Problems
) -> None:
    for index, message in enumerate(messages):
        if message["role"] == "user" and not message["content"].strip():
            problems.append(
                (f"{field}[{index}].content", "a user message must not be empty")
            )
    roles = {message["role"] for message in messages}
    if missing := [role for role in ("user", "assistant") if role not in roles]:
        problems.append(
            (field, f"has no {' or '.join(missing)} message; a transcript needs both")
        )


def _canonical_json(value: object) -> str:
    """json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")),
    byte for byte (checked in the tests), by orjson, which is an order faster."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _canonical(value: object) -> bytes:
    return _canonical_json(value).encode()


def identity_key(
    *, external_id: str, source_model: str, variant: str, messages_json: str
) -> str:
    """What makes rows one item (Transcript.content_hash), as sha256 hex.

    A row with an id is that id, of that model, on that side of a
    chosen/rejected pair (`variant`, "" for none): the canonical JSON of
    ["id", id, model, variant]. Two rows with distinct ids are distinct items
    whatever their text, and a repeated id is the same item. A row without an
    id is its content: the canonical JSON of [messages, model], built from the
    messages' JSON already made. The two keys can't collide: one's first
    element is a string, the other's a list. Rows imported before ids counted
    got their id keys in migration 0010_transcript_identity_keys, which
    computes them alike: change one, change the other with a new migration.
    """
    if external_id:
        text = _canonical_json(["id", external_id, source_model, variant])
    else:
        text = f"[{messages_json},{_canonical_json(source_model)}]"
    return hashlib.sha256(text.encode()).hexdigest()


def _variant(metadata: dict[str, object]) -> str:
    """The side of a chosen/rejected pair, kept in metadata: a gold export
    carries it, so a pair re-imported from one stays two items. Exports made
    before the hint was hidden name it "hh_variant"."""
    for key in (HH_VARIANT_KEY, "hh_variant"):
        if isinstance(value := metadata.get(key), str):
            return value
    return ""


def _prompt_hash(messages: list[Message]) -> str:
    """A group for chosen/rejected pairs: the conversation before the last answer."""
    last_answer = max(
        i for i, message in enumerate(messages) if message["role"] == "assistant"
    )
    return hashlib.sha256(_canonical(messages[:last_answer])).hexdigest()[:16]


def iter_judgements(stream: BinaryIO) -> Iterator[JudgementRow | RowError]:
    """The lines of a judgement file, JSONL of {"id": ..., "values": {...}}.

    Rows of a gold export (with "gold" instead of "values") give their gold
    values, so an export's gold comes into a new project as a judge. Blank
    lines are skipped; a line that is not such an object is a RowError.
    """
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            # orjson counts from the line's start; past its end it has no column.
            column = e.colno if e.lineno == 1 else None
            yield RowError(number, "", f"not JSON: {e.msg}", column=column)
            continue
        if isinstance(record, dict) and "values" not in record and "gold" in record:
            gold = record["gold"] if isinstance(record["gold"], dict) else {}
            record["values"] = {
                name: entry["value"]
                for name, entry in gold.items()
                if isinstance(entry, dict) and entry.get("value") is not None
            }
        if not isinstance(record, dict) or "id" not in record or "values" not in record:
            yield RowError(number, "", 'needs "id" and "values"')
            continue
        yield JudgementRow(line=number, id=record["id"], values=record["values"])
