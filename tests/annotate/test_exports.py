"""Gold export from the database: every format's rows, filters, splits that
hold, a round trip back into a project, and one snapshot under concurrent writes."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import uuid
from datetime import timedelta

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from annotate.models import Annotation, Gold, Item, Project, Transcript
from annotate.services.exports import ExportOptions, export_options_parse, gold_export
from annotate.services.gold import decision_record
from annotate.services.imports import transcripts_import
from annotate.services.judges import judgements_import
from tests.factories import ItemFactory, ProjectFactory, UserFactory
from tests.labelling import labels

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def export(project, **options):
    stream = io.BytesIO()
    manifest = gold_export(
        project=Project.objects.get(pk=project.pk),
        options=ExportOptions(**options),
        stream=stream,
        alpha={"refusal_type": 0.5},
        now=NOW,
    )
    rows = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    return rows, manifest


@pytest.fixture
def gold_project(labelled):
    """Three items of overlap 2: agreed, tied, and agreed again; two prompt groups."""
    project = ProjectFactory(overlap=2)
    for group in ("pg-a", "pg-a", "pg-b"):
        ItemFactory(project=project, transcript__prompt_group=group)
    labelled(project, "policy", "policy")
    labelled(project, "policy", "scope")
    labelled(project, "capability", "capability")
    return project


def test_rows_carry_the_transcript_gold_and_split(gold_project):
    rows, manifest = export(gold_project, include_unresolved=True)

    assert len(rows) == 3
    first = rows[0]
    assert first["messages"][0]["role"] == "user"
    assert first["gold"]["refusal_type"] == {
        "value": "policy",
        "method": "unanimous",
        "confidence": 1.0,
    }
    assert rows[1]["gold"]["refusal_type"]["method"] == "unresolved"
    assert [r["key_resolved"] for r in rows] == [True, False, True]
    assert first["annotations_count"] == 2
    assert first["split"] in {"train", "validation", "test"}
    # Samples of one prompt share a split.
    assert rows[0]["split"] == rows[1]["split"]
    assert "annotations" not in first
    assert manifest["counts"]["rows"] == 3
    assert manifest["counts"]["by_method"]["refusal_type"]["unresolved"] == 1
    assert manifest["counts"]["key_resolved"] == 2
    assert manifest["counts"]["key_unresolved"] == 1
    assert "left_out_unresolved" not in manifest["counts"]
    assert manifest["filters"]["include_unresolved"] is True
    assert manifest["alpha"] == {"refusal_type": 0.5}
    assert manifest["label_set"]["name"] == "refusal-v1"


def test_items_whose_key_field_is_unresolved_are_left_out_and_counted(gold_project):
    rows, manifest = export(gold_project)

    tied = Item.objects.filter(project=gold_project).order_by("pk")[1]
    assert len(rows) == 2
    assert str(tied.transcript_id) not in {r["id"] for r in rows}
    assert all(r["key_resolved"] is True for r in rows)
    assert [r["gold"]["refusal_type"]["value"] for r in rows] == [
        "policy",
        "capability",
    ]
    counts = manifest["counts"]
    assert (counts["rows"], counts["key_resolved"], counts["key_unresolved"]) == (
        2,
        2,
        0,
    )
    assert counts["left_out_unresolved"] == 1
    assert "unresolved" not in counts["by_method"]["refusal_type"]
    assert manifest["filters"]["include_unresolved"] is False


def test_the_count_left_out_follows_the_other_filters(gold_project):
    _, none_of_the_model = export(gold_project, source_model="nobody")
    _, all_of_it = export(gold_project, min_agreement=0)
    _, agreed = export(gold_project, min_agreement=0.9)  # the tie disagrees

    assert none_of_the_model["counts"]["left_out_unresolved"] == 0
    assert all_of_it["counts"]["left_out_unresolved"] == 1
    assert agreed["counts"]["left_out_unresolved"] == 0


def test_a_tie_a_reviewer_decided_is_exported_and_not_counted_left_out(
    gold_project, reviewer
):
    tied = Item.objects.filter(project=gold_project).order_by("pk")[1]
    decision_record(
        item=Item.objects.select_related("project__label_set_version").get(pk=tied.pk),
        reviewer=reviewer,
        values=labels("scope"),
        reason="Scope.",
        now=NOW,
    )

    rows, manifest = export(gold_project)

    assert len(rows) == 3  # decided, so resolved
    assert manifest["counts"]["left_out_unresolved"] == 0


def test_export_options_keep_include_unresolved_through_a_job_and_parse_it():
    options = ExportOptions(include_unresolved=True, fmt="csv")

    assert ExportOptions.from_dict(options.as_dict()) == options
    assert ExportOptions.from_dict({}).include_unresolved is False
    assert export_options_parse({}).include_unresolved is False
    assert export_options_parse({"include_unresolved": True}).include_unresolved
    assert export_options_parse({"include_unresolved": "true"}).include_unresolved
    assert not export_options_parse({"include_unresolved": "false"}).include_unresolved


def test_the_command_leaves_unresolved_items_out_unless_asked(gold_project, tmp_path):
    out = tmp_path / "gold.jsonl"
    said = io.StringIO()

    call_command("export_gold", gold_project.name, "--out", str(out), stdout=said)
    default = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    call_command(
        "export_gold",
        gold_project.name,
        "--out",
        str(out),
        "--include-unresolved",
        stdout=io.StringIO(),
    )
    included = [orjson.loads(line) for line in out.read_bytes().splitlines()]

    assert [r["key_resolved"] for r in default] == [True, True]
    assert [r["key_resolved"] for r in included] == [True, False, True]
    assert "1 left out with the key field unresolved" in said.getvalue()


def test_raw_labels_come_pseudonymised(gold_project):
    rows, _ = export(gold_project, with_annotations=True, include_unresolved=True)

    names = {a["annotator"] for r in rows for a in r["annotations"]}
    assert len(names) == 6  # six annotators
    usernames = set(Annotation.objects.values_list("annotator__username", flat=True))
    assert not names & usernames
    assert all(len(r["annotations"]) == r["annotations_count"] for r in rows)


def test_filters_pick_the_rows(gold_project, reviewer):
    tied = Item.objects.filter(project=gold_project).order_by("pk")[1]
    decision_record(
        item=Item.objects.select_related("project__label_set_version").get(pk=tied.pk),
        reviewer=reviewer,
        values=labels("scope"),
        reason="Scope.",
        now=NOW,
    )

    adjudicated, _ = export(gold_project, adjudicated_only=True)
    agreed, _ = export(gold_project, min_agreement=0.9)
    nobody, manifest = export(gold_project, source_model="nobody")

    assert [r["gold"]["refusal_type"]["method"] for r in adjudicated] == ["adjudicated"]
    assert len(agreed) == 2  # the tied item's disagreement is above 0.1
    assert nobody == []
    assert manifest["counts"]["rows"] == 0


def test_the_split_stays_when_new_labels_arrive(gold_project, labelled):
    before, _ = export(gold_project, include_unresolved=True)
    ItemFactory(project=gold_project, transcript__prompt_group="pg-a")
    labelled(gold_project, "scope", "scope")

    after, _ = export(gold_project, include_unresolved=True)

    old = {r["id"]: r["split"] for r in before}
    assert {r["id"]: r["split"] for r in after if r["id"] in old} == old
    assert len(after) == 4


def test_the_jsonl_export_imports_back_into_a_new_project(gold_project):
    rows, _ = export(gold_project, include_unresolved=True)
    target = ProjectFactory(name="Round trip")

    summary = transcripts_import(
        now=timezone.now(),
        project=target,
        stream=io.BytesIO(b"".join(orjson.dumps(r) + b"\n" for r in rows)),
        filename="gold.jsonl",
    )

    assert summary.imported == 3
    original = Transcript.objects.filter(project=gold_project).order_by("pk")
    copied = Transcript.objects.filter(project=target).order_by("pk")
    assert [t.messages for t in copied] == [t.messages for t in original]
    assert [t.prompt_group for t in copied] == [t.prompt_group for t in original]


def test_an_export_with_no_gold_is_an_empty_file_and_a_manifest_of_zero(tmp_path):
    project = ProjectFactory(name="Empty")
    out = tmp_path / "gold.csv"

    call_command("export_gold", project.name, "--format", "csv", "--out", str(out))

    manifest = json.loads((tmp_path / "gold.csv.manifest.json").read_text())
    assert manifest["counts"]["rows"] == 0
    assert out.read_text().startswith("id,transcript_id")  # the header only
    assert len(out.read_text().splitlines()) == 1


def test_the_command_names_the_flag_of_each_bad_option(tmp_path):
    project = ProjectFactory(name="Flags")

    with pytest.raises(CommandError) as e:
        call_command(
            "export_gold",
            project.name,
            "--out",
            str(tmp_path / "gold.jsonl"),
            "--ratios",
            "0.5,0.5,0.5",
            "--since",
            "someday",
        )

    assert str(e.value) == (
        "--since: Enter a valid date.; "
        "--ratios: Train, validation and test must add up to 1."
    )
    assert not (tmp_path / "gold.jsonl").exists()


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_the_command_writes_every_format_with_a_manifest(gold_project, tmp_path, fmt):
    out = tmp_path / f"gold.{fmt}"

    call_command(
        "export_gold",
        gold_project.name,
        "--format",
        fmt,
        "--out",
        str(out),
        "--annotations",
        "--include-unresolved",
        "--ratios",
        "0.5,0.25,0.25",
    )

    manifest = json.loads((tmp_path / f"gold.{fmt}.manifest.json").read_text())
    assert manifest["counts"]["rows"] == 3
    assert manifest["counts"]["key_unresolved"] == 1
    assert manifest["format"] == fmt
    assert manifest["filters"]["ratios"] == [0.5, 0.25, 0.25]
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_export_is_one_snapshot_while_labels_keep_arriving():
    project = ProjectFactory(overlap=1)
    coder = UserFactory(username="writer")
    version = project.label_set_version
    items = [ItemFactory(project=project, slots_left=0) for _ in range(3000)]
    Annotation.objects.bulk_create(
        Annotation(
            item=i,
            annotator=coder,
            label_set_version=version,
            values=labels("policy"),
            client_uuid=uuid.uuid4(),
            created_at=NOW,
            updated_at=NOW,
        )
        for i in items
    )
    Item.objects.filter(project=project).update(annotations_count=1)
    Gold.objects.bulk_create(
        Gold(
            item=i,
            values={
                "refusal_type": {
                    "value": "policy",
                    "method": "unanimous",
                    "confidence": 1.0,
                }
            },
            key_resolved=True,
            updated_at=NOW,
        )
        for i in items
    )
    stop, enough = threading.Event(), threading.Event()
    written: list[int] = []

    def keep_labelling() -> None:
        # Another connection adds a second label (and its count) to each item
        # in turn, committing each, while the export runs.
        extra = UserFactory(username="late")
        try:
            for item in reversed(items):
                if stop.is_set():
                    return
                Annotation.objects.create(
                    item=item,
                    annotator=extra,
                    label_set_version=version,
                    values=labels("scope"),
                    created_at=NOW,
                    updated_at=NOW,
                )
                Item.objects.filter(pk=item.pk).update(annotations_count=2)
                written.append(item.pk)
                if len(written) == 50:
                    enough.set()
        finally:
            connection.close()

    class SlowStream(io.BytesIO):
        """Lets the writer thread commit some labels once the export has begun."""

        def write(self, data):
            if not writer.is_alive() and not written:
                writer.start()
                assert enough.wait(timeout=60)
            return super().write(data)

    writer = threading.Thread(target=keep_labelling)
    stream = SlowStream()
    gold_export(
        project=project,
        options=ExportOptions(with_annotations=True),
        stream=stream,
        alpha={},
        now=NOW + timedelta(seconds=1),
    )
    stop.set()
    writer.join()

    rows = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert len(written) >= 50  # labels did arrive during the export
    assert len(rows) == 3000
    # As of one moment: no row saw a label committed after it began, and each
    # row's count matches the labels exported with it.
    assert {r["annotations_count"] for r in rows} == {1}
    assert all(len(r["annotations"]) == 1 for r in rows)


def test_the_exported_gold_comes_into_a_new_project_as_a_judge(gold_project):
    rows, _ = export(gold_project, include_unresolved=True)
    target = ProjectFactory(name="Round trip with gold")
    data = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    transcripts_import(
        now=timezone.now(),
        project=target,
        stream=io.BytesIO(data),
        filename="gold.jsonl",
    )

    # A judgement needs every required field; the tied item has no gold
    # refusal_type, so only the resolved rows go in.
    agreed = b"".join(
        orjson.dumps(r) + b"\n" for r in rows if r["gold"]["refusal_type"]["value"]
    )
    summary = judgements_import(
        project=target, stream=io.BytesIO(agreed), judge="gold-v1", now=NOW
    )

    assert summary.stored == 2
    judged = Annotation.objects.filter(item__project=target, is_human=False)
    assert sorted(a.values["refusal_type"] for a in judged) == ["capability", "policy"]


def test_no_export_file_has_its_final_name_before_the_whole_export_is_written(
    gold_project, tmp_path, monkeypatch
):
    """A worker killed midway leaves `.part` files only, never a file that
    looks like a finished export."""
    from annotate.services import exports

    monkeypatch.setattr(exports, "PROGRESS_EVERY", 1)

    data, manifest, card = (
        tmp_path / "gold.jsonl",
        tmp_path / "manifest.json",
        tmp_path / "README.md",
    )
    seen: list[list[str]] = []

    def progress(n: int) -> None:
        seen.append(sorted(p.name for p in tmp_path.iterdir()))

    exports.export_to_files(
        project=Project.objects.get(pk=gold_project.pk),
        options=ExportOptions(include_unresolved=True),
        data_path=data,
        manifest_path=manifest,
        card_path=card,
        now=NOW,
        progress=progress,
    )

    assert seen
    assert all(names == ["gold.jsonl.part"] for names in seen)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "README.md",
        "gold.jsonl",
        "manifest.json",
    ]
