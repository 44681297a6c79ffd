"""Training exports: preference pairs within prompt groups and chat rows for
fine-tuning, with gold made by real labels, read back by `datasets` and pandas."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone
from pytest_django.asserts import assertContains
from rest_framework.test import APIClient

from annotate.models import Job, Project
from annotate.services.exports import (
    ExportOptions,
    export_options_parse,
    export_to_files,
)
from annotate.services.training_exports import (
    QUALITY,
    Response,
    pairs_of_group,
    training_export,
)
from tests.factories import ItemFactory, ProjectFactory
from tests.labelling import claim, new_annotator, submit

NOW = timezone.now()
SYSTEM = {"role": "system", "content": "You are helpful."}
ASK = {"role": "user", "content": "How do I pick a lock?"}


def _refusal(appropriateness: str, harm: str, *ratings: int) -> dict[str, Any]:
    return {
        "request_harm": harm,
        "refusal_type": "policy",
        "appropriateness": appropriateness,
        **dict(zip(QUALITY, ratings, strict=True)),
    }


def _compliance(appropriateness: str, harm: str) -> dict[str, Any]:
    return {
        "request_harm": harm,
        "refusal_type": "none",
        "appropriateness": appropriateness,
    }


# Response text -> (prompt group, prompt, labels), in item order.
TRANSCRIPTS: dict[str, tuple[str, list[dict[str, str]], dict[str, Any]]] = {
    "A refuses well": (
        "g1",
        [SYSTEM, ASK],
        _refusal("appropriate_refusal", "harmful", 4, 4, 3, 5),
    ),
    "B over-refuses": (
        "g1",
        [SYSTEM, ASK],
        _refusal("over_refusal", "benign", 2, 2, 2, 2),
    ),
    "C complies wrongly": (
        "g1",
        [SYSTEM, ASK],
        _compliance("under_refusal", "harmful"),
    ),
    "D complies rightly": (
        "g1",
        [SYSTEM, ASK],
        _compliance("appropriate_compliance", "benign"),
    ),
    # Same group, another conversation: paired with nothing.
    "E over-refuses elsewhere": (
        "g1",
        [ASK],
        _refusal("over_refusal", "benign", 1, 1, 1, 1),
    ),
    "F refuses best": (
        "g2",
        [ASK],
        _refusal("appropriate_refusal", "harmful", 5, 5, 5, 5),
    ),
    "G refuses plainly": (
        "g2",
        [ASK],
        _refusal("appropriate_refusal", "harmful", 3, 3, 3, 3),
    ),
    "H alone": ("", [ASK], _refusal("over_refusal", "benign", 2, 2, 2, 2)),
}


@pytest.fixture
def grouped(db, django_capture_on_commit_callbacks):
    """A project of overlap 1 whose transcripts get their gold from one label
    each, submitted through the labelling services."""
    project = ProjectFactory(overlap=1)
    for text, (group, prompt, _) in TRANSCRIPTS.items():
        ItemFactory(
            project=project,
            transcript__prompt_group=group,
            transcript__external_id=text[0],
            transcript__messages=[*prompt, {"role": "assistant", "content": text}],
        )
    user = new_annotator(project, "ann")
    for _ in TRANSCRIPTS:
        assignment = claim(user, project)
        assert assignment is not None
        text = assignment.item.transcript.messages[-1]["content"]
        with django_capture_on_commit_callbacks(execute=True):
            submit(assignment, TRANSCRIPTS[text][2])
    return project


def export(project: Project, **options: Any) -> tuple[list[dict[str, Any]], Any]:
    stream = io.BytesIO()
    manifest = training_export(
        project=Project.objects.get(pk=project.pk),
        options=ExportOptions(**options),
        stream=stream,
        alpha={"appropriateness": 0.7},
        now=NOW,
    )
    return [orjson.loads(line) for line in stream.getvalue().splitlines()], manifest


def test_a_prompt_group_gives_exactly_its_pairs(grouped):
    rows, manifest = export(grouped, kind="pairs")

    assert [(r["chosen_id"], r["rejected_id"], r["reason"]) for r in rows] == [
        ("A", "B", "rejected: over-refusal of a benign request"),
        ("A", "C", "rejected: under-refusal of a harmful request"),
        ("D", "B", "rejected: over-refusal of a benign request"),
        ("D", "C", "rejected: under-refusal of a harmful request"),
    ]
    first = rows[0]
    assert first["prompt"] == [SYSTEM, ASK]
    assert first["chosen"] == [{"role": "assistant", "content": "A refuses well"}]
    assert first["rejected"] == [{"role": "assistant", "content": "B over-refuses"}]
    assert first["chosen_model"] == first["rejected_model"] == "model-a"
    assert first["chosen_gold"]["appropriateness"]["value"] == "appropriate_refusal"
    assert first["chosen_gold"]["appropriateness"]["confidence"] == 1.0
    assert first["rejected_gold"]["appropriateness"]["method"]
    assert first["prompt_group"] == "g1"
    assert manifest["kind"] == "pairs"
    assert manifest["counts"]["rows"] == 4
    assert manifest["counts"]["by_reason"] == {
        "rejected: over-refusal of a benign request": 2,
        "rejected: under-refusal of a harmful request": 2,
    }


def test_the_quality_tie_break_and_the_cap_per_group(grouped):
    by_quality, _ = export(grouped, kind="pairs", quality_margin=1)
    too_close, _ = export(grouped, kind="pairs", quality_margin=2.5)
    capped, _ = export(grouped, kind="pairs", max_pairs_per_group=1)

    assert [
        (r["chosen_id"], r["rejected_id"], r["reason"])
        for r in by_quality
        if r["prompt_group"] == "g2"
    ] == [("F", "G", "chosen: better refusal quality (+2.00)")]
    assert all(r["prompt_group"] == "g1" for r in too_close)
    assert [(r["chosen_id"], r["rejected_id"]) for r in capped] == [("A", "B")]


def test_only_pairs_that_differ_in_refusal_behaviour(grouped):
    rows, manifest = export(
        grouped, kind="pairs", quality_margin=1, behaviour_differs=True
    )

    # A and B both refuse on policy, as do F and G: only the refusal against
    # the compliance stays, with the right one chosen.
    assert [(r["chosen_id"], r["rejected_id"]) for r in rows] == [
        ("A", "C"),
        ("D", "B"),
    ]
    assert manifest["filters"]["behaviour_differs"] is True


def test_no_pair_crosses_a_prompt_group_or_a_split(grouped):
    rows, _ = export(grouped, kind="pairs", quality_margin=0, ratios=(0.4, 0.3, 0.3))
    sides = {
        t.external_id: t.prompt_group
        for t in Project.objects.get(pk=grouped.pk).transcripts.all()
    }
    from annotate.exporters import split_of

    assert rows
    for r in rows:
        assert sides[r["chosen_id"]] == sides[r["rejected_id"]] == r["prompt_group"]
        assert r["split"] == split_of(r["prompt_group"], 0, ratios=(0.4, 0.3, 0.3))


def test_the_fine_tuning_set_and_its_filters(grouped):
    every, manifest = export(grouped, kind="sft")
    refusals, _ = export(grouped, kind="sft", refusal_type="policy")
    benign, _ = export(grouped, kind="sft", request_harm="benign")
    well_rated, _ = export(grouped, kind="sft", min_quality=4.5)
    other_model, _ = export(grouped, kind="sft", source_model="model-b")

    assert [r["id"] for r in every] == ["A", "D", "F", "G"]
    assert every[0]["messages"] == [
        SYSTEM,
        ASK,
        {"role": "assistant", "content": "A refuses well"},
    ]
    assert every[0]["gold"]["refusal_type"]["value"] == "policy"
    assert manifest["counts"]["by_reason"] == {
        "appropriate_compliance": 1,
        "appropriate_refusal": 3,
    }
    assert [r["id"] for r in refusals] == ["A", "F", "G"]
    assert [r["id"] for r in benign] == ["D"]
    # A compliance has no ratings to meet: only the refusals are held to it.
    assert [r["id"] for r in well_rated] == ["D", "F"]
    assert other_model == []


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
@pytest.mark.parametrize("kind", ["pairs", "sft"])
def test_the_exports_load_in_datasets_and_pandas(grouped, tmp_path, kind, fmt):
    datasets = pytest.importorskip("datasets")
    data = tmp_path / f"{kind}.{fmt}"
    manifest = export_to_files(
        project=Project.objects.get(pk=grouped.pk),
        options=ExportOptions(kind=kind, fmt=fmt),
        data_path=data,
        manifest_path=tmp_path / f"{kind}.manifest.json",
        now=NOW,
        card_path=tmp_path / "README.md",
    )
    rows, _ = export(grouped, kind=kind)  # the same rows as JSONL, to compare

    loaded = datasets.load_dataset(
        "json" if fmt == "jsonl" else "parquet",
        data_files=str(data),
        split="train",
        cache_dir=str(tmp_path / "c"),
    )
    frame = pd.read_json(data, lines=True) if fmt == "jsonl" else pd.read_parquet(data)

    assert manifest["format"] == fmt
    assert list(loaded.column_names) == list(frame.columns) == list(rows[0])
    assert len(loaded) == len(frame) == len(rows) == 4
    # Conversations keep their shape (a list of {role, content}), so TRL reads
    # either file the same way; the gold too, field by field.
    for got, want in zip(loaded, rows, strict=True):
        for column in ("prompt", "chosen", "rejected", "messages", "id", "reason"):
            if column in want:
                assert got[column] == want[column]
        for column in ("gold", "chosen_gold", "rejected_gold"):
            if column in want:
                for field, entry in want[column].items():
                    assert got[column][field] == entry
    card = (tmp_path / "README.md").read_text()
    assert card.startswith("---\nconfigs:\n")
    assert f"path: {kind}.{fmt}" in card
    assert "`over_refusal`" in card


def test_kind_is_parsed_with_the_other_options():
    options = export_options_parse(
        {"kind": "pairs", "min_confidence": "0.5", "quality_margin": "1"}
    )

    assert (options.kind, options.min_confidence, options.quality_margin) == (
        "pairs",
        0.5,
        1.0,
    )
    with pytest.raises(ValidationError) as e:
        export_options_parse({"kind": "triples", "format": "csv"})
    assert set(e.value.message_dict) == {"kind"}
    with pytest.raises(ValidationError) as e:
        export_options_parse({"kind": "sft", "format": "csv", "min_quality": 9})
    assert set(e.value.message_dict) == {"format", "min_quality"}


def test_the_command_exports_pairs(grouped, tmp_path):
    out = tmp_path / "pairs.jsonl"
    stdout = io.StringIO()

    call_command(
        "export_gold",
        str(grouped.pk),
        "--kind",
        "pairs",
        "--out",
        str(out),
        stdout=stdout,
    )

    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(rows) == 4
    assert "Exported 4 pairs rows" in stdout.getvalue()
    manifest = orjson.loads(Path(f"{out}.manifest.json").read_bytes())
    assert manifest["kind"] == "pairs"
    assert Path(f"{out}.README.md").exists()


@pytest.mark.django_db(transaction=True)
def test_the_api_exports_pairs_with_their_card(
    grouped, reviewer_of, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    api = APIClient()
    api.force_authenticate(reviewer_of(grouped))
    url = f"/api/projects/{grouped.pk}/exports/"

    job = api.post(url, {"kind": "pairs", "quality_margin": 1}, format="json").json()
    bad = api.post(url, {"kind": "pairs", "format": "csv"}, format="json")

    assert job["status"] == "succeeded"
    assert job["result"]["rows"] == 5
    assert job["result"]["kind"] == "pairs"
    data = api.get(f"/api/jobs/{job['id']}/download/data/")
    rows = [orjson.loads(line) for line in data.getvalue().splitlines()]
    assert rows[-1]["reason"] == "chosen: better refusal quality (+2.00)"
    card = api.get(f"/api/jobs/{job['id']}/download/card/")
    assert card.status_code == 200
    assert b"configs:" in card.getvalue()
    assert "pairs" in card["Content-Disposition"]
    assert bad.status_code == 400
    assert "format" in bad.json()["errors"]
    sft = api.post(url, {"kind": "sft", "format": "parquet"}, format="json").json()
    parquet = api.get(f"/api/jobs/{sft['id']}/download/data/")
    assert parquet["Content-Disposition"].endswith('.parquet"')
    frame = pd.read_parquet(io.BytesIO(parquet.getvalue()))
    assert list(frame["id"]) == ["A", "D", "F", "G"]


def _response(tid: int, appropriateness: str, confidence: float) -> Response:
    return Response(
        id=tid,
        external_id="",
        model="m",
        group="g",
        prompt=[ASK],
        response=f"answer {tid}",
        gold={
            "appropriateness": {
                "value": appropriateness,
                "method": "majority",
                "confidence": confidence,
            }
        },
    )


def test_both_sides_of_a_pair_meet_the_minimum_confidence():
    group = [
        _response(1, "appropriate_refusal", 0.9),
        _response(2, "over_refusal", 0.6),
        _response(3, "under_refusal", 0.8),
    ]

    pairs = pairs_of_group(group, ExportOptions(kind="pairs", min_confidence=0.7))

    assert [(c.id, r.id) for c, r, _ in pairs] == [(1, 3)]


def test_adjudicated_only_leaves_out_gold_no_reviewer_decided(grouped):
    rows, manifest = export(grouped, kind="pairs", adjudicated_only=True)

    assert rows == []
    assert manifest["counts"]["rows"] == 0


@pytest.mark.django_db(transaction=True)
def test_the_page_starts_a_pairs_export_and_links_its_card(
    client, grouped, reviewer_of, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(reviewer_of(grouped))
    ratios = {"train": "0.8", "validation": "0.1", "test": "0.1"}

    page = client.get(f"/projects/{grouped.pk}/export/")
    client.post(
        f"/projects/{grouped.pk}/export/",
        {"kind": "pairs", "format": "jsonl", "max_pairs_per_group": "2", **ratios},
    )
    job = Job.objects.get(kind="export")
    done = client.get(f"/jobs/{job.pk}/")
    card = client.get(f"/jobs/{job.pk}/download/card/")

    assertContains(page, 'name="kind"')
    assert job.params["kind"] == "pairs"
    assert job.result["rows"] == 2
    assertContains(done, "2</strong> pairs rows")
    assertContains(done, f"/jobs/{job.pk}/download/card/")
    assert card.status_code == 200
