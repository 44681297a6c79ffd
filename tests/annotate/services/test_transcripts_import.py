from __future__ import annotations

import io
import json
from collections.abc import Mapping

import pytest
from django.utils import timezone

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
