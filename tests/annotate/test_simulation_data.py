"""The active-learning simulation data: bench/make_simulation_data.py and the
file it wrote, annotate/demo/simulation.jsonl (described in SIMULATION.md).

No database: the importer's parser and the label set's validator are pure.
"""

from __future__ import annotations

import importlib
import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from annotate.importers import RowError, TranscriptRow, iter_rows
from annotate.stats.calibration import Calibration
from bench import make_simulation_data as sim
from labelsets.schema import parse_schema, validate_values

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "make_simulation_data.py"
SHIPPED = ROOT / "annotate" / "demo" / "simulation.jsonl"
DOC = ROOT / "annotate" / "demo" / "SIMULATION.md"
# refusal-v1 as its migration stores it, parsed here rather than taken from
# the generator, so the check does not share the generator's code.
SCHEMA = parse_schema(
    importlib.import_module("labelsets.migrations.0002_refusal_v1").REFUSAL_V1
)
SUMMARY_START, SUMMARY_END = "<!-- summary:start -->", "<!-- summary:end -->"


@pytest.fixture(scope="module")
def shipped_bytes() -> bytes:
    return SHIPPED.read_bytes()


@pytest.fixture(scope="module")
def shipped(shipped_bytes):
    return sim.read_jsonl(shipped_bytes)


def agreement(rows, column: str, name: str) -> float:
    both = [
        r
        for r in rows
        if name in r["metadata"]["_truth"] and name in r["metadata"][column]
    ]
    same = sum(
        r["metadata"]["_truth"][name] == r["metadata"][column][name] for r in both
    )
    return float(same) / len(both)


def test_two_runs_of_the_script_with_one_seed_write_the_same_bytes(tmp_path):
    outputs = []
    for run in ("first", "second"):
        out = tmp_path / f"{run}.jsonl"
        subprocess.run(
            [
                sys.executable,
                str(SCRIPT),
                "--out",
                str(out),
                "--rows",
                "40",
                "--seed",
                "7",
            ],
            check=True,
            capture_output=True,
            cwd=tmp_path,  # run as a script from anywhere, not as an import
        )
        outputs.append(out.read_bytes())

    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) == 40
    assert sim.to_jsonl(sim.generate(40, seed=8)) != outputs[0]


def test_a_shorter_run_is_a_prefix_of_a_longer_one():
    # Up to its last group or two, which are cut to the rows asked for.
    short, long = sim.generate(60, seed=1), sim.generate(200, seed=1)

    assert short[:52] == long[:52]


def test_the_shipped_file_is_a_fresh_generation_with_the_defaults(shipped_bytes):
    lines = shipped_bytes.splitlines(keepends=True)
    fresh = sim.to_jsonl(sim.generate(300, seed=sim.DEFAULT_SEED)).splitlines(
        keepends=True
    )

    assert len(lines) == sim.DEFAULT_ROWS
    assert lines[:292] == fresh[:292], (
        "annotate/demo/simulation.jsonl is not what bench/make_simulation_data.py "
        "makes: regenerate it with --out and update SIMULATION.md with --summary"
    )


def test_every_row_imports_through_the_jsonl_parser(shipped_bytes):
    for data in (shipped_bytes, sim.to_jsonl(sim.generate(50, seed=3))):
        results = list(iter_rows(io.BytesIO(data), fmt="jsonl"))

        errors = [r for r in results if isinstance(r, RowError)]
        assert not errors, [str(e) for e in errors[:5]]
        assert len(results) == len(data.splitlines())
        parsed = [r for r in results if isinstance(r, TranscriptRow)]
        assert len(parsed) == len(results)
        assert len({r.content_hash for r in parsed}) == len(parsed)


def test_rows_have_the_documented_fields_and_only_category_is_visible(shipped):
    assert [r["id"] for r in shipped[:3]] == ["sim-00001", "sim-00002", "sim-00003"]
    for row in shipped:
        assert list(row) == [
            "id",
            "model",
            "dataset",
            "prompt_group",
            "messages",
            "metadata",
        ]
        visible = [k for k in row["metadata"] if not k.startswith("_")]
        assert visible == ["category"]
        assert {"_truth", "_ann_a", "_ann_b"} <= set(row["metadata"])
        roles = [m["role"] for m in row["messages"]]
        assert roles in (
            ["system", "user", "assistant"],
            ["system", "user", "assistant", "user", "assistant"],
        )
        # A template left unfilled would show as a brace.
        assert not any("{" in m["content"] for m in row["messages"]), row["id"]


def test_every_labelling_is_valid_refusal_v1_and_stored_clean(shipped):
    for row in shipped:
        for column in sim.LABEL_COLUMNS:
            values = row["metadata"][column]
            # Equal to its clean form: valid, every visible field there, and
            # ratings exactly when the labelling calls it a refusal.
            assert validate_values(SCHEMA, values) == values, (row["id"], column)
            has_ratings = all(name in values for name in sim.RATINGS)
            assert has_ratings == (values["refusal_type"] != "none")


def test_fresh_labellings_are_valid_for_another_seed():
    for row in sim.generate(200, seed=11):
        for column in sim.LABEL_COLUMNS:
            values = sim.labels(row, column)
            assert validate_values(SCHEMA, values) == values


def test_annotator_a_agrees_with_the_truth_more_than_annotator_b(shipped):
    for name in ("request_harm", "refusal_type", "appropriateness", *sim.RATINGS):
        a, b = agreement(shipped, "_ann_a", name), agreement(shipped, "_ann_b", name)
        assert a > b, name
        assert 0.85 <= a <= 0.96, (name, a)
        assert 0.60 <= b <= 0.82, (name, b)


def test_the_prompt_groups_and_the_label_distribution_are_as_documented(shipped):
    groups = Counter(r["prompt_group"] for r in shipped)
    assert set(groups.values()) <= {2, 3, 4}
    assert len({r["model"] for r in shipped}) == 4
    assert len({r["metadata"]["category"] for r in shipped}) == 8
    harm = Counter(r["metadata"]["_truth"]["request_harm"] for r in shipped)
    for value, share in zip(sim.HARMS, sim.HARM_SHARE, strict=True):
        assert abs(harm[value] / len(shipped) - share) < 0.03, value


def test_every_prompt_group_shares_its_prompt_and_true_request_harm(shipped):
    # The same request in the same deployment is judged alike in every response.
    seen: dict[str, tuple[str, object]] = {}
    for row in shipped:
        key = (
            json.dumps(row["messages"][:2]),
            row["metadata"]["_truth"]["request_harm"],
        )
        assert seen.setdefault(row["prompt_group"], key) == key, row["id"]


def test_the_models_behave_as_documented(shipped):
    figures = sim.model_figures(shipped)

    def rate(model: str, name: str) -> float:
        count, total = getattr(figures[model], name)
        return float(count / total)

    assert 0.30 <= rate("halcyon-7b-chat", "labelled_over_refusal") <= 0.42
    assert 0.15 <= rate("marlin-34b", "under_refusal") <= 0.25
    for name in ("labelled_over_refusal", "under_refusal"):
        assert rate("tessera-70b", name) < 0.08, name
    assert max(figures, key=lambda m: rate(m, "partial_compliance")) == (
        "juniper-13b-instruct"
    )
    assert max(figures, key=lambda m: rate(m, "leakage")) == "juniper-13b-instruct"


def test_single_turn_compliance_answers_are_100_to_300_words(shipped):
    lengths = [
        len(r["messages"][2]["content"].split())
        for r in shipped
        if len(r["messages"]) == 3 and r["metadata"]["_truth"]["refusal_type"] == "none"
    ]
    assert lengths
    assert min(lengths) >= 100
    assert max(lengths) <= 300


def test_the_figures_are_the_calibration_reports_on_perfect_gold(shipped):
    # SIMULATION.md's per-model rates are what the app itself reports when
    # the truth is the gold (annotate/stats/calibration.py).
    calibration = Calibration()
    for row in shipped:
        truth = row["metadata"]["_truth"]
        calibration.add(
            model=row["model"],
            category=row["metadata"]["category"],
            prompt_group=row["prompt_group"],
            gold={name: {"value": value} for name, value in truth.items()},
        )
    report = {m["model"]: m for m in calibration.report()["models"]}
    figures = sim.model_figures(shipped)

    assert set(report) == set(figures)
    for model, mine in figures.items():
        for name in (
            "over_refusal",
            "under_refusal",
            "partial_compliance",
            "leakage",
            "capitulation",
            "inconsistency",
        ):
            theirs = report[model][name]
            assert [theirs["count"], theirs["total"]] == getattr(mine, name), (
                model,
                name,
            )


def test_simulation_md_shows_the_shipped_files_summary(shipped):
    text = DOC.read_text()
    start = text.index(SUMMARY_START) + len(SUMMARY_START)
    end = text.index(SUMMARY_END)

    assert text[start:end].strip() == sim.summary_markdown(shipped).strip(), (
        "SIMULATION.md's summary is stale: paste the output of "
        "`python bench/make_simulation_data.py --summary` between its markers"
    )
