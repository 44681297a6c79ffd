"""Hand-made cases for annotate.stats.aggregation: every method, the item-level rules
(adjudication wins, hidden fields), and Dawid–Skene on small simulated projects.

No database: the module is pure.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pytest

from annotate.stats.aggregation import (
    FieldSpec,
    Gold,
    WeightedResult,
    aggregate_item,
    aggregate_multi,
    aggregate_rating,
    aggregate_single,
    dawid_skene,
    field_specs,
    weighted_gold,
)
from labelsets.schema import parse_schema, validate_values

NO_LABELS = Gold(value=None, method="unresolved", confidence=None, votes=0)


# aggregate_single -------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["policy"] * 3, Gold("policy", "unanimous", 1.0, 3)),
        (["policy"], Gold("policy", "unanimous", 1.0, 1)),
        (["policy", "none", "policy"], Gold("policy", "majority", 2 / 3, 3)),
        (["a", "b", "a", "c", "a"], Gold("a", "majority", 3 / 5, 5)),
        (["policy", "none"], Gold(None, "unresolved", None, 2)),
        (["policy", "none", "scope"], Gold(None, "unresolved", None, 3)),
        (["policy", "policy", "none", "none"], Gold(None, "unresolved", None, 4)),
        # A plurality (2 of 5) is not a majority.
        (["a", "a", "b", "b", "c"], Gold(None, "unresolved", None, 5)),
        ([], NO_LABELS),
    ],
    ids=[
        "unanimous",
        "one label",
        "majority 2-1",
        "majority 3-1-1",
        "tie 1-1",
        "three-way split",
        "tie 2-2",
        "plurality 2-2-1",
        "no labels",
    ],
)
def test_single_labels_aggregate_to_unanimous_majority_or_unresolved(labels, expected):
    assert aggregate_single(labels) == expected


# aggregate_rating -------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([3, 3, 3], Gold(3, "unanimous", 1.0, 3)),
        ([5, 1, 2], Gold(2, "median", 1 / 3, 3)),
        ([4, 2, 4], Gold(4, "median", 2 / 3, 3)),
        # Even counts take the lower middle value: 1 2 | 4 5 -> 2, not 3.
        ([5, 1, 2, 4], Gold(2, "median", 1 / 4, 4)),
        ([4, 2, 4, 2], Gold(2, "median", 2 / 4, 4)),
        ([4, 2], Gold(2, "median", 1 / 2, 2)),
        ([1, 3, 3, 5, 5, 5], Gold(3, "median", 2 / 6, 6)),
        ([], NO_LABELS),
    ],
    ids=["unanimous", "odd", "odd repeated", "even", "even 2-2", "two", "six", "none"],
)
def test_ratings_aggregate_to_the_lower_median(labels, expected):
    assert aggregate_rating(labels) == expected


# aggregate_multi --------------------------------------------------------------

# Not alphabetical, to show the gold set keeps the domain order.
MODES = ("leakage", "exaggerated", "capitulation")


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        # leakage 2/3 in; exaggerated 0/3 and capitulation 1/3 out. Agreeing
        # with each decision: 2, 3 and 2 labels of 3.
        (
            [["leakage"], ["leakage", "capitulation"], []],
            Gold(["leakage"], "majority", (2 + 3 + 2) / 9, 3),
        ),
        # leakage 1/2 is no strict majority: out, with 1 + 2 + 2 of 2 agreeing.
        ([["leakage"], []], Gold([], "majority", (1 + 2 + 2) / 6, 2)),
        # 3/4 and 2/4: only leakage is in (2 of 4 is no strict majority).
        (
            [["leakage", "capitulation"], ["leakage"], ["capitulation"], ["leakage"]],
            Gold(["leakage"], "majority", (3 + 4 + 2) / 12, 4),
        ),
        (
            [["capitulation", "leakage"], ["leakage", "capitulation"]],
            Gold(["leakage", "capitulation"], "unanimous", 1.0, 2),
        ),
        ([[], [], []], Gold([], "unanimous", 1.0, 3)),
        ([], NO_LABELS),
    ],
    ids=["2 of 3", "tie is out", "3 and 2 of 4", "same set", "all empty", "none"],
)
def test_multi_labels_choose_each_option_by_strict_majority(labels, expected):
    assert aggregate_multi(labels, MODES) == expected


def test_multi_labels_with_an_unknown_option_are_rejected():
    with pytest.raises(ValueError, match="not an option: typo"):
        aggregate_multi([["leakage"], ["typo"]], MODES)


# aggregate_item ---------------------------------------------------------------

SCHEMA = parse_schema(
    {
        "fields": [
            {
                "name": "refusal_type",
                "kind": "single",
                "required": True,
                "options": [{"value": v} for v in ("none", "policy", "capability")],
            },
            {
                "name": "explain",
                "kind": "rating",
                "required": True,
                "scale": [{"value": v, "label": f"level {v}"} for v in range(1, 6)],
                "show_if": {"refusal_type": {"not_in": ["none"]}},
            },
            {
                "name": "failure_modes",
                "kind": "multi",
                "options": [{"value": v} for v in MODES],
            },
            {"name": "notes", "kind": "text"},
        ]
    }
)
SPECS = field_specs(SCHEMA)


def clean(**values):
    """One annotation's values as the app stores them."""
    return validate_values(SCHEMA, values)


def test_field_specs_skip_text_fields_and_keep_domain_order():
    assert field_specs(SCHEMA) == [
        FieldSpec("refusal_type", "single", ("none", "policy", "capability")),
        FieldSpec("explain", "rating", (1, 2, 3, 4, 5)),
        FieldSpec("failure_modes", "multi", MODES),
    ]


def test_an_item_aggregates_each_field_by_its_kind():
    labels = [
        clean(refusal_type="policy", explain=4, failure_modes=["leakage"]),
        clean(refusal_type="policy", explain=2, notes="hedged"),
        clean(refusal_type="none", failure_modes=["exaggerated", "leakage"]),
    ]

    gold = aggregate_item(SPECS, labels)

    assert gold == {
        "refusal_type": Gold("policy", "majority", 2 / 3, 3),
        # The third label hid explain, so it has no vote there: 2 | 4 -> 2.
        "explain": Gold(2, "median", 1 / 2, 2),
        # Visible but empty counts as a vote for nothing.
        "failure_modes": Gold(["leakage"], "majority", (2 + 2 + 3) / 9, 3),
    }


def test_an_adjudicated_value_wins_over_a_unanimous_vote():
    labels = [clean(refusal_type="policy", explain=3)] * 3

    gold = aggregate_item(SPECS, labels, decision={"refusal_type": "capability"})

    assert gold["refusal_type"] == Gold("capability", "adjudicated", 1.0, 3)
    assert gold["explain"] == Gold(3, "unanimous", 1.0, 3)


def test_an_adjudicated_multi_value_is_put_in_domain_order():
    labels = [clean(refusal_type="none")]
    decision = {"failure_modes": ["capitulation", "leakage"]}

    gold = aggregate_item(SPECS, labels, decision=decision)

    assert gold["failure_modes"] == Gold(
        ["leakage", "capitulation"], "adjudicated", 1.0, 1
    )


def test_a_field_hidden_for_every_label_is_unresolved_with_no_votes():
    labels = [clean(refusal_type="none"), clean(refusal_type="none")]

    assert aggregate_item(SPECS, labels)["explain"] == NO_LABELS
    assert aggregate_item(SPECS, labels, decision={"explain": 2})["explain"] == Gold(
        2, "adjudicated", 1.0, 0
    )


def test_an_item_without_labels_is_unresolved_in_every_field():
    assert aggregate_item(SPECS, []) == {spec.name: NO_LABELS for spec in SPECS}


@pytest.mark.parametrize(
    ("labels", "decision"),
    [
        ([{"refusal_type": "maybe"}], None),
        ([{"refusal_type": "policy", "explain": 6}], None),
        ([{"refusal_type": "policy", "explain": True}], None),
        ([{"refusal_type": "policy", "explain": "3"}], None),
        ([{"refusal_type": "none", "failure_modes": "leakage"}], None),
        ([{"refusal_type": "none", "failure_modes": ["typo"]}], None),
        ([{"refusal_type": "none"}], {"refusal_type": "maybe"}),
    ],
    ids=[
        "unknown option",
        "off the scale",
        "bool rating",
        "string rating",
        "multi not a list",
        "unknown multi option",
        "bad decision",
    ],
)
def test_a_value_outside_the_field_is_rejected(labels, decision):
    with pytest.raises(ValueError, match="is not a value of this"):
        aggregate_item(SPECS, labels, decision=decision)


# Dawid–Skene ------------------------------------------------------------------

VALUES = ("none", "policy", "scope")
NONE, POLICY, SCOPE = range(3)


@dataclass(frozen=True)
class Project:
    """Simulated labels, three per item, item by item; annotators below
    n_careful are right 95% of the time."""

    items: np.ndarray
    annotators: np.ndarray
    labels: np.ndarray
    truth: np.ndarray
    n_annotators: int
    n_careful: int

    def run(self, **options):
        return dawid_skene(
            self.items,
            self.annotators,
            self.labels,
            n_items=len(self.truth),
            n_annotators=self.n_annotators,
            n_values=len(VALUES),
            **options,
        )


def biased_project(seed, n_items=200):
    """Annotator 0 is careful; 1 and 2 always say none when the truth is policy
    and are right 90% of the time otherwise."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, size=n_items)

    def noisy(accuracy):
        wrong = (truth + rng.integers(1, 3, size=n_items)) % 3  # another value
        return np.where(rng.random(n_items) < accuracy, truth, wrong)

    careless = [np.where(truth == POLICY, NONE, noisy(0.9)) for _ in range(2)]
    labels = np.stack([noisy(0.95), *careless], axis=1)  # items x annotators
    return Project(
        items=np.repeat(np.arange(n_items), 3),
        annotators=np.tile(np.arange(3), n_items),
        labels=labels.ravel(),
        truth=truth,
        n_annotators=3,
        n_careful=1,
    )


def random_project(seed, n_items=600):
    """Six annotators, three of them on each item: 0 and 1 are careful, 2..5
    pick a value at random.

    With a single careful annotator beside two random ones nothing in the labels
    would tell which is careful (they are independent); a second careful one
    is what shows it, where the two meet on an item.
    """
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, size=n_items)
    annotators = np.argsort(rng.random((n_items, 6)), axis=1)[:, :3].ravel()
    items = np.repeat(np.arange(n_items), 3)
    wrong = (truth[items] + rng.integers(1, 3, size=items.size)) % 3
    careful = np.where(rng.random(items.size) < 0.95, truth[items], wrong)
    labels = np.where(annotators < 2, careful, rng.integers(0, 3, size=items.size))
    return Project(
        items=items,
        annotators=annotators,
        labels=labels,
        truth=truth,
        n_annotators=6,
        n_careful=2,
    )


def outvoted(project):
    """Items with one careful label and two careless ones that agree against it:
    (mask, the careful label, the majority value) per item."""
    labels = project.labels.reshape(-1, 3)
    careful = project.annotators.reshape(-1, 3) < project.n_careful
    careful_label = np.where(careful, labels, -1).max(axis=1)
    # The careful label sorts first as -1, leaving the two careless ones.
    _, first, second = np.sort(np.where(careful, -1, labels), axis=1).T
    mask = (careful.sum(axis=1) == 1) & (first == second) & (first != careful_label)
    return mask, careful_label, first


@pytest.mark.parametrize(
    "project",
    [
        pytest.param(make(seed), id=f"{make.__name__}-{seed}")
        for make in (biased_project, random_project)
        for seed in range(3)
    ],
)
def test_weighted_gold_sides_with_the_careful_annotator_when_outvoted(project):
    gold = weighted_gold(project.run(), values=range(3))
    weighted = np.array([g.value for g in gold])
    mask, careful_label, majority = outvoted(project)
    truth = project.truth[mask]

    assert mask.sum() >= 40
    assert np.mean(majority[mask] == truth) < 0.25
    # The careful annotator is right 95% of the time, so on 50 to 90 items
    # sampling noise alone can take their own accuracy below 0.9.
    assert np.mean(weighted[mask] == truth) > 0.85
    assert np.mean(weighted[mask] == truth) >= np.mean(careful_label[mask] == truth)
    # Not always: where the careful annotator is wrong, the others may be right.
    assert np.mean(weighted[mask] == careful_label[mask]) > 0.8
    # Items labelled by random annotators only have no truth to find.
    seen = (project.annotators.reshape(-1, 3) < project.n_careful).any(axis=1)
    assert np.mean(weighted[seen] == project.truth[seen]) > 0.9


def test_estimated_confusion_recovers_the_careful_annotator_and_the_bias():
    confusion = biased_project(seed=0).run().confusion

    assert np.diag(confusion[0]).min() > 0.85
    # Both careless annotators say none for policy.
    assert confusion[1:, POLICY, NONE].min() > 0.95


def test_estimated_confusion_tells_careful_annotators_from_random_ones():
    confusion = random_project(seed=0).run().confusion

    diagonals = np.diagonal(confusion, axis1=1, axis2=2)
    assert diagonals[:2].min() > 0.85
    # A random annotator's rows are all about 1/3 (300 labels each, so give
    # or take sampling noise), whatever the truth.
    assert abs(diagonals[2:].mean() - 1 / 3) < 0.05
    assert np.abs(confusion[2:] - 1 / 3).max() < 0.25


@pytest.mark.parametrize("make", [biased_project, random_project])
def test_estimates_are_distributions_with_no_zero_probability(make):
    project = make(seed=0)

    result = project.run()

    n_items = len(project.truth)
    assert result.posteriors.shape == (n_items, 3)
    assert result.confusion.shape == (project.n_annotators, 3, 3)
    np.testing.assert_allclose(result.posteriors.sum(axis=1), 1.0)
    np.testing.assert_allclose(result.confusion.sum(axis=2), 1.0)
    np.testing.assert_allclose(result.priors.sum(), 1.0)
    assert result.confusion.min() > 0
    assert result.priors.min() > 0
    assert (result.votes == 3).all()


def test_dawid_skene_reports_convergence():
    project = biased_project(seed=0)

    converged = project.run()
    stopped = project.run(max_iterations=2)

    assert converged.converged
    assert 2 < converged.iterations < 100
    assert not stopped.converged
    assert stopped.iterations == 2


def test_each_em_iteration_never_lowers_the_objective():
    project = random_project(seed=0, n_items=100)
    final = project.run()

    objectives = [
        project.run(max_iterations=m).log_likelihood
        for m in range(1, final.iterations + 1)
    ]

    assert objectives[-1] == final.log_likelihood
    assert all(b >= a - 1e-9 * abs(a) for a, b in itertools.pairwise(objectives))


def test_dawid_skene_is_deterministic():
    first = random_project(seed=0).run()
    again = random_project(seed=0).run()

    for name in ("posteriors", "confusion", "priors", "votes"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
    assert (first.log_likelihood, first.iterations) == (
        again.log_likelihood,
        again.iterations,
    )


def test_one_iteration_matches_the_update_worked_by_hand():
    # Two annotators agree on two items: item 0 is value 0, item 1 is value 1.
    # The majority start is certain, so the M step counts 1 + s on the
    # diagonal and s off it, out of 1 + 2s; the priors are 1/2 each.
    s = 0.01
    items, annotators = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    labels = np.array([0, 0, 1, 1])

    result = dawid_skene(
        items,
        annotators,
        labels,
        n_items=2,
        n_annotators=2,
        n_values=2,
        max_iterations=1,
        smoothing=s,
    )

    right, wrong = (1 + s) / (1 + 2 * s), s / (1 + 2 * s)
    np.testing.assert_allclose(result.priors, [0.5, 0.5])
    np.testing.assert_allclose(result.confusion, [[[right, wrong], [wrong, right]]] * 2)
    # P(item 0 is 0) = 1/2 right^2 / (1/2 right^2 + 1/2 wrong^2).
    p = (1 + s) ** 2 / ((1 + s) ** 2 + s**2)
    np.testing.assert_allclose(result.posteriors, [[p, 1 - p], [1 - p, p]])
    evidence = 0.5 * (right**2 + wrong**2)
    log_prior = s * (2 * math.log(0.5) + 4 * (math.log(right) + math.log(wrong)))
    assert result.log_likelihood == pytest.approx(2 * math.log(evidence) + log_prior)
    gold = weighted_gold(result, values=VALUES[:2])
    assert [(g.value, g.method, g.votes) for g in gold] == [
        ("none", "weighted", 2),
        ("policy", "weighted", 2),
    ]
    assert [g.confidence for g in gold] == pytest.approx([p, p])


def test_a_symmetric_disagreement_is_a_weighted_tie():
    # Each annotator says 0 on one item and 1 on the other, against the other
    # annotator: nothing tells the values or the annotators apart.
    result = dawid_skene(
        np.array([0, 0, 1, 1]),
        np.array([0, 1, 0, 1]),
        np.array([0, 1, 1, 0]),
        n_items=2,
        n_annotators=2,
        n_values=2,
    )

    np.testing.assert_allclose(result.posteriors, 0.5)
    assert weighted_gold(result) == [Gold(None, "unresolved", None, 2)] * 2


def test_items_without_labels_get_nan_posteriors_and_are_unresolved():
    project = biased_project(seed=0, n_items=50)

    # Items 50..59 exist in the project but nobody labelled them yet.
    result = dawid_skene(
        project.items,
        project.annotators,
        project.labels,
        n_items=60,
        n_annotators=3,
        n_values=3,
    )
    gold = weighted_gold(result, values=VALUES)

    assert np.isnan(result.posteriors[50:]).all()
    assert not np.isnan(result.posteriors[:50]).any()
    assert gold[50:] == [NO_LABELS] * 10
    assert all(g.method == "weighted" and g.votes == 3 for g in gold[:50])


def test_a_project_without_labels_gives_uniform_estimates():
    empty = np.array([], dtype=np.int64)

    result = dawid_skene(empty, empty, empty, n_items=2, n_annotators=1, n_values=3)

    assert np.isnan(result.posteriors).all()
    np.testing.assert_allclose(result.priors, 1 / 3)
    np.testing.assert_allclose(result.confusion, 1 / 3)
    assert result.converged
    assert weighted_gold(result) == [NO_LABELS, NO_LABELS]


def test_weighted_gold_reads_the_posteriors():
    result = WeightedResult(
        posteriors=np.array([[0.7, 0.2, 0.1], [0.1, 0.45, 0.45], [np.nan] * 3]),
        confusion=np.full((1, 3, 3), 1 / 3),
        priors=np.full(3, 1 / 3),
        votes=np.array([3, 2, 0]),
        log_likelihood=0.0,
        iterations=1,
        converged=True,
    )

    assert weighted_gold(result, values=VALUES) == [
        Gold("none", "weighted", 0.7, 3),
        Gold(None, "unresolved", None, 2),
        NO_LABELS,
    ]
    assert weighted_gold(result)[0] == Gold(0, "weighted", 0.7, 3)
    with pytest.raises(ValueError, match="values has 2 entries for 3 values"):
        weighted_gold(result, values=VALUES[:2])


def test_ratings_can_go_in_as_nominal_values():
    scale = (1, 2, 3, 4, 5)
    ratings = np.array([4, 4, 4, 2, 2, 5])
    result = dawid_skene(
        np.array([0, 0, 0, 1, 1, 1]),
        np.array([0, 1, 2, 0, 1, 2]),
        ratings - 1,  # the rating's position on the scale
        n_items=2,
        n_annotators=3,
        n_values=len(scale),
    )

    assert [g.value for g in weighted_gold(result, values=scale)] == [4, 2]


OK = np.array([0, 1])


@pytest.mark.parametrize(
    ("arrays", "options", "message"),
    [
        ((OK, OK, np.array([0])), {}, "same shape"),
        ((OK.reshape(1, 2),) * 3, {}, "one-dimensional"),
        ((OK, OK, np.array([0, 3])), {}, "label index out of range 0..2"),
        ((np.array([-1, 0]), OK, OK), {}, "item index out of range"),
        ((OK, np.array([0, 2]), OK), {}, "annotator index out of range 0..1"),
        ((OK, OK, np.array([0.0, 1.0])), {}, "label indices must be integers"),
        ((OK, OK, OK), {"smoothing": 0.0}, "smoothing must be > 0"),
        ((OK, OK, OK), {"max_iterations": 0}, "max_iterations must be >= 1"),
        ((OK, OK, OK), {"tolerance": -1.0}, "tolerance must be >= 0"),
        ((OK, OK, OK), {"n_values": 0}, "n_values must be >= 1"),
    ],
    ids=[
        "lengths",
        "2-d",
        "label",
        "item",
        "annotator",
        "float",
        "smoothing",
        "iterations",
        "tolerance",
        "values",
    ],
)
def test_dawid_skene_rejects_bad_input(arrays, options, message):
    sizes = {"n_items": 2, "n_annotators": 2, "n_values": 3} | options
    with pytest.raises(ValueError, match=message):
        dawid_skene(*arrays, **sizes)
