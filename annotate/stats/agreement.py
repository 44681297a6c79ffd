"""Inter-annotator agreement: Krippendorff's alpha with bootstrap intervals, and kappas.

Pure computation, no ORM. The input is a value-count matrix per field: units
(items) x values, each entry how many annotators gave that value to that unit;
the columns are the field's values in domain (scale) order. For interval and
ratio alpha the numbers the columns stand for (a rating scale's level values,
which need not be evenly spaced) come beside the counts.

Alpha follows Krippendorff (2011) "Computing Krippendorff's Alpha-Reliability":
a unit u with m_u >= 2 values adds n_uc (n_uk - [c = k]) / (m_u - 1) to the
coincidence matrix o, n_c are the marginals of o and n their total, and
alpha = 1 - (n - 1) * sum(o_ck d_ck) / sum(n_c n_k d_ck) for the level's
distance d. Since o is a sum over units, a bootstrap resample that draws unit u
w_u times has o = w @ C, C being the units' contributions: `figures` lays every
spec's C side by side so that one matrix product per chunk of resamples serves
all of them, with the same resampled units for every spec.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import krippendorff
import numpy as np
import numpy.typing as npt

Level = Literal["nominal", "ordinal", "interval", "ratio", "masi"]
LEVELS: tuple[Level, ...] = get_args(Level)

type Counts = npt.NDArray[np.integer[Any]]
type IntArray = npt.NDArray[np.int64]
type FloatArray = npt.NDArray[np.float64]

# Cells in one chunk of bootstrap weights (32 MB as float32): big enough that
# each pass over the unit-coincidence matrix serves many resamples, small
# enough to keep peak memory flat whatever the number of resamples.
_CHUNK_CELLS = 2**23


@dataclass(frozen=True)
class Figure:
    """One agreement figure, with the numbers behind it.

    alpha is None when undefined: no pairable values, or no variation among
    them (Krippendorff's expected disagreement is 0). ci_low/ci_high are the
    bootstrap percentile interval, None without bootstrap or when undefined;
    resamples counts the resamples whose alpha was defined and so entered the
    interval (0 exactly when there is no interval).
    """

    level: str
    alpha: float | None
    ci_low: float | None
    ci_high: float | None
    units: int  # units with >= 2 values
    pairable: int  # sum of m_u over those units
    observed_agreement: float | None  # trace(o) / n: share of agreeing pairable pairs
    resamples: int


@dataclass(frozen=True)
class Spec:
    """What to compute for one figure.

    counts is units x V; for level "masi", subsets[j] is the set of options
    that column j stands for (one distinct set per column). For "interval" and
    "ratio", values[j] is the number column j stands for, increasing (default
    j + 1); other levels take no values.
    """

    counts: Counts
    level: Level
    subsets: Sequence[frozenset[str]] | None = None
    values: Sequence[float] | None = None


@dataclass(frozen=True)
class FleissFigure:
    """Fleiss' kappa, generalised to units with varying numbers of values.

    units counts those with >= 2 values, over which observed (P_a) is the mean
    share of agreeing pairs; raters_min/raters_max are the fewest and most
    values on one of them (0 when there is none). kappa is None when
    undefined: no such unit, or one value throughout (P_e = 1).
    """

    kappa: float | None
    units: int
    raters_min: int
    raters_max: int
    observed: float | None
    expected: float | None


def value_counts(
    unit_index: npt.NDArray[np.integer[Any]],
    value_index: npt.NDArray[np.integer[Any]],
    *,
    n_units: int,
    n_values: int,
) -> IntArray:
    """Turn (unit, value) pairs, one per annotation, into a units x V count matrix.

    Raises ValueError if the arrays differ in length or an index is out of range.
    """
    if unit_index.shape != value_index.shape:
        raise ValueError("unit_index and value_index must have the same shape")
    for name, index, bound in (
        ("unit", unit_index, n_units),
        ("value", value_index, n_values),
    ):
        if index.size and (index.min() < 0 or index.max() >= bound):
            raise ValueError(f"{name} index out of range 0..{bound - 1}")
    flat = unit_index.astype(np.int64) * n_values + value_index
    counts = np.bincount(flat.ravel(), minlength=n_units * n_values)
    return counts.astype(np.int64).reshape(n_units, n_values)


def one_vs_rest(counts: Counts, column: int) -> IntArray:
    """units x 2: [count of this value, count of every other value].

    Binary alpha on this matrix is the per-class agreement for that value.
    """
    this = counts[:, column].astype(np.int64)
    return np.stack([this, counts.sum(axis=1, dtype=np.int64) - this], axis=1)


def alpha(
    counts: Counts,
    level: Level,
    *,
    subsets: Sequence[frozenset[str]] | None = None,
    values: Sequence[float] | None = None,
) -> float | None:
    """Krippendorff's alpha of a units x V count matrix; None when undefined.

    Computed by the `krippendorff` package. Columns are in domain order; for
    interval and ratio, column j stands for values[j], default j + 1. The
    metric is the difference of those numbers (Krippendorff 2011), so a scale
    0, 1, 2, 4 must pass its values: by position its last step would count
    as 1, not 2. Ordinal alpha depends only on the order and the marginals.
    For "masi", the distance between columns is the MASI distance between
    their subsets. The package holds units x V x V floats; on large data
    `figures` gets the same number without them. Raises ValueError on
    malformed counts, subsets or values.
    """
    checked = _checked(counts, level, subsets, values)
    if not _defined(checked):
        return None
    metric: krippendorff.LevelOfMeasurement = (
        _lookup_metric(_masi_distances(subsets or ())) if level == "masi" else level
    )
    return float(
        krippendorff.alpha(
            value_counts=checked,
            value_domain=_column_values(checked.shape[1], values),
            level_of_measurement=metric,
        )
    )


def figures(
    specs: Mapping[str, Spec],
    *,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Figure]:
    """Every spec's alpha, with a bootstrap percentile interval over units.

    Each resample draws units with replacement, the same units for every spec
    (they share the unit axis), from a generator seeded with `seed`, so equal
    inputs give equal results. resamples=0 skips the bootstrap. Raises
    ValueError if the specs disagree on the number of units, or on a bad spec,
    resample count or confidence.
    """
    if resamples < 0:
        raise ValueError("resamples must be >= 0")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    checked = {
        name: _checked(spec.counts, spec.level, spec.subsets, spec.values)
        for name, spec in specs.items()
    }
    if len({counts.shape[0] for counts in checked.values()}) > 1:
        raise ValueError("every spec must have the same units (rows)")

    points = {name: coincidences(counts) for name, counts in checked.items()}
    alphas = {
        name: _alpha_from_coincidences(
            points[name], spec.level, subsets=spec.subsets, values=spec.values
        )
        for name, spec in specs.items()
    }
    defined = [name for name, value in alphas.items() if not np.isnan(value)]
    boot: dict[str, FloatArray] = {}
    if resamples and defined:
        rng = np.random.default_rng(seed)
        resampled = _resampled([checked[name] for name in defined], resamples, rng)
        boot = dict(zip(defined, resampled, strict=True))

    result = {}
    for name, spec in specs.items():
        o, m = points[name], checked[name].sum(axis=1)
        n = float(o.sum())
        low = high = None
        draws = np.empty(0)
        if name in boot:
            # The same metric as the point estimate: the columns' values.
            draws = _alpha_from_coincidences(
                boot[name], spec.level, subsets=spec.subsets, values=spec.values
            )
            draws = draws[~np.isnan(draws)]
        if len(draws):
            tail = (1 - confidence) / 2
            low, high = (float(q) for q in np.quantile(draws, [tail, 1 - tail]))
        result[name] = Figure(
            level=spec.level,
            alpha=None if np.isnan(alphas[name]) else float(alphas[name]),
            ci_low=low,
            ci_high=high,
            units=int((m >= 2).sum()),
            pairable=int(m[m >= 2].sum()),
            observed_agreement=float(np.trace(o)) / n if n else None,
            resamples=len(draws),
        )
    return result


def cohen_kappa(
    a: Sequence[object],
    b: Sequence[object],
    *,
    weights: Literal[None, "linear", "quadratic"] = None,
    labels: Sequence[object] | None = None,
) -> float | None:
    """Cohen's kappa of two annotators' labels for the same units; None if undefined.

    Computed by scikit-learn. Weighted kappa measures distance by position in
    `labels`, so pass them in scale order (default: the sorted distinct labels).
    Undefined means no units, or chance agreement of 1 (both use one label).
    Raises ValueError if a and b differ in length.
    """
    if len(a) != len(b):
        raise ValueError("a and b must label the same units")
    if not len(a):
        return None
    # Here, not at the top: scikit-learn brings scipy and pandas (2 s and
    # 150 MB), and this module is reached from the URLconf, which every
    # management command's system checks import.
    from sklearn.exceptions import UndefinedMetricWarning
    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        # Raised when both use one label, which the undefined result covers.
        warnings.filterwarnings("ignore", "A single label was found", UserWarning)
        kappa = cohen_kappa_score(
            list(a),
            list(b),
            labels=None if labels is None else list(labels),
            weights=weights,
            replace_undefined_by=np.nan,
        )
    return None if math.isnan(kappa) else float(kappa)


def fleiss_kappa(counts: Counts) -> float | None:
    """Fleiss' kappa of a units x V count matrix; None if undefined.

    Fleiss (1971) "Measuring nominal scale agreement among many raters":
    kappa = (P - Pe) / (1 - Pe), P the mean share of agreeing rater pairs per
    unit, Pe the sum of squared value shares. Undefined means no units, fewer
    than two raters, or one value throughout (Pe = 1). Raises ValueError unless
    every unit has the same number of raters.
    """
    n = counts.astype(np.float64)
    raters = n.sum(axis=1)
    if len(raters) == 0:
        return None
    if np.any(raters != raters[0]):
        raise ValueError("every unit must have the same number of raters")
    r = raters[0]
    if r < 2:
        return None
    p_bar = float(((n * (n - 1)).sum(axis=1) / (r * (r - 1))).mean())
    p_e = float(((n.sum(axis=0) / n.sum()) ** 2).sum())
    return None if p_e == 1 else (p_bar - p_e) / (1 - p_e)


def fleiss_figure(counts: Counts) -> FleissFigure:
    """Fleiss' kappa of a units x V count matrix whose units may have any
    number of values: Fleiss (1971) generalised as in Gwet (2014) "Handbook
    of Inter-Rater Reliability", 4th ed. (irrCAC's fleiss.kappa.raw).

    P_a is the mean over units with m_u >= 2 of
    sum_k n_uk (n_uk - 1) / (m_u (m_u - 1)); pi_k the mean over units with
    m_u >= 1 of n_uk / m_u; P_e = sum_k pi_k^2; kappa = (P_a - P_e) / (1 - P_e).
    With the same number of values on every unit this is Fleiss (1971)
    exactly, as `fleiss_kappa`. Units with one value count towards P_e only:
    pass counts[counts.sum(axis=1) >= 2] to leave them out. Raises ValueError
    on malformed counts.
    """
    checked = _checked(counts, "nominal", None, None)
    m = checked.sum(axis=1)
    pairable = m >= 2
    units = int(pairable.sum())
    if not units:
        return FleissFigure(None, 0, 0, 0, None, None)
    n = checked.astype(np.float64)
    mp = m[pairable].astype(np.float64)
    observed = float(
        ((n[pairable] * (n[pairable] - 1)).sum(axis=1) / (mp * (mp - 1))).mean()
    )
    rated = m >= 1
    shares = (n[rated] / m[rated, None]).mean(axis=0)
    expected = float((shares**2).sum())
    # One value throughout: P_e = 1 and kappa is 0 / 0. Decided on the counts,
    # not on a float compared with 1.
    one_value = np.count_nonzero(checked[rated].sum(axis=0)) < 2
    return FleissFigure(
        kappa=None if one_value else (observed - expected) / (1 - expected),
        units=units,
        raters_min=int(m[pairable].min()),
        raters_max=int(m[pairable].max()),
        observed=observed,
        expected=expected,
    )


def normalised_entropy(counts: Counts) -> float:
    """One unit's value counts -> Shannon entropy / log(V): 0 when all agree, 1 uniform.

    V is the number of values (columns), so 1 means spread evenly over every
    value of the field. 0 for fewer than two values given, or V < 2.
    """
    total = counts.sum()
    if total < 2 or len(counts) < 2:
        return 0.0
    p = counts[counts > 0] / total
    # Clamped: an even spread can come out a hair above 1 in floating point.
    return min(1.0, float(-(p * np.log(p)).sum() / math.log(len(counts))))


def _checked(
    counts: Counts,
    level: str,
    subsets: Sequence[frozenset[str]] | None,
    values: Sequence[float] | None,
) -> IntArray:
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}")
    if counts.ndim != 2 or not np.issubdtype(counts.dtype, np.integer):
        raise ValueError("counts must be a 2-D integer array (units x values)")
    if counts.size and counts.min() < 0:
        raise ValueError("counts must be non-negative")
    if level == "masi":
        if subsets is None or len(subsets) != counts.shape[1]:
            raise ValueError("level 'masi' needs one subset per column")
        if len(set(subsets)) != len(subsets):
            raise ValueError("each column must stand for a distinct subset")
    elif subsets is not None:
        raise ValueError("subsets apply to level 'masi' only")
    if values is not None:
        _checked_values(values, level, counts.shape[1])
    return counts.astype(np.int64, copy=False)


def _checked_values(values: Sequence[float], level: str, v: int) -> None:
    """Values must fit the columns: one each, increasing (the columns are in
    domain order, and distinct values keep every distance between distinct
    columns positive, which `_defined` relies on), and for ratio at least 0
    (a ratio scale starts at its zero; (c - k) / (c + k) needs c + k > 0)."""
    if level not in ("interval", "ratio"):
        raise ValueError("values apply to levels 'interval' and 'ratio' only")
    x = np.asarray(values, dtype=np.float64)
    if x.shape != (v,):
        raise ValueError("values need one value per column")
    if not np.all(np.isfinite(x)):
        raise ValueError("values must be finite")
    if np.any(np.diff(x) <= 0):
        raise ValueError("values must increase, column by column")
    if level == "ratio" and v and x[0] < 0:
        raise ValueError("ratio values must be non-negative")


def _column_values(v: int, values: Sequence[float] | None) -> FloatArray:
    """The number each column stands for: values, else 1..V."""
    if values is None:
        return np.arange(1.0, v + 1)
    return np.asarray(values, dtype=np.float64)


def _defined(counts: IntArray) -> bool:
    """Whether alpha is defined: two or more distinct values among pairable values.

    With columns standing for distinct values, every level's distance is
    positive between distinct columns, so this is exactly D_e > 0.
    """
    pairable = counts[counts.sum(axis=1) >= 2]
    return int(np.count_nonzero(pairable.sum(axis=0))) >= 2


def _pairing_scale(counts: IntArray) -> FloatArray:
    """1 / (m_u - 1) per unit; 0 where m_u < 2, as a lone value has no pair."""
    m = counts.sum(axis=1)
    return np.divide(1.0, m - 1, out=np.zeros(len(m)), where=m >= 2)


def coincidences(counts: IntArray) -> FloatArray:
    """The coincidence matrix o (V x V) of a units x V count matrix.

    Krippendorff (2011): o_ck = sum over units of n_uc (n_uk - [c = k]) / (m_u - 1).
    """
    n = counts.astype(np.float64)
    scaled = n * _pairing_scale(counts)[:, None]
    o: FloatArray = scaled.T @ n - np.diag(scaled.sum(axis=0))
    return o


def _resampled(
    counts: Sequence[IntArray], resamples: int, rng: np.random.Generator
) -> list[FloatArray]:
    """Each matrix's coincidences (resamples x V x V) over the same resampled units.

    A resample draws N units with replacement; unit u drawn w_u times adds w_u
    times its coincidences C_u, so the resample's o is w @ C. Every matrix's C
    (upper triangle only: o is symmetric) is stacked into one K x N array, so a
    chunk of resamples is one matrix product.
    """
    n_units = counts[0].shape[0]
    m = [c.sum(axis=1) for c in counts]
    # L * C_u is integral for L the lcm of a matrix's m_u - 1, with entries at
    # most L * m_u; a resample's weights sum to N. While N * L * m_u < 2**24,
    # float32 holds every product and partial sum exactly: exact results in half
    # the memory, whatever order BLAS sums in. Otherwise float64, unscaled.
    lcms = [math.lcm(*np.unique(mu[mu >= 2] - 1).tolist()) for mu in m]
    dtype: type[np.floating[Any]] = np.float32
    if (
        n_units * max(lcm * int(mu.max()) for lcm, mu in zip(lcms, m, strict=True))
        >= 2**24
    ):
        dtype, lcms = np.float64, [1] * len(counts)

    widths = [c.shape[1] * (c.shape[1] + 1) // 2 for c in counts]
    stacked = np.empty((sum(widths), n_units), dtype=dtype)
    row = 0
    for c, lcm in zip(counts, lcms, strict=True):
        n = c.T.astype(np.float64)
        scaled = n * (lcm * _pairing_scale(c))
        for i in range(len(n)):
            for k in range(i, len(n)):
                stacked[row] = scaled[i] * (n[k] - (i == k))
                row += 1

    chunk = max(1, min(resamples, _CHUNK_CELLS // n_units))
    weights = np.empty((chunk, n_units), dtype=dtype)
    triangles = np.empty((resamples, len(stacked)))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        for w in weights[:size]:
            w[:] = np.bincount(rng.integers(0, n_units, n_units), minlength=n_units)
        triangles[start : start + size] = weights[:size] @ stacked.T

    out = []
    offsets = np.cumsum([0, *widths])
    for c, lcm, begin, end in zip(counts, lcms, offsets[:-1], offsets[1:], strict=True):
        v = c.shape[1]
        rows, cols = np.triu_indices(v)
        o = np.zeros((resamples, v, v))
        o[:, rows, cols] = triangles[:, begin:end] / lcm
        o[:, cols, rows] = o[:, rows, cols]
        out.append(o)
    return out


def _alpha_from_coincidences(
    o: FloatArray,
    level: Level,
    *,
    subsets: Sequence[frozenset[str]] | None = None,
    values: Sequence[float] | None = None,
) -> FloatArray:
    """Alpha of coincidence matrices o (..., V, V), nan where undefined (D_e = 0).

    Krippendorff (2011): alpha = 1 - (n - 1) sum(o_ck d_ck) / sum(n_c n_k d_ck);
    the diagonal of the expected matrix drops out because d_cc = 0.
    """
    n_c = o.sum(axis=-1)
    n = n_c.sum(axis=-1)
    d = _distances(level, n_c, subsets, values)
    d_o = (o * d).sum(axis=(-2, -1))
    d_e = np.einsum("...c,...ck,...k->...", n_c, d, n_c)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d_e > 0, 1 - (n - 1) * d_o / d_e, np.nan)


def _distances(
    level: Level,
    n_c: FloatArray,
    subsets: Sequence[frozenset[str]] | None,
    values: Sequence[float] | None = None,
) -> FloatArray:
    """The level's difference d_ck (Krippendorff's delta squared) between columns.

    (V, V), except ordinal: (..., V, V), one matrix per set of marginals n_c.
    """
    v = n_c.shape[-1]
    # Interval and ratio (Krippendorff 2011): (c - k)^2 and ((c - k) / (c + k))^2
    # on the values the columns stand for, not on their positions.
    x = _column_values(v, values)
    if level == "nominal":
        return 1 - np.eye(v)
    if level == "interval":
        return np.subtract.outer(x, x) ** 2
    if level == "ratio":
        # 0 / 0 only on the diagonal when the scale starts at 0: distance 0,
        # as the krippendorff package has it.
        total = np.add.outer(x, x)
        ratio = np.divide(
            np.subtract.outer(x, x), total, out=np.zeros((v, v)), where=total != 0
        )
        return ratio**2
    if level == "masi":
        return _masi_distances(subsets or ())
    # Ordinal (Krippendorff 2011): d_ck = (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2,
    # which is (r_k - r_c)^2 for the mid-rank r_g = (n_1 + ... + n_g) - n_g / 2.
    # It depends on the marginals, so each resample gets its own.
    r = np.cumsum(n_c, axis=-1) - n_c / 2
    return (r[..., :, None] - r[..., None, :]) ** 2


def _masi_distance(a: frozenset[str], b: frozenset[str]) -> float:
    """MASI distance, Passonneau (2006): 1 - Jaccard(a, b) * M.

    M is 1 for identical sets, 2/3 when one is a subset of the other, 1/3 for
    overlap without subset, 0 when disjoint. Two empty sets are identical (0).
    """
    if a == b:
        return 0.0
    shared = len(a & b)
    if shared == min(len(a), len(b)):
        monotonicity = 2 / 3
    elif shared:
        monotonicity = 1 / 3
    else:
        return 1.0
    return 1 - shared / len(a | b) * monotonicity


def _masi_distances(subsets: Sequence[frozenset[str]]) -> FloatArray:
    return np.array([[_masi_distance(a, b) for b in subsets] for a in subsets])


def _lookup_metric(distances: FloatArray) -> krippendorff.DistanceMetric:
    """A `krippendorff` distance metric that looks columns up in a fixed matrix."""

    def metric(
        v1: npt.NDArray[Any],
        v2: npt.NDArray[Any],
        i1: npt.NDArray[np.int_],
        i2: npt.NDArray[np.int_],
        n_v: npt.NDArray[Any],
        dtype: npt.DTypeLike = np.float64,
    ) -> npt.NDArray[Any]:
        return distances[i1, i2].astype(dtype)

    return metric
