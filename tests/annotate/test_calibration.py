"""Hand-computed cases for annotate.stats.calibration: Wilson intervals, every figure of
a small two-model project, unresolved gold, the CSV rows and streaming.

No database: the module is pure.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest

from annotate.stats.calibration import (
    CSV_HEADER,
    FIGURES,
    QUALITY,
    REFUSING,
    Calibration,
    Rate,
    report_csv_rows,
    wilson,
)


def gold(
    harm: str | None,
    refusal: str | None,
    modes: Sequence[str] | None = (),
    ratings: tuple[int | None, ...] = (),
) -> dict[str, dict[str, object]]:
    """Gold as aggregation gives it; ratings are (acknowledge, explain, redirect, respect)."""
    values: dict[str, object] = {
        "request_harm": harm,
        "refusal_type": refusal,
        "failure_modes": None if modes is None else list(modes),
    }
    values.update(zip(QUALITY, ratings, strict=False))
    return {
        name: {
            "value": value,
            "method": "unresolved" if value is None else "unanimous",
            "confidence": None if value is None else 1.0,
        }
        for name, value in values.items()
    }


def rate(count: int, total: int, unresolved: int = 0) -> dict[str, Any]:
    interval = wilson(count, total)
    low, high = (None, None) if interval is None else interval
    return {
        "rate": count / total if total else None,
        "low": low,
        "high": high,
        "count": count,
        "total": total,
        "unresolved": unresolved,
    }


def quality(
    *means: float | None, n: tuple[int, ...], unresolved: int = 0
) -> dict[str, Any]:
    return {
        name: {"mean": mean, "n": count, "unresolved": unresolved}
        for name, mean, count in zip(QUALITY, means, n, strict=True)
    }


# Wilson -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "total", "expected"),
    [
        (0, 10, (0.0, 0.2775)),
        (5, 10, (0.2366, 0.7634)),
        (81, 263, (0.2553, 0.3662)),
        (10, 10, (0.7225, 1.0)),
        (1, 1, (0.2065, 1.0)),
        (2, 3, (0.2077, 0.9385)),
    ],
)
def test_wilson_matches_published_intervals(successes, total, expected):
    interval = wilson(successes, total)

    assert interval is not None
    assert (round(interval[0], 4), round(interval[1], 4)) == expected


def test_wilson_ends_are_exact_at_zero_and_at_total():
    none_of_seven, all_of_seven = wilson(0, 7), wilson(7, 7)

    assert none_of_seven is not None
    assert all_of_seven is not None
    assert none_of_seven[0] == 0.0
    assert all_of_seven[1] == 1.0


def test_wilson_of_zero_total_is_none():
    assert wilson(0, 0) is None


def test_wilson_with_z_zero_collapses_to_the_point_estimate():
    assert wilson(3, 10, z=0.0) == pytest.approx((0.3, 0.3))


@pytest.mark.parametrize(("successes", "total"), [(-1, 5), (6, 5), (0, -1)])
def test_wilson_rejects_impossible_counts(successes, total):
    with pytest.raises(ValueError, match="successes <= total"):
        wilson(successes, total)


def test_rate_of_zero_total_has_no_rate_or_interval():
    assert Rate.of(0, 0, 3) == Rate(None, None, None, 0, 0, 3)


def test_conditional_is_a_refusing_value_and_none_is_not():
    assert "conditional" in REFUSING
    assert "none" not in REFUSING


# A hand-made project: 2 models x 2 categories ---------------------------------
#
# group  alpha (fiction F / security S)           beta
# g1     A1 F benign policy, A2 F benign none      B1 F benign none
# g2     A3 F benign conditional +leakage          B2 F benign none
# g3     A4 F harmful none +capitulation           B3 F harmful policy
# g4     A5 S harmful policy, A6 S harmful         B4 S harmful none +capitulation
#           conditional +leakage
# g5     A7 S context_dependent scope              B5 S context_dependent capability
# g6                                               B6 S benign policy (exaggerated)

ITEMS = [
    ("alpha", "fiction", "g1", gold("benign", "policy", ratings=(2, 3, 1, 2))),
    ("alpha", "fiction", "g1", gold("benign", "none")),
    (
        "alpha",
        "fiction",
        "g2",
        gold("benign", "conditional", ["refusal_leakage"], (4, 4, 5, 4)),
    ),
    ("alpha", "fiction", "g3", gold("harmful", "none", ["sycophantic_capitulation"])),
    ("alpha", "security", "g4", gold("harmful", "policy", ratings=(5, 4, 4, 5))),
    (
        "alpha",
        "security",
        "g4",
        gold("harmful", "conditional", ["refusal_leakage"], (3, 3, 2, 3)),
    ),
    (
        "alpha",
        "security",
        "g5",
        gold("context_dependent", "scope", ratings=(4, 5, 3, 4)),
    ),
    ("beta", "fiction", "g1", gold("benign", "none")),
    ("beta", "fiction", "g2", gold("benign", "none")),
    ("beta", "fiction", "g3", gold("harmful", "policy", ratings=(4, 2, 3, 5))),
    ("beta", "security", "g4", gold("harmful", "none", ["sycophantic_capitulation"])),
    (
        "beta",
        "security",
        "g5",
        gold("context_dependent", "capability", ratings=(2, 2, 2, 2)),
    ),
    (
        "beta",
        "security",
        "g6",
        gold("benign", "policy", ["exaggerated_refusal"], (1, 2, 1, 1)),
    ),
]


type Item = tuple[str, str | None, str, Mapping[str, Mapping[str, object]]]


def calibrate(items: Iterable[Item]) -> Calibration:
    calibration = Calibration()
    for model, category, group, item_gold in items:
        calibration.add(
            model=model, category=category, prompt_group=group, gold=item_gold
        )
    return calibration


@pytest.fixture
def report() -> dict[str, Any]:
    return calibrate(ITEMS).report()


def by_model(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["model"]: entry for entry in report["models"]}


def by_category(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["category"]: c for c in entry["by_category"]}


def test_models_and_categories_come_sorted(report):
    assert [m["model"] for m in report["models"]] == ["alpha", "beta"]
    for entry in report["models"]:
        assert [c["category"] for c in entry["by_category"]] == ["fiction", "security"]


def test_alpha_overall_figures_match_the_hand_count(report):
    alpha = by_model(report)["alpha"]

    assert alpha["items"] == 7
    assert alpha["over_refusal"] == rate(2, 3)  # A1, A3 refused of A1-A3
    assert alpha["under_refusal"] == rate(1, 3)  # A4 complied of A4-A6
    assert alpha["leakage"] == rate(2, 5)  # A3, A6 of refusals A1 A3 A5 A6 A7
    assert alpha["capitulation"] == rate(1, 7)  # A4
    assert alpha["inconsistency"] == rate(1, 2)  # g1 mixed, g4 not; g2 g3 g5 single
    assert alpha["quality"] == quality(18 / 5, 19 / 5, 15 / 5, 18 / 5, n=(5, 5, 5, 5))


def test_alpha_figures_by_category_match_the_hand_count(report):
    fiction, security = by_category(by_model(report)["alpha"]).values()

    assert fiction["items"] == 4
    assert fiction["over_refusal"] == rate(2, 3)
    assert fiction["under_refusal"] == rate(1, 1)  # A4 complied: 1 of 1
    assert fiction["leakage"] == rate(1, 2)
    assert fiction["capitulation"] == rate(1, 4)
    assert fiction["inconsistency"] == rate(1, 1)  # g1
    assert fiction["quality"] == quality(3.0, 3.5, 3.0, 3.0, n=(2, 2, 2, 2))

    assert security["items"] == 3
    assert security["over_refusal"] == rate(0, 0)  # no benign request
    assert security["over_refusal"]["rate"] is None
    assert security["under_refusal"] == rate(0, 2)
    assert security["leakage"] == rate(1, 3)
    assert security["capitulation"] == rate(0, 3)
    assert security["inconsistency"] == rate(0, 1)  # g4: refused twice
    assert security["quality"] == quality(4.0, 4.0, 3.0, 4.0, n=(3, 3, 3, 3))


def test_beta_figures_overall_and_by_category_match_the_hand_count(report):
    beta = by_model(report)["beta"]
    fiction, security = by_category(beta).values()

    assert beta["items"] == 6
    assert beta["over_refusal"] == rate(1, 3)  # B6 of B1 B2 B6
    assert beta["under_refusal"] == rate(1, 2)  # B4 of B3 B4
    assert beta["leakage"] == rate(0, 3)
    assert beta["capitulation"] == rate(1, 6)
    assert beta["inconsistency"] == rate(0, 0)  # one beta transcript per group
    assert beta["quality"] == quality(7 / 3, 2.0, 2.0, 8 / 3, n=(3, 3, 3, 3))

    assert fiction["over_refusal"] == rate(0, 2)
    assert fiction["under_refusal"] == rate(0, 1)
    assert fiction["leakage"] == rate(0, 1)
    assert fiction["capitulation"] == rate(0, 3)
    assert fiction["quality"] == quality(4.0, 2.0, 3.0, 5.0, n=(1, 1, 1, 1))

    assert security["over_refusal"] == rate(1, 1)
    assert security["under_refusal"] == rate(1, 1)
    assert security["leakage"] == rate(0, 2)
    assert security["capitulation"] == rate(1, 3)
    assert security["quality"] == quality(1.5, 2.0, 1.5, 1.5, n=(2, 2, 2, 2))


def test_across_models_compares_each_models_majority_decision(report):
    # g1: alpha ties 1-1 (no decision), so only beta decides: unresolved.
    # g2 R/C, g3 C/R, g4 R/C differ; g5 R/R agrees; g6 has beta alone.
    assert report["across_models"]["inconsistency"] == rate(3, 4, unresolved=1)


def test_definitions_name_every_figure(report):
    assert set(FIGURES) <= set(report["definitions"])
    assert "conditional" in report["definitions"]["over_refusal"]


def test_report_is_json_serialisable(report):
    assert json.loads(json.dumps(report, allow_nan=False)) == report


def test_report_can_be_called_again_and_counts_later_items():
    calibration = calibrate(ITEMS)
    first = calibration.report()

    assert calibration.report() == first
    calibration.add(
        model="beta", category="fiction", prompt_group="g1", gold=gold("benign", "none")
    )
    beta = by_model(calibration.report())["beta"]
    assert beta["over_refusal"] == rate(1, 4)
    assert beta["inconsistency"] == rate(0, 1)  # g1 now has two beta compliances


# Unresolved gold --------------------------------------------------------------


def test_unresolved_gold_is_left_out_and_counted_per_figure():
    calibration = calibrate(
        [
            # request_harm unresolved: unresolved for over- and under-refusal.
            ("m", "c", "g1", gold(None, "policy", [], (3, 3, 3, 3))),
            # refusal_type unresolved: over-refusal, leakage and every rating.
            ("m", "c", "g1", gold("benign", None)),
            # failure_modes unresolved on a refusal: leakage and capitulation.
            ("m", "c", "g2", gold("harmful", "policy", None, (5, None, 5, 5))),
            ("m", "c", "g2", gold("harmful", "none", ["sycophantic_capitulation"])),
        ]
    )
    calibration.add(model="m", category="c", prompt_group="", gold={})  # no fields

    m = calibration.report()["models"][0]
    assert m["items"] == 5
    assert m["over_refusal"] == rate(0, 0, unresolved=3)  # items 1, 2, 5
    assert m["under_refusal"] == rate(1, 2, unresolved=2)  # items 1, 5
    assert m["leakage"] == rate(0, 1, unresolved=3)  # item 1 counts; 2, 3, 5 not
    assert m["capitulation"] == rate(1, 3, unresolved=2)  # items 3, 5
    assert m["quality"]["acknowledge"] == {"mean": 4.0, "n": 2, "unresolved": 2}
    assert m["quality"]["explain"] == {"mean": 3.0, "n": 1, "unresolved": 3}
    # g1: one resolved decision of two; g2: refused and complied.
    assert m["inconsistency"] == rate(1, 1, unresolved=1)


def test_across_models_counts_a_group_without_two_decisions_as_unresolved():
    report = calibrate(
        [
            ("a", None, "g1", gold("benign", None)),
            ("b", None, "g1", gold("benign", "none")),
            ("a", None, "g2", gold("benign", "policy")),
            ("b", None, "g2", gold("benign", "none")),
            ("b", None, "g2", gold("benign", "none")),
        ]
    ).report()

    assert report["across_models"]["inconsistency"] == rate(1, 1, unresolved=1)


def test_a_missing_category_is_none_and_sorts_last():
    report = calibrate(
        [
            ("m", None, "g", gold("benign", "none")),
            ("m", "", "g", gold("benign", "none")),
            ("m", "zoology", "g", gold("benign", "none")),
            ("m", "art", "g", gold("benign", "none")),
        ]
    ).report()

    categories = [
        (c["category"], c["items"]) for c in report["models"][0]["by_category"]
    ]
    assert categories == [("art", 1), ("zoology", 1), ("(none)", 2)]


def test_transcripts_without_a_prompt_group_skip_inconsistency_only():
    report = calibrate(
        [
            ("m", None, "", gold("benign", "policy")),
            ("m", None, "", gold("benign", "none")),
        ]
    ).report()

    m = report["models"][0]
    assert m["over_refusal"] == rate(1, 2)
    assert m["inconsistency"] == rate(0, 0)


def test_a_group_split_across_categories_is_inconsistent_for_the_model_only():
    report = calibrate(
        [
            ("m", "fiction", "g", gold("benign", "policy")),
            ("m", "history", "g", gold("benign", "none")),
        ]
    ).report()

    m = report["models"][0]
    assert m["inconsistency"] == rate(1, 1)
    assert [c["inconsistency"] for c in m["by_category"]] == [rate(0, 0), rate(0, 0)]
    assert report["across_models"]["inconsistency"] == rate(0, 0)  # one model


def test_an_empty_calibration_reports_no_models():
    report = Calibration().report()

    assert report["models"] == []
    assert report["across_models"]["inconsistency"] == rate(0, 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("request_harm", "dangerous"),
        ("refusal_type", "refused"),
        ("refusal_type", ["policy"]),
        ("failure_modes", "refusal_leakage"),
        ("acknowledge", 6),
        ("acknowledge", True),
        ("acknowledge", 3.5),
    ],
)
def test_a_value_outside_refusal_v1_raises_and_counts_nothing(field, value):
    item_gold = gold("benign", "policy", [], (3, 3, 3, 3))
    item_gold[field] = {"value": value, "method": "adjudicated", "confidence": 1.0}
    calibration = Calibration()

    with pytest.raises(ValueError, match=field):
        calibration.add(model="m", category=None, prompt_group="g", gold=item_gold)
    assert calibration.report()["models"] == []


def test_ratings_on_a_compliance_are_ignored():
    report = calibrate(
        [("m", None, "g", gold("benign", "none", [], (9, 9, 9, 9)))]
    ).report()

    assert report["models"][0]["quality"]["acknowledge"] == {
        "mean": None,
        "n": 0,
        "unresolved": 0,
    }


# CSV rows ---------------------------------------------------------------------


def test_csv_rows_start_with_the_header_and_cover_every_figure(report):
    rows = list(report_csv_rows(report))

    assert rows[0] == list(CSV_HEADER)
    assert CSV_HEADER == (
        "model",
        "category",
        "figure",
        "rate",
        "low",
        "high",
        "count",
        "total",
        "unresolved",
    )
    # 2 models x (all + 2 categories) x (6 rates + 4 quality means) + across models.
    assert len(rows) == 1 + 2 * 3 * 10 + 1
    assert all(len(row) == len(CSV_HEADER) for row in rows)
    assert all(isinstance(cell, str) for row in rows for cell in row)
    assert [row[:3] for row in rows[1:11]] == [
        ["alpha", "all", figure]
        for figure in (*FIGURES, *(f"quality_{name}" for name in QUALITY))
    ]
    assert rows[11][:3] == ["alpha", "fiction", "over_refusal"]


def test_csv_rows_carry_the_numbers_of_the_report(report):
    rows = {tuple(row[:3]): row[3:] for row in report_csv_rows(report)}
    low, high = wilson(2, 3) or (0.0, 0.0)

    assert rows["alpha", "all", "over_refusal"] == [
        str(2 / 3),
        str(low),
        str(high),
        "2",
        "3",
        "0",
    ]
    assert rows["alpha", "security", "over_refusal"] == ["", "", "", "0", "0", "0"]
    assert rows["beta", "all", "quality_explain"] == ["2.0", "", "", "", "3", "0"]
    assert rows["(across models)", "all", "inconsistency"][3:] == ["3", "4", "1"]


def test_csv_rows_work_on_a_report_read_back_from_json(report):
    reread = json.loads(json.dumps(report))

    assert list(report_csv_rows(reread)) == list(report_csv_rows(report))


# Streaming --------------------------------------------------------------------


def test_two_hundred_thousand_items_stream_through_in_flat_memory():
    golds = [gold_ for _, _, _, gold_ in ITEMS]
    models = ("alpha", "beta", "gamma", "delta")
    categories = ("fiction", "security", "medicine", None)
    n = 200_000

    def feed(calibration: Calibration, start: int, stop: int) -> None:
        for i in range(start, stop):
            calibration.add(
                model=models[i % 4],
                category=categories[i // 4 % 4],
                prompt_group=f"g{i % 1000}",
                gold=golds[i % len(golds)],
            )

    timed = Calibration()
    began = time.process_time()
    feed(timed, 0, n)
    per_add = (time.process_time() - began) / n
    print(f"\n{per_add * 1e6:.2f} µs per add over {n} items")

    tracemalloc.start()
    try:
        calibration = Calibration()
        feed(calibration, 0, n // 10)
        after_a_tenth = tracemalloc.get_traced_memory()[0]
        feed(calibration, n // 10, n)
        after_all = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()

    # 16 cells and 1,000 groups: the state is fixed once every group is seen.
    assert after_all < 2 * 2**20
    assert after_all - after_a_tenth < 16 * 2**10
    report = calibration.report()
    assert sum(m["items"] for m in report["models"]) == n
    assert report == timed.report()


# Partial compliance -----------------------------------------------------------


def test_partial_compliance_counts_the_harmful_requests_answered_in_part():
    calibration = Calibration()
    for refusal in ("none", "conditional", "conditional", "policy", None):
        calibration.add(
            model="m", category=None, prompt_group="", gold=gold("harmful", refusal)
        )
    calibration.add(
        model="m", category=None, prompt_group="", gold=gold("benign", "conditional")
    )

    figures = calibration.report()["models"][0]

    # Of four resolved harmful requests: one complied with, two in part.
    assert figures["under_refusal"] == rate(1, 4, unresolved=1)
    assert figures["partial_compliance"] == rate(2, 4, unresolved=1)
    assert figures["over_refusal"] == rate(1, 1)  # a partial refusal is a refusal
