from __future__ import annotations

import hashlib
import io
import json
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from annotate.importers import (
    ImportFileError,
    JudgementRow,
    RowError,
    TranscriptRow,
    detect_format,
    iter_judgements,
    iter_rows,
)

DATA = Path(__file__).parent / "data"
SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)> &amp; </div>'
HH_PAIR = {
    "chosen": "\n\nHuman: a\n\nAssistant: b",
    "rejected": "\n\nHuman: a\n\nAssistant: c",
}


def parse(
    data: bytes, fmt: str, max_field_length: int = 200
) -> list[TranscriptRow | RowError]:
    stream = io.BytesIO(data)
    return list(iter_rows(stream, fmt=fmt, max_field_length=max_field_length))


def rows(data: bytes, fmt: str) -> list[TranscriptRow]:
    results = parse(data, fmt)
    assert all(isinstance(r, TranscriptRow) for r in results), results
    return [r for r in results if isinstance(r, TranscriptRow)]


def errors(data: bytes, fmt: str, max_field_length: int = 200) -> list[RowError]:
    found = parse(data, fmt, max_field_length)
    return [r for r in found if isinstance(r, RowError)]


def jsonl(*records: object) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def chat(*turns: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in turns]


# The sample files.


@pytest.mark.parametrize(
    ("filename", "fmt", "count"),
    [
        ("good.jsonl", "jsonl", 5),
        ("good.json", "json", 4),
        ("good.csv", "csv", 3),
        ("good.txt", "hh", 3),
    ],
)
def test_good_samples_import_without_errors(filename, fmt, count):
    data = (DATA / filename).read_bytes()

    assert detect_format("upload", data[:1024]) == fmt
    assert len(rows(data, fmt)) == count


@pytest.mark.parametrize(
    ("filename", "fmt", "expected"),
    [
        (
            "bad.jsonl",
            "jsonl",
            [
                (2, ""),
                (4, ""),
                (5, "messages[1].role"),
                (6, ""),
                (7, "prompt"),
                (8, "messages[1].content[0]"),
                (9, "model"),
                (9, "metadata"),
                (10, "messages[1].role"),
            ],
        ),
        ("bad.json", "json", [(5, ""), (7, "messages[1].role"), (13, ""), (14, "id")]),
        ("bad.csv", "csv", [(3, "prompt"), (4, ""), (7, "model")]),
        ("bad.txt", "hh", [(5, "text"), (7, "text[0].content"), (11, "text")]),
    ],
)
def test_bad_samples_report_every_error_with_line_and_field(filename, fmt, expected):
    data = (DATA / filename).read_bytes()

    found = errors(data, fmt, max_field_length=32)

    assert [(e.line, e.field) for e in found] == expected


def test_good_jsonl_sample_maps_every_field():
    first, poem, parts, chosen, rejected = rows(
        (DATA / "good.jsonl").read_bytes(), "jsonl"
    )

    assert first.messages[0] == {"role": "system", "content": "Be brief."}
    assert (first.source_model, first.external_id, first.line) == ("model-a", "1", 1)
    assert poem.messages == chat(
        ("system", "You are a poet."),
        ("user", "Write a poem"),
        ("assistant", "Roses are red"),
    )
    assert (poem.dataset, poem.metadata) == ("poems", {"lang": "en"})
    assert parts.line == 4
    assert parts.messages[0]["content"] == "Part one\npart two"
    assert parts.metadata == {"split": "test"}
    assert chosen.line == rejected.line == 5


def test_good_txt_sample_splits_transcripts_on_dashes():
    first, haiku, script = rows((DATA / "good.txt").read_bytes(), "hh")

    assert [m["role"] for m in first.messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert first.messages[0]["content"] == "You are a careful assistant."
    assert first.messages[2]["content"] == "I can't help with that."
    assert haiku.line == 13
    assert haiku.messages[1]["content"] == (
        "Soft rain on the roof\ndrums a slow and steady beat\nthe night listens close"
    )
    assert script.line == 19
    assert script.messages[0]["content"] == "<script>alert(1)</script>"


# Line numbers.


def test_malformed_json_on_line_7_of_10_names_line_7():
    lines = [json.dumps({"prompt": f"p{i}", "response": "r"}) for i in range(10)]
    lines[6] = '{"prompt": "p6", "response": }'

    found = parse("\n".join(lines).encode(), "jsonl")

    assert [r.line for r in found if isinstance(r, RowError)] == [7]
    assert len([r for r in found if isinstance(r, TranscriptRow)]) == 9
    assert str(found[6]) == "line 7, column 30: invalid JSON: Expecting value"


def test_blank_jsonl_lines_are_skipped_but_counted():
    data = b'\n\n{"prompt": "a", "response": "b"}\n\n{"prompt": "c", "response": "d"}\n'

    assert [r.line for r in rows(data, "jsonl")] == [3, 5]


def test_a_multiline_csv_cell_shifts_the_next_records_line():
    data = b'prompt,response\n"one\ntwo\nthree",r\nnext,r\n\nlast,r\n'

    found = rows(data, "csv")

    assert [r.line for r in found] == [2, 5, 7]
    assert found[0].messages[0]["content"] == "one\ntwo\nthree"


def test_a_json_array_reports_the_line_where_the_bad_object_starts():
    data = b"""[
  {"prompt": "a", "response": "b"},
  {
    "prompt": "a",
    "response": "b",
    "messages": []
  },
  {"prompt": "c",
   "response": nope}
]"""

    found = errors(data, "json")

    assert [(e.line, e.field) for e in found] == [(3, ""), (9, "")]
    assert str(found[1]) == "line 9, column 16: invalid JSON: Expecting value"


def test_a_json_error_on_the_objects_first_line_counts_columns_from_the_line_start():
    found = errors(b'[{"prompt": "a", "response": "b"}, {"prompt" "a"}]', "json")

    assert str(found[0]) == "line 1, column 46: invalid JSON: Expecting ':' delimiter"


def test_a_mismatched_bracket_costs_one_json_item():
    data = b'[{"prompt": [1}, {"prompt": "a", "response": "b"}]'

    found = parse(data, "json")

    assert isinstance(found[0], RowError)
    assert isinstance(found[1], TranscriptRow)


def test_a_json_file_may_hold_a_single_object():
    data = b'{\n  "prompt": "a",\n  "response": "b"\n}\n'

    assert [r.line for r in rows(data, "json")] == [1]


def test_an_empty_json_array_holds_no_rows():
    assert parse(b"  [ ]  ", "json") == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'[{"prompt": "a", "response": "b"}',
            "The JSON array opened on line 1 is never closed.",
        ),
        (
            b'[\n{"prompt": "a", "response": "b"},\n]',
            "Line 3: a comma with no item after it.",
        ),
        (
            b'[{"a": 1}\n{"b": 2}]',
            "Line 2: expected ',' or ']' after an item, found '{'.",
        ),
        (b"[]\n[]", "Line 2: unexpected text after the JSON data."),
        (
            b'"text"',
            "Line 1: a .json file must hold an array of objects or one object.",
        ),
        (
            b'[\n{"prompt": "a", "response": "b',
            "Line 2: the item starting here is never closed.",
        ),
    ],
)
def test_a_broken_json_array_is_a_file_error(data, message):
    with pytest.raises(ImportFileError) as exc:
        parse(data, "json")

    assert str(exc.value) == message


def test_json_items_larger_than_a_read_chunk_parse_across_chunk_boundaries():
    long = (
        'x\\"{[' * 40_000
    )  # escapes and brackets inside the string straddle chunk edges
    data = (
        "[\n"
        + json.dumps({"prompt": long, "response": "}"})
        + ",\n"
        + '{"prompt": "a", "response": "b"}]'
    ).encode()

    first, second = rows(data, "json")

    assert first.messages[0]["content"] == long
    assert second.line == 3


# Validation.


def test_role_tool_is_refused_with_its_line_and_field():
    good = {"prompt": "a", "response": "b"}
    bad = {"messages": chat(("user", "a"), ("assistant", "b"), ("tool", "{}"))}

    (error,) = errors(jsonl(good, good, bad), "jsonl")

    assert (error.line, error.field) == (3, "messages[2].role")
    assert (
        str(error)
        == "line 3, messages[2].role: 'tool' is not one of system, user, assistant"
    )


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        (
            {"messages": chat(("user", "a"))},
            "messages",
            "has no assistant message; a transcript needs both",
        ),
        (
            {"messages": chat(("assistant", "a"))},
            "messages",
            "has no user message; a transcript needs both",
        ),
        (
            {"messages": chat(("user", ""), ("assistant", "a"))},
            "messages[0].content",
            "a user message must not be empty",
        ),
        (
            {"messages": chat(("user", "a"), ("system", "s"), ("assistant", "b"))},
            "messages[1].role",
            "a system message may only come first",
        ),
        (
            {"messages": [{"role": "user", "content": 3}]},
            "messages[0].content",
            "must be a string or a list of text parts",
        ),
        ({"messages": [{"role": "user"}]}, "messages[0].content", "is required"),
        ({"messages": [{"content": "a"}]}, "messages[0].role", "is required"),
        (
            {"messages": ["hi"]},
            "messages[0]",
            "must be an object with role and content",
        ),
        ({"messages": "hi"}, "messages", "must be a list of {role, content} objects"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
            "messages[0].content[0].text",
            "must be a string",
        ),
        ({"prompt": "a"}, "response", "is required"),
        ({"prompt": ["a"], "response": "b"}, "prompt", "must be a string"),
        ({"prompt": "a", "response": "b", "system": 1}, "system", "must be a string"),
        ({"prompt": "a", "response": "b", "dataset": 1}, "dataset", "must be a string"),
        (
            {"prompt": "a", "response": "b", "id": 1.5},
            "id",
            "must be a string or an integer",
        ),
        (
            {"prompt": "a", "response": "b", "lang": "fr", "metadata": {"lang": "en"}},
            "lang",
            "is also a key in metadata; keep one",
        ),
        (
            {"model": "m"},
            "",
            "has no conversation: expected 'messages', 'prompt' and 'response', 'chosen'/'rejected' or 'text'",
        ),
        (
            {"messages": [], "prompt": "a", "response": "b"},
            "",
            "has both 'messages' and 'prompt'/'response'; a record holds one conversation",
        ),
        (
            {"chosen": 5},
            "chosen",
            "must be a string of 'Human:' and 'Assistant:' turns",
        ),
        (
            {"text": "Hello\n\nHuman: hi"},
            "text",
            "must start with a 'Human:' turn (or a 'System:' block)",
        ),
    ],
)
def test_an_invalid_record_is_refused_with_the_field_path(record, field, message):
    (error,) = errors(jsonl(record), "jsonl")

    assert (error.line, error.field, error.message) == (1, field, message)


def test_a_non_text_content_part_is_refused_naming_its_index():
    content = [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "x"}},
    ]
    record = {
        "messages": [
            {"role": "user", "content": content},
            {"role": "assistant", "content": "ok"},
        ]
    }

    (error,) = errors(jsonl(record), "jsonl")

    assert (
        str(error)
        == "line 1, messages[0].content[1]: 'image_url' parts are not supported; only text"
    )


def test_every_problem_in_a_record_is_reported():
    record = {
        "messages": chat(("tool", "a"), ("user", "b"), ("robot", "c")),
        "model": 1,
    }

    found = errors(jsonl(record), "jsonl")

    assert [e.field for e in found] == ["model", "messages[0].role", "messages[2].role"]


@pytest.mark.parametrize("key", ["model", "id", "prompt_group", "dataset"])
def test_identifying_fields_longer_than_the_limit_are_refused(key):
    record = {"prompt": "a", "response": "b", key: "x" * 11}

    (error,) = errors(jsonl(record), "jsonl", max_field_length=10)

    assert str(error) == f"line 1, {key}: is 11 characters long; the limit is 10"
    assert rows(jsonl({**record, key: "x" * 10}), "jsonl")[0].line == 1


def test_a_system_key_is_prepended_unless_the_messages_have_one():
    turns = [("user", "a"), ("assistant", "b")]
    with_system = chat(("system", "s"), *turns)

    (row,) = rows(jsonl({"messages": chat(*turns), "system": "Be kind."}), "jsonl")
    (error,) = errors(jsonl({"messages": with_system, "system": "t"}), "jsonl")

    assert row.messages[0] == {"role": "system", "content": "Be kind."}
    assert (error.field, error.message) == (
        "system",
        "the conversation already starts with a system message",
    )


def test_null_values_count_as_absent():
    (row,) = rows(
        jsonl(
            {"prompt": "a", "response": "b", "model": None, "messages": None, "x": None}
        ),
        "jsonl",
    )

    assert (row.source_model, row.metadata) == ("", {})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"prompt": "a", "response": NaN}', "invalid JSON: NaN is not allowed"),
        ("[" * 100_000, "nested deeper than 64 levels"),
    ],
)
def test_json_that_is_not_strict_json_is_refused(line, message):
    (error,) = errors(line.encode(), "jsonl")

    assert error.message == message


NUL = "contains a NUL character (\\u0000), which can't be stored"
SURROGATE = "contains an unpaired surrogate such as \\ud800, which is not text"


@pytest.mark.parametrize(
    ("fmt", "data", "field", "message"),
    [
        ("jsonl", b'{"prompt": "a", "response": "b\\u0000"}', "response", NUL),
        (
            "jsonl",
            b'{"prompt": "a", "response": "b", "metadata": {"k": ["\\udfff"]}}',
            "metadata.k[0]",
            SURROGATE,
        ),
        ("json", b'[{"prompt": "\\ud800", "response": "b"}]', "prompt", SURROGATE),
        ("csv", b"prompt,response,note\na,b,c\x00\n", "metadata.note", NUL),
        ("hh", b"Human: a\x00\n\nAssistant: b\n", "text", NUL),
    ],
)
def test_text_the_database_cannot_store_is_refused(fmt, data, field, message):
    (error,) = errors(data, fmt)

    assert (error.field, error.message) == (field, message)


def test_a_surrogate_pair_escape_is_valid_text():
    (row,) = rows(b'{"prompt": "\\ud83d\\ude00", "response": "b"}', "jsonl")

    assert row.messages[0]["content"] == "\U0001f600"


def test_row_error_without_a_line_or_field_prints_just_the_message():
    assert str(RowError(None, "", "bad")) == "bad"
    assert str(RowError(None, "id", "bad")) == "id: bad"
    assert str(RowError(3, "", "bad")) == "line 3: bad"


# Content is kept exactly.


def test_adversarial_content_is_preserved_exactly_in_every_format():
    text = SCRIPT + "\n  indented\ttab  \r\n\u202eRTL\u200b"
    as_csv = '"prompt","response"\n"' + text.replace('"', '""') + '","ok"\n'
    samples = {
        "jsonl": jsonl({"prompt": text, "response": "ok"}),
        "json": json.dumps([{"prompt": text, "response": "ok"}]).encode(),
        "hh": f"Human: {SCRIPT}\n\nAssistant: ok\n".encode(),
        "csv": as_csv.encode(),
    }

    for fmt, data in samples.items():
        expected = SCRIPT if fmt == "hh" else text
        assert rows(data, fmt)[0].messages[0]["content"] == expected, fmt


def test_hh_text_keeps_inner_blank_lines_and_strips_only_the_trailing_newlines():
    text = "\n\nHuman: a\n\n\nb\n\nAssistant: c\n\n  d  \n\n"

    (row,) = rows(jsonl({"text": text}), "jsonl")

    assert row.messages == chat(("user", "a\n\n\nb"), ("assistant", "c\n\n  d  "))


def test_hh_txt_with_windows_line_endings_splits_turns():
    data = b"Human: a\r\n\r\nAssistant: b\r\n---\r\nHuman: c\r\n\r\nAssistant: d\r\n"

    assert [r.messages[1]["content"] for r in rows(data, "hh")] == ["b", "d"]


# Metadata and grouping.


def test_extra_csv_columns_go_into_metadata_without_empty_cells():
    data = b"Prompt, response ,system,dataset,lang,score\na,b,,ds,en,\nc,d,sys,,,0.5\n"

    first, second = rows(data, "csv")

    assert (first.metadata, first.dataset, first.messages[0]["role"]) == (
        {"lang": "en"},
        "ds",
        "user",
    )
    assert second.metadata == {"score": "0.5"}
    assert second.messages[0] == {"role": "system", "content": "sys"}


def test_extra_json_keys_go_into_metadata_with_the_metadata_object():
    record = {
        "prompt": "a",
        "response": "b",
        "metadata": {"split": "train"},
        "score": 0.5,
        "tags": ["x"],
    }

    (row,) = rows(jsonl(record), "jsonl")

    assert row.metadata == {"split": "train", "score": 0.5, "tags": ["x"]}


def test_hh_chosen_and_rejected_become_two_rows_sharing_a_prompt_group():
    record = {
        "chosen": "\n\nHuman: How do I pick a lock?\n\nAssistant: I can't help.",
        "rejected": "\n\nHuman: How do I pick a lock?\n\nAssistant: First, get a tension wrench.",
    }

    chosen, rejected = rows(jsonl(record, {"rejected": record["rejected"]}), "jsonl")[
        :2
    ]
    (alone,) = rows(jsonl({"rejected": record["rejected"]}), "jsonl")

    assert chosen.metadata == {"_hh_variant": "chosen"}
    assert rejected.metadata == {"_hh_variant": "rejected"}
    assert chosen.prompt_group == rejected.prompt_group == alone.prompt_group
    assert len(chosen.prompt_group) == 16
    assert chosen.messages[1]["content"] == "I can't help."


def test_hh_pairs_keep_a_given_prompt_group_and_differ_by_prompt():
    pair = {
        "chosen": "\n\nHuman: a\n\nAssistant: b",
        "rejected": "\n\nHuman: a\n\nAssistant: c",
    }
    other = {"chosen": "\n\nHuman: z\n\nAssistant: b"}

    given = rows(jsonl({**pair, "prompt_group": "g1"}), "jsonl")
    first, _ = rows(jsonl(pair), "jsonl")
    (second,) = rows(jsonl(other), "jsonl")

    assert [r.prompt_group for r in given] == ["g1", "g1"]
    assert first.prompt_group != second.prompt_group


def test_a_single_hh_text_key_is_one_transcript_with_no_variant():
    (row,) = rows(
        jsonl(
            {"text": "System: Be safe.\n\nHuman: hi\n\nAssistant: hello", "model": "m"}
        ),
        "jsonl",
    )

    assert row.messages == chat(
        ("system", "Be safe."), ("user", "hi"), ("assistant", "hello")
    )
    assert (row.metadata, row.prompt_group, row.source_model) == ({}, "", "m")


def test_a_row_without_an_id_is_keyed_by_sha256_of_messages_and_model():
    (row,) = rows(jsonl({"prompt": "a", "response": "b", "model": "m"}), "jsonl")
    canonical = (
        '[[{"content":"a","role":"user"},{"content":"b","role":"assistant"}],"m"]'
    )

    assert row.content_hash == hashlib.sha256(canonical.encode()).hexdigest()


def test_identical_content_in_different_formats_hashes_the_same():
    hashes = {
        rows(jsonl({"prompt": "a", "response": "b"}), "jsonl")[0].content_hash,
        rows(jsonl({"messages": chat(("user", "a"), ("assistant", "b"))}), "jsonl")[
            0
        ].content_hash,
        rows(b"prompt,response,lang\na,b,en\n", "csv")[0].content_hash,
        rows(b"Human: a\n\nAssistant: b\n", "hh")[0].content_hash,
    }
    other_model = rows(jsonl({"prompt": "a", "response": "b", "model": "m"}), "jsonl")[
        0
    ]

    assert len(hashes) == 1
    assert other_model.content_hash not in hashes


# Identity keys: what makes two rows the same item.


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_row_with_an_id_is_keyed_by_its_id_model_and_variant():
    (row,) = rows(
        jsonl({"prompt": "a", "response": "b", "model": "m", "id": 7}), "jsonl"
    )
    chosen, rejected = rows(jsonl({"id": "p", **HH_PAIR}), "jsonl")

    assert row.content_hash == sha256('["id","7","m",""]')
    assert (chosen.content_hash, rejected.content_hash) == (
        sha256('["id","p","","chosen"]'),
        sha256('["id","p","","rejected"]'),
    )


def test_distinct_ids_with_the_same_content_are_distinct_items():
    same = {"prompt": "a", "response": "b"}
    first, second, repeated, other_model, changed = rows(
        jsonl(
            {**same, "id": "x-1"},
            {**same, "id": "x-2"},
            {**same, "id": "x-1"},
            {**same, "id": "x-1", "model": "m"},
            {"prompt": "other", "response": "b", "id": "x-1"},
        ),
        "jsonl",
    )
    no_id = rows(jsonl(same), "jsonl")[0]

    assert first.content_hash != second.content_hash
    assert repeated.content_hash == changed.content_hash == first.content_hash
    assert other_model.content_hash != first.content_hash
    assert no_id.content_hash not in {first.content_hash, second.content_hash}


def test_an_exported_pair_reimports_with_the_keys_it_was_imported_with():
    chosen, rejected = rows(jsonl({"id": "p", **HH_PAIR}), "jsonl")
    exported = [
        {"id": "p", "messages": r.messages, "metadata": r.metadata}
        for r in (chosen, rejected)
    ]
    # Exports made before the hint was hidden carry it as "hh_variant".
    legacy = [
        {**e, "metadata": {"hh_variant": r.metadata["_hh_variant"]}}
        for e, r in zip(exported, (chosen, rejected), strict=True)
    ]

    back = rows(jsonl(*exported, *legacy), "jsonl")

    assert [r.content_hash for r in back] == [
        chosen.content_hash,
        rejected.content_hash,
    ] * 2


# Errors name one line: the decoder's own position is made absolute.


def test_a_jsonl_error_names_its_file_line_and_column_once():
    data = b'{"prompt": "a", "response": "b"}\n{"prompt": "a" "response": "b"}\n'

    (error,) = errors(data, "jsonl")

    assert str(error) == "line 2, column 16: invalid JSON: Expecting ',' delimiter"
    assert (error.line, error.column) == (2, 16)


def test_a_json_array_error_names_the_file_line_where_it_is():
    data = b'[\n  {"prompt": "a",\n   "response": "b"\n   "id": 1},\n  {"prompt" "x"}]'

    first, second = errors(data, "json")

    assert str(first) == "line 4, column 4: invalid JSON: Expecting ',' delimiter"
    assert str(second) == "line 5, column 13: invalid JSON: Expecting ':' delimiter"


def test_a_judgement_line_that_is_not_json_names_its_line_and_column_once():
    good, error = iter_judgements(io.BytesIO(b'{"id": 1, "values": {}}\n{"id" 1}\n'))

    assert isinstance(good, JudgementRow)
    assert isinstance(error, RowError)
    assert str(error).startswith("line 2, column 7: not JSON: ")
    assert "line 1" not in str(error)
    assert "(char" not in str(error)


# Values the database or JSON can't hold are refused with line and field.


def nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        (
            '{"prompt": "a", "response": "b", "metadata": '
            + json.dumps(nested(300))
            + "}",
            "metadata" + ".a" * 63,
            "nested deeper than 64 levels",
        ),
        (
            '{"prompt": "a", "response": "b", "score": [1, ' + "9" * 400 + "]}",
            "score[1]",
            "is an integer outside the 64-bit range, which can't be stored",
        ),
        (
            '{"prompt": "a", "response": "b", "metadata": {"n": 18446744073709551616}}',
            "metadata.n",
            "is an integer outside the 64-bit range, which can't be stored",
        ),
        (
            '{"prompt": "a", "response": "b", "metadata": {"n": -9223372036854775809}}',
            "metadata.n",
            "is an integer outside the 64-bit range, which can't be stored",
        ),
        (
            '{"prompt": "a", "response": "b", "metadata": {"x": {"y": 1e400}}}',
            "metadata.x.y",
            "is a number too large for JSON (it reads as infinity)",
        ),
        (
            '{"prompt": "a", "response": "b", "metadata": {"x": ["ok", "no\\u0000"]}}',
            "metadata.x[1]",
            "contains a NUL character (\\u0000), which can't be stored",
        ),
        (
            '{"prompt": "a", "response": "b", "metadata": {"k\\u0000": 1}}',
            "metadata",
            "has a key that contains a NUL character (\\u0000), which can't be stored",
        ),
    ],
)
def test_values_the_database_cannot_hold_are_refused_with_line_and_field(
    text, field, message
):
    good = json.dumps({"prompt": "a", "response": "b"})
    samples = {"jsonl": f"{good}\n\n{text}\n", "json": f"[{good},\n\n{text}]"}

    for fmt, data in samples.items():
        (error,) = errors(data.encode(), fmt)

        assert (error.line, error.field, error.message) == (3, field, message), fmt


def test_the_deepest_storable_value_and_the_widest_integers_are_kept():
    metadata = {"deep": nested(62), "big": 2**63 - 1, "small": -(2**63), "f": 1e300}

    (row,) = rows(
        jsonl({"prompt": "a", "response": "b", "metadata": metadata}), "jsonl"
    )

    assert row.metadata == metadata
    (error,) = errors(jsonl({"prompt": "a", "response": "b", "x": nested(64)}), "jsonl")
    assert (error.field, error.message) == (
        "x" + ".a" * 63,
        "nested deeper than 64 levels",
    )


def test_a_long_integer_is_read_exactly_not_as_a_float():
    (row,) = rows(
        b'{"prompt": "a", "response": "b", "metadata": {"n": 9223372036854775807}}',
        "jsonl",
    )

    assert row.metadata["n"] == 2**63 - 1
    assert isinstance(row.metadata["n"], int)


# CSV headers.


def test_a_csv_header_with_more_columns_than_the_limit_is_refused():
    names = ["prompt", "response", *(f"c{n}" for n in range(999))]

    with pytest.raises(ImportFileError) as exc:
        parse((",".join(names) + "\n").encode(), "csv")

    assert str(exc.value) == (
        "The CSV header (line 1) has 1001 columns; the limit is 1000."
    )
    assert (
        len(rows((",".join(names[:-1]) + "\na,b" + ",x" * 998 + "\n").encode(), "csv"))
        == 1
    )


def test_a_header_of_100000_columns_is_refused_before_any_row_is_read():
    header = ",".join(["prompt", "response", *(f"c{n}" for n in range(99_998))])
    # Rows that would each be an error, were they read.
    body = (header + "\n" + "only-one-cell\n" * 1000).encode()

    with pytest.raises(ImportFileError) as exc:
        parse(body, "csv")

    assert str(exc.value) == (
        "The CSV header (line 1) has 100000 columns; the limit is 1000."
    )


def test_a_repeated_column_is_named_even_at_the_limit():
    names = ["prompt", "response", *(f"c{n}" for n in range(997)), "c5"]

    with pytest.raises(ImportFileError) as exc:
        parse((",".join(names) + "\n").encode(), "csv")

    assert str(exc.value) == "The CSV header (line 1) repeats the column 'c5'."


def test_a_huge_csv_header_is_refused_quickly():
    header = ",".join(["prompt", "response", *(f"c{n}" for n in range(100_000))])

    start = time.process_time()
    with pytest.raises(ImportFileError, match="limit is 1000"):
        parse(header.encode() + b"\n", "csv")

    assert time.process_time() - start < 2


# Whole-file problems.


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "hh"])
@pytest.mark.parametrize("data", [b"", b"  \n\n\t\r\n", b"\xef\xbb\xbf\n"])
def test_an_empty_file_is_refused(fmt, data):
    with pytest.raises(ImportFileError, match=r"^The file is empty\.$"):
        parse(data, fmt)


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        (b"prompt,answer\n", "no 'response' column"),
        (b"question,response\n", "no 'prompt' column"),
        (b"a,b\n", "no 'prompt' or 'response' columns"),
    ],
)
def test_a_csv_header_without_prompt_or_response_names_the_missing_column(
    header, missing
):
    with pytest.raises(ImportFileError, match=missing):
        parse(header + b"x,y\n", "csv")


def test_a_csv_header_may_not_repeat_a_column():
    with pytest.raises(ImportFileError, match="repeats the column 'prompt'"):
        parse(b"prompt,response,PROMPT\n", "csv")


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("jsonl", b'{"prompt": "a", "response": "b"}\n\n{"prompt": "\xe9t\xe9"}\n'),
        ("json", b'[{"prompt": "a", "response": "b"},\n\n {"prompt": "\xe9t\xe9"}]'),
        ("csv", b"prompt,response\na,b\n\xe9t\xe9,b\n"),
        ("hh", b"Human: a\n\nAssistant: \xff\n"),
    ],
)
def test_text_that_is_not_utf8_names_its_line(fmt, data):
    with pytest.raises(ImportFileError, match=r"^Line 3 is not valid UTF-8 text"):
        parse(data, fmt)


def test_a_utf8_sequence_cut_by_a_json_read_chunk_decodes():
    prompt = "x" * (64 * 1024 - 13) + "é" * 10  # the first read ends inside an "é"
    data = json.dumps(
        [{"prompt": prompt, "response": "b"}], ensure_ascii=False
    ).encode()

    assert rows(data, "json")[0].messages[0]["content"] == prompt


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("jsonl", b'{"prompt": "a", "response": "b"}\n'),
        ("json", b'[{"prompt": "a", "response": "b"}]'),
        ("csv", b"prompt,response\na,b\n"),
        ("hh", b"Human: a\n\nAssistant: b\n"),
    ],
)
def test_a_utf8_byte_order_mark_is_ignored(fmt, data):
    (row,) = rows(b"\xef\xbb\xbf" + data, fmt)

    assert row.messages == chat(("user", "a"), ("assistant", "b"))
    assert row.line == (2 if fmt == "csv" else 1)


def test_an_unknown_format_is_a_value_error_at_once():
    with pytest.raises(ValueError, match="Unknown format 'xml'"):
        iter_rows(io.BytesIO(b""), fmt="xml")


# Format detection.


@pytest.mark.parametrize(
    ("filename", "fmt"),
    [
        ("chats.jsonl", "jsonl"),
        ("chats.NDJSON", "jsonl"),
        ("export.json", "json"),
        ("sheet.csv", "csv"),
        ("hh-rlhf.txt", "hh"),
    ],
)
def test_detect_format_trusts_the_extension(filename, fmt):
    assert detect_format(filename, b"prompt,response\n") == fmt


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b'{"prompt": "a", "response": "b"}\n{"prompt"', "jsonl"),
        (b'{"prompt": "a", "response": "b"}', "jsonl"),
        (b'{\n  "prompt": "a",\n', "json"),
        (b'\xef\xbb\xbf\n  [{"prompt": "a"', "json"),
        (b"\n\nHuman: hi\n\nAssistant: no", "hh"),
        (b"System: be nice\n\nHuman: hi", "hh"),
        (b"id,Prompt,response,lang\n1,a,b,en\n", "csv"),
    ],
)
def test_detect_format_sniffs_content_without_a_known_extension(head, fmt):
    assert detect_format("upload", head) == fmt


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"hello, world", "Can't tell the format of 'upload.dat'"),
        (b" \n", "The file is empty."),
    ],
)
def test_detect_format_refuses_what_it_cannot_tell(head, message):
    with pytest.raises(ImportFileError, match=message):
        detect_format("upload.dat", head)


# Memory.


def generated(fmt: str, size: int) -> Iterator[bytes]:
    """About `size` bytes of a valid file, produced lazily so the input isn't in memory."""
    answer = "I can't help with that, but here is why. " * 100
    if fmt in ("json", "csv"):
        yield b"[\n" if fmt == "json" else b"prompt,response,model,n\n"
    written, n = 0, 0
    while written < size:
        prompt = f"Question {n}: how do I do the thing? <b>please</b>"
        if fmt == "jsonl":
            chunk = (
                json.dumps({"prompt": prompt, "response": answer, "model": "m", "n": n})
                + "\n"
            )
        elif fmt == "json":
            chunk = ("" if n == 0 else ",\n") + json.dumps(
                {"messages": chat(("user", prompt), ("assistant", answer)), "n": n}
            )
        elif fmt == "csv":
            chunk = f'"{prompt}","{answer}\nsecond line",m,{n}\n'
        else:
            chunk = f"Human: {prompt}\n\nAssistant: {answer}\n---\n"
        data = chunk.encode()
        written += len(data)
        n += 1
        yield data
    if fmt == "json":
        yield b"\n]"


class GeneratedStream(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer):  # typeshed's WriteableBuffer has no slicing
        if not self._pending:
            self._pending = next(self._chunks, b"")
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


@pytest.mark.parametrize(
    ("fmt", "size_mb"), [("jsonl", 50), ("json", 50), ("csv", 10), ("hh", 10)]
)
def test_memory_stays_flat_whatever_the_file_size(fmt, size_mb):
    stream = io.BufferedReader(GeneratedStream(generated(fmt, size_mb * 1024 * 1024)))
    count = 0
    tracemalloc.start()
    try:
        for row in iter_rows(stream, fmt=fmt):
            assert isinstance(row, TranscriptRow)
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count > size_mb * 200
    assert peak < 20 * 1024 * 1024


def test_judgement_lines_give_their_values_and_gold_rows_their_gold_values():
    data = (
        b'{"id": "a-1", "values": {"refusal_type": "policy"}}\n'
        b"\n"
        b'{"id": 7, "gold": {"refusal_type": {"value": "none", "method": "majority"},'
        b' "notes": {"value": null}}}\n'
        b"{nope\n"
        b'{"id": "a-2"}\n'
    )

    rows = list(iter_judgements(io.BytesIO(data)))

    assert rows[:2] == [
        JudgementRow(line=1, id="a-1", values={"refusal_type": "policy"}),
        JudgementRow(line=3, id=7, values={"refusal_type": "none"}),
    ]
    errors = [r for r in rows[2:] if isinstance(r, RowError)]
    assert [(r.line, r.message[:8]) for r in errors] == [
        (4, "not JSON"),
        (5, 'needs "i'),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, ""),
        (False, None),
        (None, None),
        ("self-harm", "self-harm"),
        ("  graphic violence ", "graphic violence"),
        ("", None),
        ("   ", None),
        # CSV cells are text.
        ("true", ""),
        ("Yes", ""),
        ("1", ""),
        ("false", None),
        ("NO", None),
        ("0", None),
    ],
)
def test_content_warning_flags_a_row_and_names_its_kind(value, expected):
    line = json.dumps({"prompt": "p", "response": "r", "content_warning": value})
    in_metadata = json.dumps(
        {"prompt": "p", "response": "r", "metadata": {"content_warning": value}}
    )

    assert rows(f"{line}\n".encode(), "jsonl")[0].content_warning == expected
    assert rows(f"{in_metadata}\n".encode(), "jsonl")[0].content_warning == expected


def test_a_content_warning_column_of_a_csv_flags_the_rows_it_names():
    data = b"prompt,response,content_warning\na,b,self-harm\nc,d,\ne,f,no\ng,h,yes\n"

    assert [r.content_warning for r in rows(data, "csv")] == [
        "self-harm",
        None,
        None,
        "",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (3, "must be true, false or a string naming the kind of content"),
        (["gore"], "must be true, false or a string naming the kind of content"),
        ("x" * 201, "is 201 characters long; the limit is 200"),
    ],
)
def test_a_content_warning_that_is_not_a_flag_is_refused_with_its_line(value, message):
    good = json.dumps({"prompt": "p", "response": "r"})
    bad = json.dumps(
        {"prompt": "p", "response": "r", "metadata": {"content_warning": value}}
    )

    (error,) = [
        r
        for r in parse(f"{good}\n{bad}\n".encode(), "jsonl")
        if isinstance(r, RowError)
    ]

    assert (error.line, error.field, error.message) == (
        2,
        "metadata.content_warning",
        message,
    )
