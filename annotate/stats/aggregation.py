"""Gold values: each item's labels for one field aggregated into a single value.

Pure computation, no ORM. A gold value records how it was reached
(`Gold.method`):

- adjudicated: a reviewer's decision, which always wins (confidence 1.0);
- unanimous: every label gives the same value (confidence 1.0);
- majority: one value has more than half the labels; a tie, or a split where
  no value has more than half, is unresolved;
- median: ordinal ratings go to their lower median;
- weighted: Dawid–Skene over the whole project (`dawid_skene`): EM estimates
  how each annotator errs, so one careful annotator can outweigh two careless
  ones who agree with each other;
- unresolved: no value could be chosen, or no label gave one (a field hidden
  by show_if for every annotator).

Confidence is the share of the votes behind the value: the share of labels for
majority and median, the posterior probability for weighted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from labelsets.schema import Schema

Method = Literal[
    "unanimous", "majority", "weighted", "median", "adjudicated", "unresolved"
]
SpecKind = Literal["single", "multi", "rating"]
# How each method reads on a screen. "median" is stored, but of an even count
# of ratings it is the lower of the two middle ones, and the screen says so.
METHOD_LABELS: dict[str, str] = {
    "unanimous": "unanimous",
    "majority": "majority",
    "weighted": "weighted",
    "median": "lower median",
    "adjudicated": "adjudicated",
    "unresolved": "unresolved",
}

type IntArray = npt.NDArray[np.int64]
type FloatArray = npt.NDArray[np.float64]
type IndexArray = npt.NDArray[np.integer[Any]]

# Two posteriors closer than this are a tie: EM on a symmetric split gives equal
# values up to rounding, and picking either would be arbitrary.
_TIE = 1e-9


@dataclass(frozen=True, slots=True)  # slots: a project has millions of these
class Gold:
    """The gold value of one item's field.

    value is a str for single, an int for rating and a list of options in
    domain order for multi (the order annotations store them in, so a gold set
    compares equal to a label giving the same set); None when unresolved.
    confidence is in 0..1 (1.0 when adjudicated or unanimous), None when
    unresolved. votes counts the labels that took part.
    """

    value: object | None
    method: Method
    confidence: float | None
    votes: int


_NO_LABELS = Gold(value=None, method="unresolved", confidence=None, votes=0)


@dataclass(frozen=True)
class FieldSpec:
    """What aggregation needs of a schema field: values in domain (scale) order."""

    name: str
    kind: SpecKind
    values: tuple[str | int, ...]


def field_specs(schema: Schema) -> list[FieldSpec]:
    """The schema's fields that have a gold value, in schema order; text is skipped."""
    specs = []
    for field in schema.fields:
        if field.kind == "rating":
            specs.append(
                FieldSpec(field.name, "rating", tuple(lv.value for lv in field.scale))
            )
        elif field.kind == "single" or field.kind == "multi":
            specs.append(
                FieldSpec(field.name, field.kind, tuple(o.value for o in field.options))
            )
    return specs


# One item at a time -----------------------------------------------------------


def aggregate_single(labels: Sequence[str]) -> Gold:
    """Unanimous if every label agrees, majority if one value has more than half.

    Anything else (a 1-1 tie, a three-way split) is unresolved, for a reviewer
    or for `weighted_gold` to settle. confidence is the winning value's share.
    """
    if not labels:
        return _NO_LABELS
    n = len(labels)
    ranked = Counter(labels).most_common()
    value, top = ranked[0]
    if len(ranked) == 1:
        return Gold(value=value, method="unanimous", confidence=1.0, votes=n)
    if 2 * top > n:
        return Gold(value=value, method="majority", confidence=top / n, votes=n)
    return Gold(value=None, method="unresolved", confidence=None, votes=n)


def aggregate_rating(labels: Sequence[int]) -> Gold:
    """The median rating: unanimous if every label agrees, else median.

    For an even count this is the lower median (of 2, 3, 4, 5 it is 3): the
    midpoint of the two middle ratings (3.5) need not be a level of the scale,
    whereas either middle rating is, and taking the lower one every time keeps
    the rule simple and stable. confidence is the share of labels equal to it.
    """
    if not labels:
        return _NO_LABELS
    n = len(labels)
    ordered = sorted(labels)
    median = ordered[(n - 1) // 2]
    if ordered[0] == ordered[-1]:
        return Gold(value=median, method="unanimous", confidence=1.0, votes=n)
    return Gold(
        value=median, method="median", confidence=ordered.count(median) / n, votes=n
    )


def aggregate_multi(labels: Sequence[Sequence[str]], options: Sequence[str]) -> Gold:
    """Each option is in the gold set when more than half the labels chose it.

    Unanimous when every label gives the same set, else majority (a multi field
    is never unresolved once it has labels: an option without a strict
    majority is simply left out). confidence is the mean, over all options, of
    the share of labels that agree with the gold decision on that option.
    Raises ValueError for a value that is not one of `options`.
    """
    if not labels:
        return _NO_LABELS
    n = len(labels)
    sets = [frozenset(label) for label in labels]
    if unknown := frozenset().union(*sets) - frozenset(options):
        raise ValueError(f"not an option: {', '.join(sorted(unknown))}")
    chosen_by = [sum(option in s for s in sets) for option in options]
    value = [o for o, c in zip(options, chosen_by, strict=True) if 2 * c > n]
    if all(s == sets[0] for s in sets):
        return Gold(value=value, method="unanimous", confidence=1.0, votes=n)
    agreeing = sum(c if 2 * c > n else n - c for c in chosen_by)
    return Gold(
        value=value,
        method="majority",
        confidence=agreeing / (n * len(options)),
        votes=n,
    )


def aggregate_item(
    schema_fields: Sequence[FieldSpec],
    labels: Sequence[Mapping[str, object]],
    decision: Mapping[str, object] | None = None,
) -> dict[str, Gold]:
    """The gold value of every field of one item, by field name.

    labels are the annotations' clean values. A field that a label lacks (or
    gives as None) was hidden or left unanswered there and gets no vote from
    it; a field every label lacks is unresolved with 0 votes. A value the
    decision gives for a field wins whatever the labels say (adjudicated,
    confidence 1.0, votes still counting the labels). Raises ValueError for a
    decision value, or a label value that is aggregated, outside the field's
    options or scale.
    """
    gold = {}
    for spec in schema_fields:
        given = [
            label[spec.name] for label in labels if label.get(spec.name) is not None
        ]
        decided = None if decision is None else decision.get(spec.name)
        if decided is not None:
            gold[spec.name] = Gold(
                value=_value(spec, decided),
                method="adjudicated",
                confidence=1.0,
                votes=len(given),
            )
        elif spec.kind == "single":
            gold[spec.name] = aggregate_single([_option(spec, v) for v in given])
        elif spec.kind == "rating":
            gold[spec.name] = aggregate_rating([_level(spec, v) for v in given])
        else:
            gold[spec.name] = aggregate_multi(
                [_options(spec, v) for v in given], [str(v) for v in spec.values]
            )
    return gold


def _value(spec: FieldSpec, raw: object) -> str | int | list[str]:
    """raw as a value of the field; ValueError if it is not one."""
    if spec.kind == "single":
        return _option(spec, raw)
    if spec.kind == "rating":
        return _level(spec, raw)
    return _options(spec, raw)


def _option(spec: FieldSpec, raw: object) -> str:
    if isinstance(raw, str) and raw in spec.values:
        return raw
    raise _not_a_value(spec, raw)


def _level(spec: FieldSpec, raw: object) -> int:
    # bool is an int, but True is no rating.
    if isinstance(raw, int) and not isinstance(raw, bool) and raw in spec.values:
        return raw
    raise _not_a_value(spec, raw)


def _options(spec: FieldSpec, raw: object) -> list[str]:
    """A multi value as a list in domain order."""
    if isinstance(raw, list | tuple) and all(
        isinstance(v, str) and v in spec.values for v in raw
    ):
        return [str(v) for v in spec.values if v in raw]
    raise _not_a_value(spec, raw)


def _not_a_value(spec: FieldSpec, raw: object) -> ValueError:
    return ValueError(f"{spec.name}: {raw!r} is not a value of this {spec.kind} field")


# The whole project: Dawid–Skene ------------------------------------------------


@dataclass(frozen=True, eq=False)  # eq on arrays would be ambiguous
class WeightedResult:
    """Dawid–Skene estimates for one field over a project.

    posteriors[i, k] is P(item i's true value is k | its labels): rows sum to 1,
    NaN rows for items without labels. confusion[j, k, l] is P(annotator j
    gives l | true value k), each row summing to 1 and no entry 0 (smoothing).
    log_likelihood is the labels' log-likelihood at these estimates plus the
    smoothing prior's log density: the quantity EM never decreases.
    """

    posteriors: FloatArray  # items x K
    confusion: FloatArray  # annotators x K x K
    priors: FloatArray  # K
    votes: IntArray  # items: labels per item
    log_likelihood: float
    iterations: int
    converged: bool


def dawid_skene(
    item_index: IndexArray,
    annotator_index: IndexArray,
    label_index: IndexArray,
    *,
    n_items: int,
    n_annotators: int,
    n_values: int,
    max_iterations: int = 100,
    tolerance: float = 1e-6,
    smoothing: float = 0.01,
) -> WeightedResult:
    """Estimate each item's true value and each annotator's confusion matrix by EM.

    One entry per label in the three index arrays; values are indices into
    the field's domain, so ratings can go in as nominal values. EM starts from
    the soft majority vote (each item's vote shares) and stops when the
    objective (`WeightedResult.log_likelihood`) changes by at most `tolerance`
    relative to its size, or after max_iterations (converged False). smoothing
    is added to every count, so no probability is 0 and an annotator without
    labels has uniform rows. Deterministic: equal inputs give equal results.

    Reliability shows only through agreement: an annotator whose labels are
    independent of everyone else's (one careful annotator beside two random
    ones, and no other overlap) cannot be told apart from the random ones, and
    with few labels per annotator the confusion estimates are noisy. EM can
    creep for hundreds of iterations when a confusion entry heads for 0 (an
    annotator who never gives some value): converged False then says the
    objective was still moving, usually long after the argmax settled.

    Raises ValueError on arrays of different shapes, out-of-range indices or a
    bad max_iterations, tolerance or smoothing.
    """
    # Dawid & Skene (1979) "Maximum likelihood estimation of observer
    # error-rates using the EM algorithm", Applied Statistics 28(1):20-28.
    # With smoothing s this is the MAP estimate under a Dirichlet(1 + s) prior
    # on the priors and on every confusion row (Laplace smoothing).
    items, labels, groups = _ds_indices(
        item_index,
        annotator_index,
        label_index,
        n_items=n_items,
        n_annotators=n_annotators,
        n_values=n_values,
    )
    if max_iterations < 1:
        raise ValueError("max_iterations must be >= 1")
    if tolerance < 0:
        raise ValueError("tolerance must be >= 0")
    if smoothing <= 0:
        raise ValueError("smoothing must be > 0, so that no probability is 0")
    k = n_values
    votes = np.bincount(items, minlength=n_items).astype(np.int64)
    labelled = votes > 0

    # truth is K x items (each value's row contiguous for the gathers below):
    # the current soft estimate of every item's true value, 0 for unlabelled
    # items so they weigh nothing in the M step.
    shares = np.bincount(labels * n_items + items, minlength=k * n_items)
    truth: FloatArray = shares.reshape(k, n_items) / np.maximum(votes, 1)

    objective = -np.inf
    converged = False
    iterations = 0
    priors, confusion = _ds_m_step(truth, items, groups, n_annotators, k, smoothing)
    while iterations < max_iterations:
        iterations += 1
        truth, new_objective = _ds_e_step(
            priors, confusion, items, groups, labelled, smoothing
        )
        if abs(new_objective - objective) <= tolerance * abs(new_objective):
            objective, converged = new_objective, True
            break
        objective = new_objective
        if iterations < max_iterations:
            priors, confusion = _ds_m_step(
                truth, items, groups, n_annotators, k, smoothing
            )

    posteriors = np.ascontiguousarray(truth.T)
    posteriors[~labelled] = np.nan
    return WeightedResult(
        posteriors=posteriors,
        confusion=confusion,
        priors=priors,
        votes=votes,
        log_likelihood=float(objective),
        iterations=iterations,
        converged=converged,
    )


def weighted_gold(
    result: WeightedResult, *, values: Sequence[object] | None = None
) -> list[Gold]:
    """Each item's most probable value (method weighted, confidence its posterior).

    values maps value indices back to the field's values (domain order); without
    it the value is the index. An item whose top two posteriors tie, or that
    has no labels, is unresolved. Raises ValueError if values has the wrong length.
    """
    posteriors = result.posteriors
    n_items, k = posteriors.shape
    if values is not None and len(values) != k:
        raise ValueError(f"values has {len(values)} entries for {k} values")
    labelled = result.votes > 0
    filled = np.where(labelled[:, None], posteriors, 0.0)
    best = filled.argmax(axis=1)
    top = filled.max(axis=1)
    second = np.partition(filled, k - 2, axis=1)[:, k - 2] if k > 1 else 0 * top
    tied = top - second <= _TIE

    gold = []
    # tolist() first: one conversion per array instead of a numpy scalar per item.
    for has_labels, is_tied, index, p, n in zip(
        labelled.tolist(),
        tied.tolist(),
        best.tolist(),
        top.tolist(),
        result.votes.tolist(),
        strict=True,
    ):
        if not has_labels:
            gold.append(_NO_LABELS)
        elif is_tied:
            gold.append(Gold(value=None, method="unresolved", confidence=None, votes=n))
        else:
            value = index if values is None else values[index]
            gold.append(Gold(value=value, method="weighted", confidence=p, votes=n))
    return gold


def _ds_indices(
    item_index: IndexArray,
    annotator_index: IndexArray,
    label_index: IndexArray,
    *,
    n_items: int,
    n_annotators: int,
    n_values: int,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Checked item and label indices, and each label's group: annotator * K + label."""
    if n_values < 1:
        raise ValueError("n_values must be >= 1")
    if not item_index.shape == annotator_index.shape == label_index.shape:
        raise ValueError("the index arrays must have the same shape")
    if item_index.ndim != 1:
        raise ValueError("the index arrays must be one-dimensional")
    checked = []
    for name, index, bound in (
        ("item", item_index, n_items),
        ("annotator", annotator_index, n_annotators),
        ("label", label_index, n_values),
    ):
        if index.size and not np.issubdtype(index.dtype, np.integer):
            raise ValueError(f"{name} indices must be integers")
        if index.size and (index.min() < 0 or index.max() >= bound):
            raise ValueError(f"{name} index out of range 0..{bound - 1}")
        checked.append(index.astype(np.intp, copy=False))
    items, annotators, labels = checked
    return items, labels, annotators * n_values + labels


def _ds_m_step(
    truth: FloatArray,
    items: npt.NDArray[np.intp],
    groups: npt.NDArray[np.intp],
    n_annotators: int,
    k: int,
    smoothing: float,
) -> tuple[FloatArray, FloatArray]:
    """Priors and confusion matrices from the soft truth (K x items)."""
    weight = truth.sum(axis=1)
    priors = (weight + smoothing) / (weight.sum() + k * smoothing)
    # counts[t, g]: soft count of labels in group g (annotator j, label l) on
    # items whose true value is t. One bincount per value, none per label.
    counts = np.empty((k, n_annotators * k))
    for t in range(k):
        counts[t] = np.bincount(
            groups, weights=truth[t][items], minlength=n_annotators * k
        )
    smoothed = counts.reshape(k, n_annotators, k).transpose(1, 0, 2) + smoothing
    confusion = smoothed / smoothed.sum(axis=2, keepdims=True)
    return priors, confusion


def _ds_e_step(
    priors: FloatArray,
    confusion: FloatArray,
    items: npt.NDArray[np.intp],
    groups: npt.NDArray[np.intp],
    labelled: npt.NDArray[np.bool_],
    smoothing: float,
) -> tuple[FloatArray, float]:
    """Soft truth (K x items, 0 for unlabelled items) and the objective."""
    k = priors.shape[0]
    n_items = labelled.shape[0]
    log_confusion = np.log(confusion)
    # by_truth[t, g] = log P(label of group g | true value t).
    by_truth = log_confusion.transpose(1, 0, 2).reshape(k, -1)
    # In log space: a product of many small probabilities underflows.
    log_joint = np.empty((k, n_items))
    for t in range(k):
        log_joint[t] = np.bincount(
            items, weights=by_truth[t][groups], minlength=n_items
        )
    log_joint += np.log(priors)[:, None]
    top = log_joint.max(axis=0)
    truth = np.exp(log_joint - top)
    total = truth.sum(axis=0)
    truth /= total
    truth[:, ~labelled] = 0.0
    log_likelihood = float((top + np.log(total))[labelled].sum())
    log_prior = smoothing * float(np.log(priors).sum() + log_confusion.sum())
    return truth, log_likelihood + log_prior


def gold_chosen(gold: Mapping[str, Mapping[str, Any]]) -> dict[str, object]:
    """Each field's value of an item's gold ({field: {"value", ...}}), the
    fields without one left out."""
    return {k: v["value"] for k, v in gold.items() if v.get("value") is not None}
