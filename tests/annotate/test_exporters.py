from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import math
import random
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from annotate import exporters
from annotate.exporters import (
    FORMATS,
    HashingStream,
    Tally,
    columns,
    manifest,
    pseudonym,
    split_of,
    writer_for,
)
from annotate.importers import TranscriptRow, iter_rows

FIELDS = ("refusal_type", "failure_modes", "acknowledge", "helpfulness")
ADVERSARIAL = (
    '<script>alert("x")</script>, "quoted", a,b,,c\nnew line\r\nand \r alone; '
    "ünïcødé 🙅 拒绝 \u2028 tab\there"
)


def make_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "transcript": {
            "id": 17,
            "external_id": "rt-0412",
            "messages": [
                {"role": "system", "content": "Be safe."},
                {"role": "user", "content": "How do I hurt a cat?"},
                {"role": "assistant", "content": "I can't help with that."},
            ],
            "source_model": "aster-7b",
            "dataset": "redteam-v3",
            "prompt_group": "pg-7",
            "metadata": {"category": "animal harm"},
        },
        "gold": {
            "refusal_type": {
                "value": "policy",
                "method": "majority",
                "confidence": 0.67,
            },
            "failure_modes": {
                "value": ["refusal_leakage", "moralising"],
                "method": "unanimous",
                "confidence": 1.0,
            },
            "acknowledge": {"value": None, "method": "unresolved", "confidence": None},
            "helpfulness": {"value": 2, "method": "median", "confidence": 0.5},
        },
        "annotations_count": 3,
        "disagreement": 0.4,
        "split": "train",
        "key_resolved": True,
        "annotations": [
            {
                "annotator": "a3f9c2d1e0b4",
                "values": {"refusal_type": "policy", "helpfulness": 2},
                "created_at": "2026-12-01T12:00:00Z",
            }
        ],
    }
    for key, value in changes.items():
        if key in row["transcript"]:
            row["transcript"][key] = value
        else:
            row[key] = value
    return row


def adversarial_row() -> dict[str, Any]:
    return make_row(
        id=18,
        external_id="",
        prompt_group="",
        messages=[
            {"role": "user", "content": ADVERSARIAL},
            {"role": "assistant", "content": f'"{ADVERSARIAL}",'},
        ],
        metadata={"note": ADVERSARIAL, "nested": {"list": [1, None, "x,y"]}},
        disagreement=None,
        split="test",
    )


ROWS = [make_row(), adversarial_row(), make_row(id=19, split="validation")]


def export(
    fmt: str,
    rows: list[dict[str, Any]],
    *,
    fields: tuple[str, ...] = FIELDS,
    with_annotations: bool = False,
) -> bytes:
    stream = io.BytesIO()
    with writer_for(
        fmt, stream, fields=fields, with_annotations=with_annotations
    ) as writer:
        for row in rows:
            writer.write(row)
    return stream.getvalue()


def jsonl_records(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in data.splitlines()]


def csv_records(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode(), newline="")))


def parquet_table(data: bytes) -> Any:
    return pq.read_table(io.BytesIO(data))


# JSONL.


def test_jsonl_line_is_the_row_with_the_transcript_flattened():
    row = make_row()
    [record] = jsonl_records(export("jsonl", [row], with_annotations=True))

    assert list(record) == [
        "id",
        "messages",
        "model",
        "dataset",
        "prompt_group",
        "metadata",
        "gold",
        "key_resolved",
        "annotations_count",
        "disagreement",
        "split",
        "annotations",
    ]
    assert record["id"] == "rt-0412"
    assert record["messages"] == row["transcript"]["messages"]
    assert record["model"] == "aster-7b"
    assert record["gold"] == row["gold"]
    assert record["annotations"] == row["annotations"]
    assert record["disagreement"] == 0.4


def test_jsonl_keeps_none_unicode_and_adversarial_text_as_they_are():
    row = adversarial_row()
    [record] = jsonl_records(export("jsonl", [row]))

    assert record["id"] == "18"  # no external id: the transcript id
    assert record["messages"] == row["transcript"]["messages"]
    assert record["metadata"] == row["transcript"]["metadata"]
    assert record["disagreement"] is None
    assert record["gold"]["acknowledge"] == {
        "value": None,
        "method": "unresolved",
        "confidence": None,
    }
    assert "annotations" not in record


def test_jsonl_export_reimports_as_the_same_transcripts():
    data = export("jsonl", ROWS, with_annotations=True)

    imported = list(iter_rows(io.BytesIO(data), fmt="jsonl"))

    assert all(isinstance(r, TranscriptRow) for r in imported), imported
    for row, back in zip(ROWS, imported, strict=True):
        assert isinstance(back, TranscriptRow)
        transcript = row["transcript"]
        assert back.messages == transcript["messages"]
        assert back.source_model == transcript["source_model"]
        assert back.dataset == transcript["dataset"]
        assert back.prompt_group == transcript["prompt_group"]
        assert back.external_id == (transcript["external_id"] or str(transcript["id"]))
        # The export's own keys (gold, split, ...) stay out of the metadata.
        assert back.metadata == transcript["metadata"]


def test_a_transcript_whose_metadata_has_a_split_key_reimports():
    row = make_row(id=5, external_id="rt-5")
    row["transcript"]["metadata"] = {"split": "heldout", "category": "x"}

    (back,) = iter_rows(io.BytesIO(export("jsonl", [row])), fmt="jsonl")

    assert isinstance(back, TranscriptRow)
    assert back.metadata == {"split": "heldout", "category": "x"}


def test_jsonl_writes_rows_in_order_across_buffer_flushes():
    huge = make_row(id=1, external_id="huge")
    huge["transcript"]["messages"][2]["content"] = "x" * (3 * 2**20)  # > the buffer
    rows = [make_row(id=i, external_id=f"rt-{i}") for i in range(2, 3000)]
    rows.insert(1500, huge)

    records = jsonl_records(export("jsonl", rows))

    assert [r["id"] for r in records] == [r["transcript"]["external_id"] for r in rows]
    assert records[1500]["messages"][2]["content"] == "x" * (3 * 2**20)


# CSV.


def test_csv_header_lists_the_columns_in_order():
    data = export("csv", [], with_annotations=True)

    assert next(csv.reader(io.StringIO(data.decode(), newline=""))) == [
        "id",
        "transcript_id",
        "model",
        "dataset",
        "prompt_group",
        "split",
        "annotations_count",
        "disagreement",
        "key_resolved",
        "refusal_type",
        "refusal_type_method",
        "refusal_type_confidence",
        "failure_modes",
        "failure_modes_method",
        "failure_modes_confidence",
        "acknowledge",
        "acknowledge_method",
        "acknowledge_confidence",
        "helpfulness",
        "helpfulness_method",
        "helpfulness_confidence",
        "messages",
        "metadata",
        "annotations",
    ]


def test_csv_round_trips_through_dict_reader():
    first, adversarial, _ = csv_records(export("csv", ROWS))

    assert first["id"] == "rt-0412"
    assert first["transcript_id"] == "17"
    assert first["annotations_count"] == "3"
    assert first["disagreement"] == "0.4"
    assert first["refusal_type"] == "policy"
    assert first["refusal_type_method"] == "majority"
    assert first["refusal_type_confidence"] == "0.67"
    assert first["failure_modes"] == "refusal_leakage|moralising"
    assert first["helpfulness"] == "2"
    assert (first["acknowledge"], first["acknowledge_confidence"]) == ("", "")
    assert first["acknowledge_method"] == "unresolved"
    assert json.loads(first["metadata"]) == {"category": "animal harm"}
    assert "annotations" not in first

    assert adversarial["id"] == "18"
    assert adversarial["prompt_group"] == ""
    assert adversarial["disagreement"] == ""
    assert adversarial["split"] == "test"
    transcript = ROWS[1]["transcript"]
    assert json.loads(adversarial["messages"]) == transcript["messages"]
    assert json.loads(adversarial["metadata"]) == transcript["metadata"]


def test_csv_annotations_column_holds_them_as_json_when_asked():
    [record] = csv_records(export("csv", [make_row()], with_annotations=True))

    assert json.loads(record["annotations"]) == make_row()["annotations"]


def test_field_missing_from_gold_writes_empty_cells():
    row = make_row()
    del row["gold"]["helpfulness"]

    [record] = csv_records(export("csv", [row]))
    [parquet] = parquet_table(export("parquet", [row])).to_pylist()
    tally = Tally(FIELDS)
    tally.add(row)

    assert [record[f"helpfulness{s}"] for s in ("", "_method", "_confidence")] == [
        "",
        "",
        "",
    ]
    assert parquet["helpfulness_method"] is None
    assert tally.by_method["helpfulness"] == {"none": 1}


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_row(start: str) -> dict[str, Any]:
    """Every text cell of a row starting with `start`, as a spreadsheet would run it."""
    row = make_row(
        external_id=f'{start}HYPERLINK("http://evil")',
        source_model=f"{start}model",
        dataset=f"{start}1+1",
        prompt_group=f"{start}group",
    )
    row["gold"]["refusal_type"]["value"] = f"{start}cmd|' /C calc'!A0"
    row["gold"]["failure_modes"]["value"] = [f"{start}leak", "moralising"]
    return row


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_csv_quotes_text_cells_a_spreadsheet_would_run_as_formulas(start):
    [record] = csv_records(export("csv", [formula_row(start)]))

    assert record["id"] == f'\'{start}HYPERLINK("http://evil")'
    assert record["model"] == f"'{start}model"
    assert record["dataset"] == f"'{start}1+1"
    assert record["prompt_group"] == f"'{start}group"
    assert record["refusal_type"] == f"'{start}cmd|' /C calc'!A0"
    assert record["failure_modes"] == f"'{start}leak|moralising"


def test_csv_quotes_text_that_looks_like_a_sum_but_not_the_numbers():
    row = make_row(dataset="-1+1", disagreement=-0.25)
    row["gold"]["refusal_type"]["value"] = "-1+1"
    # A rating the scale lets go below zero, and a score below zero: numbers
    # the writer formats itself, which a spreadsheet must still read as numbers.
    row["gold"]["helpfulness"] = {"value": -2, "method": "median", "confidence": -0.5}

    [record] = csv_records(export("csv", [row]))

    assert record["dataset"] == "'-1+1"
    assert record["refusal_type"] == "'-1+1"
    assert record["helpfulness"] == "-2"
    assert record["helpfulness_confidence"] == "-0.5"
    assert record["disagreement"] == "-0.25"
    assert record["annotations_count"] == "3"
    assert record["transcript_id"] == "17"


def test_csv_leaves_text_that_only_holds_a_formula_character_later_alone():
    [record] = csv_records(export("csv", [adversarial_row(), make_row(dataset="a=b")]))[
        1:
    ]

    assert record["dataset"] == "a=b"
    assert record["id"] == "rt-0412"
    assert record["refusal_type_method"] == "majority"
    assert json.loads(record["metadata"]) == {"category": "animal harm"}


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_jsonl_and_parquet_keep_formula_like_text_exactly(start):
    row = formula_row(start)
    transcript = row["transcript"]

    data = export("jsonl", [row])
    [record] = jsonl_records(data)
    [parquet] = parquet_table(export("parquet", [row])).to_pylist()

    assert data == orjson.dumps(
        {
            "id": transcript["external_id"],
            "messages": transcript["messages"],
            "model": transcript["source_model"],
            "dataset": transcript["dataset"],
            "prompt_group": transcript["prompt_group"],
            "metadata": transcript["metadata"],
            "gold": row["gold"],
            "key_resolved": True,
            "annotations_count": 3,
            "disagreement": 0.4,
            "split": "train",
        },
        option=orjson.OPT_APPEND_NEWLINE,
    )
    assert record["id"] == f'{start}HYPERLINK("http://evil")'
    assert record["gold"]["refusal_type"]["value"] == f"{start}cmd|' /C calc'!A0"
    assert parquet["id"] == record["id"]
    assert parquet["model"] == f"{start}model"
    assert parquet["refusal_type"] == f"{start}cmd|' /C calc'!A0"
    assert parquet["failure_modes"] == f"{start}leak|moralising"


def test_jsonl_keeps_an_id_that_starts_with_an_equals_sign():
    [record] = jsonl_records(export("jsonl", [make_row(external_id="=cmd")]))

    assert record["id"] == "=cmd"


# Parquet.


def test_parquet_round_trips_through_read_table():
    table = parquet_table(export("parquet", ROWS, with_annotations=True))
    first, adversarial, third = table.to_pylist()

    assert table.column_names == columns(FIELDS, with_annotations=True)
    assert table.schema.field("transcript_id").type == pa.int64()
    assert table.schema.field("disagreement").type == pa.float64()
    assert table.schema.field("helpfulness").type == pa.string()
    assert table.schema.field("helpfulness_confidence").type == pa.float64()
    assert first["id"] == "rt-0412"
    assert first["transcript_id"] == 17
    assert first["disagreement"] == 0.4
    assert first["failure_modes"] == "refusal_leakage|moralising"
    assert first["helpfulness"] == "2"
    assert first["acknowledge"] is None
    assert first["acknowledge_method"] == "unresolved"
    assert first["acknowledge_confidence"] is None
    assert json.loads(first["annotations"]) == ROWS[0]["annotations"]
    assert adversarial["disagreement"] is None
    assert json.loads(adversarial["messages"]) == ROWS[1]["transcript"]["messages"]
    assert json.loads(adversarial["metadata"]) == ROWS[1]["transcript"]["metadata"]
    assert third["split"] == "validation"


def test_parquet_with_120000_rows_writes_several_row_groups():
    row = make_row()

    data = export("parquet", [row] * 120_000)

    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.metadata.num_rows == 120_000
    assert parquet.num_row_groups == 3  # 50,000 + 50,000 + 20,000
    assert parquet_table(data).num_rows == 120_000


def test_parquet_closes_a_row_group_early_when_its_text_is_large(monkeypatch):
    monkeypatch.setattr(exporters, "_ROW_GROUP_BYTES", 1000)
    row = make_row()
    row["transcript"]["messages"][2]["content"] = "y" * 600

    data = export("parquet", [row] * 5)

    assert pq.ParquetFile(io.BytesIO(data)).num_row_groups == 3  # 2 + 2 + 1


# Every format.


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_export_is_a_valid_empty_file_and_its_manifest_says_zero(fmt):
    buffer = io.BytesIO()
    stream = HashingStream(buffer)
    tally = Tally(FIELDS)
    with writer_for(fmt, stream, fields=FIELDS, with_annotations=False):
        pass
    data = buffer.getvalue()

    if fmt == "jsonl":
        assert data == b""
    elif fmt == "csv":
        assert data.decode().splitlines() == [
            ",".join(columns(FIELDS, with_annotations=False))
        ]
        assert csv_records(data) == []
    else:
        table = parquet_table(data)
        assert table.num_rows == 0
        assert table.column_names == columns(FIELDS, with_annotations=False)
    info = manifest(
        fmt=fmt,
        label_set="refusal",
        label_set_version=1,
        schema={"fields": []},
        filters={},
        alpha={},
        created_at=datetime(2026, 12, 1, 12, tzinfo=UTC),
        tally=tally,
        data=stream,
    )
    assert info["counts"] == {
        "rows": 0,
        "key_resolved": 0,
        "key_unresolved": 0,
        "by_split": {"train": 0, "validation": 0, "test": 0},
        "by_method": {field: {} for field in FIELDS},
    }
    assert info["bytes"] == len(data)
    assert info["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("fmt", FORMATS)
def test_hashing_stream_hash_equals_hashlib_of_the_file(fmt, tmp_path):
    path = tmp_path / f"gold.{fmt}"
    with path.open("wb") as file:
        stream = HashingStream(file)
        with writer_for(fmt, stream, fields=FIELDS, with_annotations=True) as writer:
            for row in ROWS * 50:
                writer.write(row)

    assert stream.hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()
    assert stream.size == path.stat().st_size


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_row_says_whether_its_key_field_is_resolved(fmt):
    rows = [make_row(), make_row(id=18, external_id="rt-18", key_resolved=False)]

    data = export(fmt, rows)

    if fmt == "jsonl":
        assert [r["key_resolved"] for r in jsonl_records(data)] == [True, False]
    elif fmt == "csv":
        assert [r["key_resolved"] for r in csv_records(data)] == ["true", "false"]
    else:
        table = parquet_table(data)
        assert table.schema.field("key_resolved").type == pa.bool_()
        assert table.column("key_resolved").to_pylist() == [True, False]


def test_manifest_counts_rows_by_key_field_and_those_left_out():
    rows = [make_row(), make_row(id=18, key_resolved=False), make_row(id=19)]
    stream = HashingStream(io.BytesIO())
    tally = Tally(FIELDS)
    for row in rows:
        tally.add(row)

    def counts(**left_out: int) -> dict[str, Any]:
        return dict(
            manifest(
                fmt="jsonl",
                label_set="refusal",
                label_set_version=1,
                schema={},
                filters={},
                alpha={},
                created_at=datetime(2026, 12, 1, 12, tzinfo=UTC),
                tally=tally,
                data=stream,
                **left_out,
            )["counts"]
        )

    included = counts()
    assert (included["rows"], included["key_resolved"]) == (3, 2)
    assert included["key_unresolved"] == 1
    assert "left_out_unresolved" not in included
    assert counts(left_out_unresolved=4)["left_out_unresolved"] == 4


def test_manifest_describes_the_export():
    rows = [*ROWS, make_row(id=20, split="train")]
    buffer = io.BytesIO()
    stream = HashingStream(buffer)
    tally = Tally(FIELDS)
    with writer_for("csv", stream, fields=FIELDS, with_annotations=False) as writer:
        for row in rows:
            writer.write(row)
            tally.add(row)
    rows[0]["gold"]["refusal_type"]["method"] = "adjudicated"  # no effect after add

    info = manifest(
        fmt="csv",
        label_set="refusal",
        label_set_version=2,
        schema={"fields": [{"name": "refusal_type", "kind": "single"}]},
        filters={"dataset": "redteam-v3", "min_annotations": 2},
        alpha={"refusal_type": 0.71, "acknowledge": None},
        created_at=datetime(2026, 12, 1, 12, tzinfo=UTC),
        tally=tally,
        data=stream,
    )

    assert info["format"] == "csv"
    assert info["created_at"] == "2026-12-01T12:00:00+00:00"
    assert info["label_set"] == {
        "name": "refusal",
        "version": 2,
        "schema": {"fields": [{"name": "refusal_type", "kind": "single"}]},
    }
    assert info["fields"] == list(FIELDS)
    assert info["filters"] == {"dataset": "redteam-v3", "min_annotations": 2}
    assert info["alpha"] == {"refusal_type": 0.71, "acknowledge": None}
    assert info["counts"]["rows"] == 4
    assert info["counts"]["by_split"] == {"train": 2, "validation": 1, "test": 1}
    assert info["counts"]["by_method"]["refusal_type"] == {"majority": 4}
    assert info["counts"]["by_method"]["acknowledge"] == {"unresolved": 4}
    assert info["sha256"] == hashlib.sha256(buffer.getvalue()).hexdigest()
    orjson.dumps(info)  # JSON-ready as it is


@pytest.mark.parametrize("fmt", FORMATS)
def test_writer_leaves_the_stream_open_and_refuses_rows_after_close(fmt):
    stream = io.BytesIO()
    writer = writer_for(fmt, stream, fields=FIELDS, with_annotations=False)
    writer.write(make_row())
    writer.close()
    writer.close()  # a second close is a no-op

    assert not stream.closed
    with pytest.raises(ValueError, match="closed"):
        writer.write(make_row())


@pytest.mark.parametrize("fmt", FORMATS)
def test_writers_leave_the_row_as_it_was(fmt):
    row = adversarial_row()
    before = copy.deepcopy(row)

    export(fmt, [row], with_annotations=True)

    assert row == before


def test_unknown_format_raises_value_error():
    with pytest.raises(ValueError, match="Unknown format 'xlsx'"):
        writer_for("xlsx", io.BytesIO(), fields=FIELDS, with_annotations=False)


@pytest.mark.parametrize("fields", [("split",), ("a", "a_method"), ("messages",)])
def test_columns_that_would_repeat_raise_value_error(fields):
    with pytest.raises(ValueError, match="would repeat"):
        writer_for("csv", io.BytesIO(), fields=fields, with_annotations=False)


# Splits and pseudonyms.


def test_split_of_is_pinned_so_exports_keep_their_splits_across_releases():
    # A change to the hashing would move items between train and test in every
    # later export, so these values must never change.
    T, V, X = "train", "validation", "test"
    assert [split_of(f"pg-{i}", 0) for i in range(20)] == [
        *(T, X, X, T, T, T, T, T, T, X),
        *(V, T, T, T, T, T, V, T, X, V),
    ]
    assert [split_of("", i) for i in range(10)] == [T, T, T, T, T, T, T, X, T, X]


def test_split_of_keeps_a_prompt_group_together():
    splits = {split_of("pg-7", transcript_id) for transcript_id in range(200)}

    assert len(splits) == 1


def test_split_of_falls_back_to_the_transcript_id():
    splits = [split_of("", transcript_id) for transcript_id in range(2000)]

    assert splits == [split_of("", transcript_id) for transcript_id in range(2000)]
    assert set(splits) == {"train", "validation", "test"}


@pytest.mark.parametrize(
    "ratios", [(0.8, 0.1, 0.1), (0.5, 0.3, 0.2), (0.7, 0.0, 0.3), (0.0, 0.0, 1.0)]
)
def test_split_of_follows_the_ratios_within_two_percent(ratios):
    rng = random.Random(5)  # noqa: S311 - test data, not a secret
    groups = [f"{rng.getrandbits(64):016x}" for _ in range(10_000)]

    splits = [split_of(group, 0, ratios=ratios) for group in groups]

    for name, share in zip(("train", "validation", "test"), ratios, strict=True):
        assert abs(splits.count(name) / len(splits) - share) <= 0.02
        if share == 0:
            assert name not in splits


def test_split_of_salt_reshuffles_the_groups():
    groups = [f"pg-{i}" for i in range(200)]

    plain = [split_of(group, 0) for group in groups]
    salted = [split_of(group, 0, salt="2027") for group in groups]

    assert plain != salted


@pytest.mark.parametrize(
    "ratios",
    [(0.8, 0.1, 0.2), (0.5, 0.5, 0.5), (1.2, -0.1, -0.1), (math.nan, 0.5, 0.5)],
)
def test_split_of_rejects_bad_ratios(ratios):
    with pytest.raises(ValueError, match="split ratios"):
        split_of("pg-7", 17, ratios=ratios)


def test_pseudonym_is_stable_and_differs_by_secret_and_annotator():
    name = pseudonym(42, secret="deployment-a")

    assert name == pseudonym(42, secret="deployment-a")
    assert len(name) == 12
    assert int(name, 16) >= 0
    assert name != pseudonym(42, secret="deployment-b")
    assert name != pseudonym(43, secret="deployment-a")


def test_pseudonym_refuses_an_empty_secret():
    with pytest.raises(ValueError, match="secret"):
        pseudonym(42, secret="")
