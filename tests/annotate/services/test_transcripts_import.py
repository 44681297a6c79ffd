from __future__ import annotations

import importlib
import io
import json
from collections.abc import Mapping

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from annotate import importers
from annotate.models import Item, Transcript
from annotate.services.imports import IMPORT_BATCH, ImportRejected, transcripts_import
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def jsonl(*records: Mapping[str, object]) -> io.BytesIO:
    return io.BytesIO("".join(json.dumps(r) + "\n" for r in records).encode())


def record(n: int, model: str = "model-a") -> dict[str, object]:
    return {
        "id": f"r{n}",
        "model": model,
        "prompt": f"Prompt {n}?",
        "response": f"Reply {n}.",
    }


def run_import(project, stream, filename="t.jsonl", fmt=None):
    return transcripts_import(
        now=timezone.now(), project=project, stream=stream, filename=filename, fmt=fmt
    )


def test_import_creates_transcripts_items_and_counters(project):
    summary = run_import(project, jsonl(record(1), record(2), record(3, "model-b")))

    assert summary.imported == 3
    assert summary.duplicates == 0
    assert summary.by_model == {"model-a": 2, "model-b": 1}
    assert Transcript.objects.filter(project=project).count() == 3
    items = Item.objects.filter(project=project)
    assert {i.slots_left for i in items} == {project.overlap}
    project.refresh_from_db()
    assert project.items_total == 3


def test_import_maps_fields_onto_the_transcript(project):
    run_import(
        project,
        jsonl(
            {
                "id": "x-1",
                "model": "m",
                "dataset": "xstest",
                "prompt_group": "g1",
                "system": "Be brief.",
                "prompt": "Hi",
                "response": "Hello",
                "metadata": {"category": "general"},
            }
        ),
    )

    t = Transcript.objects.get(project=project)
    assert (t.external_id, t.source_model, t.dataset, t.prompt_group) == (
        "x-1",
        "m",
        "xstest",
        "g1",
    )
    assert t.messages[0] == {"role": "system", "content": "Be brief."}
    assert t.metadata["category"] == "general"


def test_duplicates_in_the_file_and_in_the_project_are_skipped_and_counted(project):
    run_import(project, jsonl(record(1)))
    summary = run_import(project, jsonl(record(1), record(2), record(2)))

    assert (summary.imported, summary.duplicates) == (1, 2)
    project.refresh_from_db()
    assert project.items_total == 2


def test_the_same_content_may_live_in_two_projects(project):
    other = ProjectFactory()
    run_import(project, jsonl(record(1)))

    assert run_import(other, jsonl(record(1))).imported == 1


def test_one_bad_row_rejects_the_whole_file_naming_its_line(project):
    lines = [json.dumps(record(n)) for n in range(10)]
    lines[6] = '{"prompt": "broken'
    stream = io.BytesIO(("\n".join(lines) + "\n").encode())

    with pytest.raises(ImportRejected) as exc:
        run_import(project, stream)

    assert exc.value.total == 1
    assert "line 7" in exc.value.errors[0]
    assert not Transcript.objects.exists()
    project.refresh_from_db()
    assert project.items_total == 0


def test_every_error_is_listed_up_to_fifty(project):
    bad = [{"prompt": "p", "response": "r", "messages": []} for _ in range(60)]

    with pytest.raises(ImportRejected) as exc:
        run_import(project, jsonl(*bad))

    assert exc.value.total == 60
    assert len(exc.value.errors) == 50
    assert "and 10 more" in exc.value.message


def test_an_unknown_role_is_refused_with_its_line(project):
    good = record(1)
    bad = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "tool", "content": "x"},
        ]
    }

    with pytest.raises(ImportRejected) as exc:
        run_import(project, jsonl(good, bad))

    assert "line 2" in exc.value.errors[0]
    assert "tool" in exc.value.errors[0]
    assert not Transcript.objects.exists()


def test_a_csv_without_a_response_column_is_refused_naming_it(project):
    stream = io.BytesIO(b"prompt,model\nhello,m\n")

    with pytest.raises(ImportRejected) as exc:
        run_import(project, stream, filename="t.csv")

    assert "response" in exc.value.errors[0]


def test_an_empty_file_is_refused_with_a_clear_message(project):
    with pytest.raises(ImportRejected) as exc:
        run_import(project, io.BytesIO(b""))

    assert exc.value.errors == ["The file is empty."]


def test_a_file_over_the_size_limit_is_refused_before_reading(project, settings):
    settings.IMPORT_MAX_BYTES = 100

    with pytest.raises(ImportRejected) as exc:
        run_import(project, jsonl(*(record(n) for n in range(20))))

    assert "IMPORT_MAX_BYTES" in exc.value.errors[0]


def test_a_large_import_is_written_in_batches(project):
    records = [record(n) for n in range(IMPORT_BATCH * 2 + 7)]

    summary = run_import(project, jsonl(*records))

    assert summary.imported == len(records)
    assert Item.objects.filter(project=project).count() == len(records)


def test_rows_with_a_content_warning_import_as_flagged_items(project, monkeypatch):
    # Small batches, so the flags span several on either writer.
    monkeypatch.setattr("annotate.services.imports.IMPORT_BATCH", 2)
    warned = [
        {**record(1), "content_warning": "self-harm"},
        record(2),
        {**record(3), "metadata": {"content_warning": True}},
        {**record(4), "content_warning": False},
        {**record(5), "content_warning": "graphic violence"},
    ]
    run_import(project, jsonl(record(0), *warned))  # r0 comes first: its own batch
    run_import(project, jsonl(record(1), {**record(6), "content_warning": "gore"}))

    items = Item.objects.filter(project=project).select_related("transcript")
    flags = {
        i.transcript.external_id: (i.distressing, i.content_warning) for i in items
    }
    assert flags == {
        "r0": (False, ""),
        "r1": (True, "self-harm"),
        "r2": (False, ""),
        "r3": (True, ""),
        "r4": (False, ""),
        "r5": (True, "graphic violence"),
        "r6": (True, "gore"),  # the second file's; its duplicate r1 is untouched
    }
    # The metadata keeps the key as imported.
    assert Transcript.objects.get(external_id="r1").metadata == {
        "content_warning": "self-harm"
    }


def test_csv_and_hh_formats_import(project):
    csv = io.BytesIO(b"prompt,response,model,topic\nWhy?,Because.,m1,general\n")
    hh = io.BytesIO(b"\n\nHuman: Hello there\n\nAssistant: Hi! How can I help?\n")

    assert run_import(project, csv, filename="a.csv").imported == 1
    assert run_import(project, hh, filename="b.txt").imported == 1
    assert Transcript.objects.get(project=project, source_model="m1").metadata == {
        "topic": "general"
    }


def test_transcripts_keep_file_order_and_exact_content(project):
    evil = {
        "prompt": "<script>alert(1)</script>\ttab \\ back",
        "response": "é ✓ \u2028",
        "metadata": {"k": [1, 2]},
    }
    run_import(project, jsonl(record(1), evil, record(2)))

    transcripts = list(Transcript.objects.filter(project=project).order_by("pk"))
    assert [t.external_id for t in transcripts] == ["r1", "", "r2"]
    assert transcripts[1].messages[0]["content"] == evil["prompt"]
    assert transcripts[1].messages[1]["content"] == evil["response"]
    assert transcripts[1].metadata == {"k": [1, 2]}
    assert {i.pk for i in Item.objects.filter(project=project)} == {
        t.pk for t in transcripts
    }


def test_a_rejected_import_leaves_the_connection_usable(project):
    with pytest.raises(ImportRejected):
        run_import(project, jsonl(record(1), {"prompt": "only a prompt"}))

    assert run_import(project, jsonl(record(1))).imported == 1


# What counts as the same item.

SAME = {"prompt": "Same question?", "response": "Same answer."}


def test_distinct_ids_with_the_same_text_are_distinct_items(project):
    summary = run_import(project, jsonl({**SAME, "id": "a"}, {**SAME, "id": "b"}))

    assert (summary.imported, summary.duplicates) == (2, 0)
    assert summary.duplicate_rows == []
    assert Item.objects.filter(project=project).count() == 2


def test_the_summary_lists_each_duplicate_and_why_it_was_skipped(project):
    run_import(project, jsonl(record(1)))
    lines: list[Mapping[str, object]] = [
        record(2),
        {**record(3), "id": "r2"},  # the id repeats, whatever the text
        SAME,
        SAME,
        record(1),
        {**SAME, "id": "s"},  # an id makes it another item than line 3
    ]

    summary = run_import(project, jsonl(*lines))

    assert (summary.imported, summary.duplicates) == (3, 3)
    assert summary.duplicate_rows == [
        {"line": 2, "id": "r2", "reason": "repeated id r2 (line 1)"},
        {"line": 4, "id": None, "reason": "same content as line 3"},
        {"line": 5, "id": "r1", "reason": "already in the project"},
    ]
    assert summary.as_dict()["duplicate_rows"] == summary.duplicate_rows


def test_duplicates_are_found_across_batches_and_listed_in_file_order(project):
    run_import(project, jsonl(record(IMPORT_BATCH + 3)))
    records = [record(n) for n in range(IMPORT_BATCH + 5)] + [record(2)]

    summary = run_import(project, jsonl(*records))

    assert (summary.imported, summary.duplicates) == (IMPORT_BATCH + 4, 2)
    assert summary.duplicate_rows == [
        {
            "line": IMPORT_BATCH + 4,
            "id": f"r{IMPORT_BATCH + 3}",
            "reason": "already in the project",
        },
        {"line": IMPORT_BATCH + 6, "id": "r2", "reason": "repeated id r2 (line 3)"},
    ]


def test_only_the_first_fifty_duplicates_are_listed(project):
    summary = run_import(project, jsonl(*[record(1)] * 61))

    assert summary.duplicates == 60
    assert len(summary.duplicate_rows) == 50
    assert summary.duplicate_rows[-1]["line"] == 51


def test_an_hh_pair_with_an_id_is_two_items_with_hidden_variants(project):
    pair = {
        "id": "hh-1",
        "chosen": "\n\nHuman: Pick a lock?\n\nAssistant: I can't help.",
        "rejected": "\n\nHuman: Pick a lock?\n\nAssistant: Get a tension wrench.",
    }

    assert run_import(project, jsonl(pair)).imported == 2
    again = run_import(project, jsonl(pair))

    assert (again.imported, again.duplicates) == (0, 2)
    transcripts = Transcript.objects.filter(project=project).order_by("pk")
    assert [t.metadata for t in transcripts] == [
        {"_hh_variant": "chosen"},
        {"_hh_variant": "rejected"},
    ]
    assert [t.annotator_metadata for t in transcripts] == [{}, {}]


def test_metadata_nested_too_deeply_is_refused_with_its_line(project):
    deep: object = 1
    for _ in range(300):
        deep = [deep]

    with pytest.raises(ImportRejected) as exc:
        run_import(project, jsonl(record(1), {**record(2), "metadata": {"a": deep}}))

    assert exc.value.errors[0].startswith("line 2, metadata.a[0][0]"), exc.value.errors
    assert exc.value.errors[0].endswith(": nested deeper than 64 levels")
    assert not Transcript.objects.exists()


@pytest.mark.parametrize(
    "value", ["1" + "0" * 400, "1e400", '"a\\u0000b"'], ids=["int", "inf", "nul"]
)
def test_metadata_the_database_cannot_store_is_refused_with_its_line(project, value):
    line = '{"prompt": "p", "response": "r", "metadata": {"v": ' + value + "}}"
    stream = io.BytesIO((json.dumps(record(1)) + "\n" + line + "\n").encode())

    with pytest.raises(ImportRejected) as exc:
        run_import(project, stream)

    assert exc.value.errors[0].startswith("line 2, metadata.v: ")
    assert not Transcript.objects.exists()


# Migration 0010: rows imported before ids counted get their id keys.


def rekeying():
    return importlib.import_module("annotate.migrations.0010_transcript_identity_keys")


def old_style_rows(project, *records):
    """Transcripts as the import stored them before: every one keyed by content."""
    for row in importers.iter_rows(jsonl(*records), fmt="jsonl"):
        assert isinstance(row, importers.TranscriptRow)
        Transcript.objects.create(
            project=project,
            messages_json=row.messages_json,
            source_model=row.source_model,
            external_id=row.external_id,
            metadata={
                ("hh_variant" if k == "_hh_variant" else k): v
                for k, v in row.metadata.items()
            },
            content_hash=importers.identity_key(
                external_id="",
                source_model=row.source_model,
                variant="",
                messages_json=row.messages_json,
            ),
            created_at=timezone.now(),
        )
    return dict(
        Transcript.objects.filter(project=project).values_list("pk", "content_hash")
    )


PAIR = {
    "id": "p",
    "chosen": "\n\nHuman: Pick a lock?\n\nAssistant: No.",
    "rejected": "\n\nHuman: Pick a lock?\n\nAssistant: Sure.",
}


def test_migration_0010_gives_rows_with_an_id_their_id_key_and_back(project):
    records: list[Mapping[str, object]] = [
        {**SAME, "id": "a"},
        record(1),
        {"prompt": "Other?", "response": "Other.", "id": "a"},  # two items before
        record(3) | {"id": ""},
        PAIR,
    ]
    before = old_style_rows(project, *records)

    rekeying().forwards(django_apps, None)

    after = dict(
        Transcript.objects.filter(project=project).values_list("pk", "content_hash")
    )
    first_a, r1, second_a, no_id, chosen, rejected = sorted(after)
    assert after[no_id] == before[no_id]
    assert after[second_a] == before[second_a]  # its id key is the first's
    expected = [
        ("a", "", ""),
        ("r1", "model-a", ""),
        ("p", "", "chosen"),
        ("p", "", "rejected"),
    ]
    assert [after[pk] for pk in (first_a, r1, chosen, rejected)] == [
        importers.identity_key(
            external_id=i, source_model=m, variant=v, messages_json=""
        )
        for i, m, v in expected
    ]
    again = run_import(project, jsonl(*records))
    assert (again.imported, again.duplicates) == (0, 6)
    assert {d["reason"] for d in again.duplicate_rows} == {"already in the project"}

    rekeying().backwards(django_apps, None)

    assert (
        dict(
            Transcript.objects.filter(project=project).values_list("pk", "content_hash")
        )
        == before
    )


def test_migration_0010_backwards_keeps_the_id_key_where_the_content_key_is_taken(
    project,
):
    run_import(project, jsonl({**SAME, "id": "a"}, {**SAME, "id": "b"}))
    keys = list(
        Transcript.objects.filter(project=project)
        .order_by("pk")
        .values_list("content_hash", flat=True)
    )

    rekeying().backwards(django_apps, None)

    content = importers.identity_key(
        external_id="",
        source_model="",
        variant="",
        messages_json=Transcript.objects.filter(project=project)
        .order_by("pk")[0]
        .messages_json,
    )
    assert list(
        Transcript.objects.filter(project=project)
        .order_by("pk")
        .values_list("content_hash", flat=True)
    ) == [content, keys[1]]
    rekeying().forwards(django_apps, None)
    assert (
        list(
            Transcript.objects.filter(project=project)
            .order_by("pk")
            .values_list("content_hash", flat=True)
        )
        == keys
    )
