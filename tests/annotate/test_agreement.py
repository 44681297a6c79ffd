"""Known-answer tests for annotate.stats.agreement: published vectors, hand cases, CIs."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest

from annotate.stats import agreement
from annotate.stats.agreement import (
    Figure,
    Spec,
    alpha,
    cohen_kappa,
    figures,
    fleiss_figure,
    fleiss_kappa,
    normalised_entropy,
    one_vs_rest,
    value_counts,
)
from tests.vectors import AGREEMENT_VECTORS

VECTORS = AGREEMENT_VECTORS
ALPHA_VECTORS = [v for v in VECTORS if v["statistic"] == "krippendorff_alpha"]
KAPPA_STATISTICS = ("fleiss_kappa", "cohen_kappa", "cohen_kappa_linear_weighted")
KAPPA_VECTORS = [v for v in VECTORS if v["statistic"] in KAPPA_STATISTICS]
NUMERIC_LEVELS = ("nominal", "ordinal", "interval", "ratio")
SUBSETS = [frozenset(), frozenset("a"), frozenset("ab"), frozenset("bc")]


def each(vectors):
    return pytest.mark.parametrize("vector", vectors, ids=[v["name"] for v in vectors])


def domain(vector) -> list[object]:
    """What the columns stand for: value_domain if given, else sorted distinct values."""
    if "value_domain" in vector:
        return list(vector["value_domain"])
    data = vector["reliability_data"]
    return sorted({x for row in data for x in row if x is not None})


def counts_of(vector) -> np.ndarray:
    """coders x units reliability data (None = missing) -> units x V value counts."""
    data = vector["reliability_data"]
    column = {value: j for j, value in enumerate(domain(vector))}
    pairs = [(u, column[x]) for row in data for u, x in enumerate(row) if x is not None]
    units, values = np.array(pairs).T
    return value_counts(units, values, n_units=len(data[0]), n_values=len(column))


def random_counts(seed, *, units=60, coders=5, values=4, missing=0.3) -> np.ndarray:
    """Coders who give a unit's true value 60% of the time; some values missing."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, values, units)
    data = np.where(
        rng.random((coders, units)) < 0.6,
        truth,
        rng.integers(0, values, (coders, units)),
    )
    present = rng.random((coders, units)) >= missing
    unit = np.broadcast_to(np.arange(units), (coders, units))
    return value_counts(unit[present], data[present], n_units=units, n_values=values)


def defined(value: float | None) -> float:
    assert value is not None
    return value


def matches(computed: float | None, vector, expected: str) -> bool:
    """The vectors file's rule: |computed - expected| <= tolerance."""
    return bool(abs(defined(computed) - vector[expected]) <= vector["tolerance"])


def package_alpha(counts, level) -> float:
    """The krippendorff package on the same columns (column j is the value j + 1)."""
    domain = np.arange(1, counts.shape[1] + 1)
    return float(
        krippendorff.alpha(
            value_counts=counts, value_domain=domain, level_of_measurement=level
        )
    )


def own_alpha(counts, level, subsets=None, values=None) -> float:
    o = agreement.coincidences(counts)
    return float(
        agreement._alpha_from_coincidences(o, level, subsets=subsets, values=values)
    )


# Published vectors ---------------------------------------------------------


def test_every_vector_is_tested():
    assert len(ALPHA_VECTORS) + len(KAPPA_VECTORS) == len(VECTORS)


@each(ALPHA_VECTORS)
def test_alpha_matches_published_vector(vector):
    counts = counts_of(vector)
    level = vector["level_of_measurement"]
    if level in ("interval", "ratio"):  # alpha() reads column j as the value j + 1
        assert domain(vector) == list(range(1, counts.shape[1] + 1))

    assert matches(alpha(counts, level), vector, "expected_alpha")


@each(ALPHA_VECTORS)
def test_own_alpha_matches_package_and_vector(vector):
    counts = counts_of(vector)
    level = vector["level_of_measurement"]
    ours = own_alpha(counts, level)

    assert ours == pytest.approx(package_alpha(counts, level), abs=1e-12)
    assert matches(ours, vector, "expected_alpha")


@each(ALPHA_VECTORS)
def test_figures_point_estimate_matches_vector(vector):
    spec = Spec(counts_of(vector), vector["level_of_measurement"])
    figure = figures({"f": spec}, resamples=0)["f"]

    assert matches(figure.alpha, vector, "expected_alpha")


@each(KAPPA_VECTORS)
def test_kappa_matches_published_vector(vector):
    if vector["statistic"] == "fleiss_kappa":
        kappa = fleiss_kappa(counts_of(vector))
    else:
        a, b = vector["reliability_data"]
        weighted = vector["statistic"] == "cohen_kappa_linear_weighted"
        kappa = cohen_kappa(a, b, weights="linear" if weighted else None)

    assert matches(kappa, vector, "expected_kappa")


# Own alpha against the krippendorff package ---------------------------------


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("level", NUMERIC_LEVELS)
def test_own_alpha_matches_package_on_random_data(level, seed):
    counts = random_counts(seed)

    assert own_alpha(counts, level) == pytest.approx(
        package_alpha(counts, level), abs=1e-12
    )
    assert alpha(counts, level) == pytest.approx(
        package_alpha(counts, level), abs=1e-12
    )


@pytest.mark.parametrize("seed", range(5))
def test_own_masi_alpha_matches_package_with_masi_metric(seed):
    counts = random_counts(seed)

    assert own_alpha(counts, "masi", SUBSETS) == pytest.approx(
        alpha(counts, "masi", subsets=SUBSETS), abs=1e-12
    )


def test_ordinal_alpha_differs_from_nominal_and_depends_on_order():
    vector = next(
        v for v in VECTORS if v["name"] == "krippendorff2011_4x12_ordinal_string_labels"
    )
    counts = counts_of(vector)
    alphabetical = counts[:, np.argsort(vector["value_domain"])]

    assert alpha(counts, "ordinal") == pytest.approx(0.8154, abs=5e-4)
    assert alpha(counts, "nominal") == pytest.approx(0.7434, abs=5e-4)
    assert alpha(alphabetical, "nominal") == pytest.approx(alpha(counts, "nominal"))
    assert abs(defined(alpha(alphabetical, "ordinal")) - 0.8154) > 0.05


# MASI ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("ab", "ab", 0.0),
        ("", "", 0.0),
        ("a", "ab", 1 - 1 / 2 * 2 / 3),
        ("abc", "b", 1 - 1 / 3 * 2 / 3),
        ("ab", "bc", 1 - 1 / 3 * 1 / 3),
        ("ab", "cd", 1.0),
        ("", "a", 1.0),
    ],
)
def test_masi_distance(a, b, distance):
    pair = frozenset(a), frozenset(b)

    assert agreement._masi_distance(*pair) == pytest.approx(distance)
    assert agreement._masi_distance(*reversed(pair)) == pytest.approx(distance)


def test_masi_alpha_is_one_on_perfect_agreement():
    counts = np.array([[3, 0, 0, 0], [0, 3, 0, 0], [0, 0, 2, 0], [0, 0, 0, 3]])

    assert alpha(counts, "masi", subsets=SUBSETS) == 1.0
    assert figures({"m": Spec(counts, "masi", SUBSETS)}, resamples=0)["m"].alpha == 1.0


def test_masi_on_disjoint_singletons_is_nominal_alpha():
    counts = random_counts(7)
    singletons = [frozenset(x) for x in "abcd"]

    assert alpha(counts, "masi", subsets=singletons) == pytest.approx(
        alpha(counts, "nominal"), abs=1e-12
    )


def test_masi_alpha_hand_example():
    # {a} vs {a,b} (distance 2/3) in one unit, {b,c} twice in the other:
    # n = 4, sum(o d) = 2 * 2/3, sum(n_c n_k d) = 2 * (2/3 + 2 * 1 + 2 * 8/9) = 80/9,
    # alpha = 1 - 3 * (4/3) / (80/9) = 0.55; nominal gives 1 - 3 * 2 / 10 = 0.4.
    counts = np.array([[0, 1, 1, 0], [0, 0, 0, 2]])

    assert alpha(counts, "masi", subsets=SUBSETS) == pytest.approx(0.55)
    assert own_alpha(counts, "masi", SUBSETS) == pytest.approx(0.55)
    assert alpha(counts, "nominal") == pytest.approx(0.4)


# Figures: counts, undefined cases --------------------------------------------


def test_figure_counts_hand_example():
    # Units 0, 1 and 4 are pairable: o = [[2, 1], [1, 3]], n = 7, n_c = (3, 4),
    # alpha = 1 - (7 - 1) * 2 / (2 * 3 * 4) = 0.5.
    counts = np.array([[2, 0], [1, 1], [1, 0], [0, 0], [0, 3]])

    figure = figures({"f": Spec(counts, "nominal")}, resamples=0)["f"]

    assert figure == Figure(
        level="nominal",
        alpha=0.5,
        ci_low=None,
        ci_high=None,
        units=3,
        pairable=7,
        observed_agreement=5 / 7,
        resamples=0,
    )
    assert alpha(counts, "nominal") == 0.5


@pytest.mark.parametrize(
    ("counts", "units", "pairable", "observed"),
    [
        pytest.param([[3, 0]], 1, 3, 1.0, id="one_unit_all_agree"),
        pytest.param([[2, 0, 0], [3, 0, 0]], 2, 5, 1.0, id="one_value_everywhere"),
        pytest.param([[1, 0], [0, 1]], 0, 0, None, id="no_pairable_values"),
        pytest.param(np.zeros((0, 3), dtype=int), 0, 0, None, id="no_units"),
    ],
)
@pytest.mark.parametrize("level", [*NUMERIC_LEVELS, "masi"])
def test_undefined_alpha_is_none(counts, units, pairable, observed, level):
    counts = np.array(counts)
    subsets = SUBSETS[: counts.shape[1]] if level == "masi" else None

    figure = figures({"f": Spec(counts, level, subsets)}, resamples=50)["f"]

    assert alpha(counts, level, subsets=subsets) is None
    assert (figure.alpha, figure.ci_low, figure.ci_high) == (None, None, None)
    assert (figure.units, figure.pairable, figure.resamples) == (units, pairable, 0)
    assert figure.observed_agreement == observed


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (Spec(np.array([[1, 1]]), "masi"), "one subset per column"),
        (Spec(np.array([[1, 1]]), "masi", SUBSETS[:1]), "one subset per column"),
        (Spec(np.array([[1, 1]]), "masi", [SUBSETS[1]] * 2), "distinct"),
        (Spec(np.array([[1, 1]]), "nominal", SUBSETS[:2]), "masi"),
        (Spec(np.array([[1, 1]]), "cardinal"), "unknown level"),  # type: ignore[arg-type]
        (Spec(np.array([[1.0, 1.0]]), "nominal"), "integer"),
        (Spec(np.array([1, 1]), "nominal"), "2-D"),
        (Spec(np.array([[1, -1]]), "nominal"), "non-negative"),
    ],
)
def test_malformed_spec_is_rejected(spec, message):
    with pytest.raises(ValueError, match=message):
        figures({"f": spec}, resamples=0)
    with pytest.raises(ValueError, match=message):
        alpha(spec.counts, spec.level, subsets=spec.subsets)


def test_specs_must_share_the_unit_axis():
    specs = {
        "a": Spec(np.array([[1, 1]]), "nominal"),
        "b": Spec(np.array([[1, 1], [2, 0]]), "nominal"),
    }

    with pytest.raises(ValueError, match="same units"):
        figures(specs)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"resamples": -1}, "resamples"), ({"confidence": 1.0}, "confidence")],
)
def test_bad_bootstrap_options_are_rejected(options, message):
    with pytest.raises(ValueError, match=message):
        figures({"f": Spec(random_counts(0), "nominal")}, **options)


def test_no_specs_give_no_figures():
    assert figures({}) == {}


# Bootstrap -------------------------------------------------------------------


@pytest.mark.parametrize("level", [*NUMERIC_LEVELS, "masi"])
def test_interval_contains_the_point_estimate(level):
    subsets = SUBSETS if level == "masi" else None

    figure = figures({"f": Spec(random_counts(1), level, subsets)}, resamples=300)["f"]

    assert defined(figure.ci_low) < defined(figure.alpha) < defined(figure.ci_high)
    assert figure.resamples == 300


def test_bootstrap_is_reproducible_with_the_same_seed():
    specs = {"f": Spec(random_counts(2), "ordinal")}

    assert figures(specs, resamples=200, seed=5) == figures(
        specs, resamples=200, seed=5
    )
    assert figures(specs, resamples=200, seed=5) != figures(
        specs, resamples=200, seed=6
    )


def test_interval_narrows_with_more_units():
    def width(units):
        spec = Spec(random_counts(3, units=units), "nominal")
        figure = figures({"f": spec}, resamples=300)["f"]
        return defined(figure.ci_high) - defined(figure.ci_low)

    assert width(2000) < width(50) / 3


def test_no_resamples_gives_no_interval():
    figure = figures({"f": Spec(random_counts(4), "interval")}, resamples=0)["f"]

    assert figure.alpha is not None
    assert (figure.ci_low, figure.ci_high, figure.resamples) == (None, None, 0)


def test_every_spec_sees_the_same_resampled_units():
    counts = random_counts(5)
    specs = {
        "a": Spec(counts, "nominal"),
        "b": Spec(counts, "nominal"),
        # Swapping columns leaves nominal alpha unchanged, resample by resample.
        "swapped": Spec(counts[:, ::-1], "nominal"),
        "other": Spec(random_counts(6, values=2), "interval"),
    }

    result = figures(specs, resamples=100)

    intervals = {name: (f.ci_low, f.ci_high) for name, f in result.items()}
    assert intervals["a"] == intervals["b"]
    assert intervals["a"] == pytest.approx(intervals["swapped"], abs=1e-12)
    alone = figures({"a": specs["a"]}, resamples=100)["a"]
    assert (alone.ci_low, alone.ci_high) == intervals["a"]


def test_perfect_agreement_has_a_degenerate_interval():
    counts = np.array([[3, 0], [0, 2], [2, 0], [0, 3]] * 10)

    figure = figures({"f": Spec(counts, "nominal")}, resamples=100)["f"]

    assert (figure.alpha, figure.ci_low, figure.ci_high) == (1.0, 1.0, 1.0)


def test_resamples_without_variation_are_left_out():
    # Two units: a resample that draws the same unit twice has one value only.
    counts = np.array([[2, 0], [0, 2]])

    figure = figures({"f": Spec(counts, "nominal")}, resamples=200)["f"]

    assert 50 < figure.resamples < 150
    assert figure.ci_low == figure.ci_high == 1.0


def spread_counts(units, most) -> np.ndarray:
    """Units with 2, 3, ..., `most` values each, in turn, on 3 values."""
    rng = np.random.default_rng(units)
    m = 2 + np.arange(units) % (most - 1)
    return np.stack([rng.multinomial(k, [0.5, 0.3, 0.2]) for k in m])


@pytest.mark.parametrize(
    "wide",
    [
        # lcm(1..5) = 60: sums stay below 2**24, exact in float32.
        pytest.param(spread_counts(40, 6), id="float32"),
        # lcm(1..11) = 27720: they would not, so float64.
        pytest.param(spread_counts(600, 12), id="float64"),
    ],
)
def test_resampled_coincidences_are_those_of_the_drawn_units(wide, monkeypatch):
    n_units = len(wide)
    monkeypatch.setattr(agreement, "_CHUNK_CELLS", 2 * n_units)  # chunks of 2
    binary = one_vs_rest(wide, 0)

    boot_wide, boot_binary = agreement._resampled(
        [wide, binary], 5, np.random.default_rng(11)
    )

    replay = np.random.default_rng(11)
    for o_wide, o_binary in zip(boot_wide, boot_binary, strict=True):
        drawn = replay.integers(0, n_units, n_units)
        expected_wide = agreement.coincidences(wide[drawn])
        np.testing.assert_allclose(o_wide, expected_wide, rtol=1e-12)
        expected_binary = agreement.coincidences(binary[drawn])
        np.testing.assert_allclose(o_binary, expected_binary, rtol=1e-12)


# Helpers -----------------------------------------------------------------------


def test_value_counts_counts_unit_value_pairs():
    counts = value_counts(
        np.array([0, 0, 0, 2, 2]), np.array([1, 1, 0, 2, 1]), n_units=4, n_values=3
    )

    assert counts.tolist() == [[1, 2, 0], [0, 0, 0], [0, 1, 1], [0, 0, 0]]


@pytest.mark.parametrize(
    ("units", "values"),
    [([0, 3], [0, 0]), ([0, 0], [0, 2]), ([-1, 0], [0, 0]), ([0], [0, 1])],
)
def test_value_counts_rejects_bad_indices(units, values):
    with pytest.raises(ValueError, match="range|shape"):
        value_counts(np.array(units), np.array(values), n_units=3, n_values=2)


def test_one_vs_rest_splits_one_value_from_the_others():
    counts = np.array([[2, 1, 0], [0, 0, 3], [1, 1, 1], [0, 0, 0]])

    assert one_vs_rest(counts, 1).tolist() == [[1, 2], [0, 3], [1, 2], [0, 0]]


@pytest.mark.parametrize(
    ("counts", "entropy"),
    [
        ([3, 0, 0], 0.0),
        ([1, 1], 1.0),
        ([2, 2, 2], 1.0),
        (
            [2, 1, 0, 0],
            -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)) / math.log(4),
        ),
        ([1, 0, 0], 0.0),
        ([0, 0], 0.0),
        ([4], 0.0),
    ],
)
def test_normalised_entropy(counts, entropy):
    assert normalised_entropy(np.array(counts)) == pytest.approx(entropy)


def test_fleiss_kappa_is_none_with_one_category_throughout():
    assert fleiss_kappa(np.array([[3, 0], [3, 0]])) is None


def test_fleiss_kappa_needs_the_same_number_of_raters_per_unit():
    with pytest.raises(ValueError, match="same number of raters"):
        fleiss_kappa(np.array([[3, 0], [1, 1]]))


def test_cohen_kappa_is_none_when_both_use_one_label():
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None
    assert cohen_kappa([], []) is None


def test_weighted_cohen_kappa_follows_the_label_order():
    a, b = ["low", "mid", "high", "mid"], ["low", "high", "high", "low"]

    in_order = cohen_kappa(a, b, weights="linear", labels=["low", "mid", "high"])
    alphabetical = cohen_kappa(a, b, weights="linear")

    assert in_order != pytest.approx(alphabetical)
    assert cohen_kappa(a, b) == cohen_kappa(a, b, labels=["low", "mid", "high"])


# Interval and ratio alpha on the levels' values ---------------------------------

# Hayes & Krippendorff's news tone (0-3) with 3 moved to 4: a scale whose
# levels are not evenly spaced, as a label set's rating scale may be.
UNEVEN = [0, 1, 2, 4]


def uneven_tone() -> tuple[list[list[float]], np.ndarray]:
    """The news-tone data on the scale 0, 1, 2, 4: (reliability data, counts)."""
    v = next(
        v for v in VECTORS if v["name"] == "hayes_krippendorff2007_news_tone_ordinal"
    )
    data = [
        [math.nan if x is None else (4.0 if x == 3 else float(x)) for x in row]
        for row in v["reliability_data"]
    ]
    column = {value: j for j, value in enumerate(UNEVEN)}
    pairs = [(u, column[int(x)]) for row in data for u, x in enumerate(row) if x == x]
    units, values = np.array(pairs).T
    counts = value_counts(units, values, n_units=len(data[0]), n_values=len(UNEVEN))
    return data, counts


@pytest.mark.parametrize("level", ["interval", "ratio"])
def test_interval_and_ratio_alpha_use_the_levels_values(level):
    data, counts = uneven_tone()
    expected = float(
        krippendorff.alpha(
            reliability_data=data, level_of_measurement=level, value_domain=UNEVEN
        )
    )
    spec = Spec(counts, level, values=UNEVEN)

    assert alpha(counts, level, values=UNEVEN) == pytest.approx(expected, abs=1e-12)
    assert own_alpha(counts, level, values=UNEVEN) == pytest.approx(expected, abs=1e-12)
    assert defined(figures({"f": spec}, resamples=0)["f"].alpha) == pytest.approx(
        expected, abs=1e-12
    )
    # By position (0, 1, 2, 3) the figure is another: 0.7574 against 0.7180.
    assert abs(defined(alpha(counts, level)) - expected) > 0.02


def test_interval_alpha_is_unchanged_by_evenly_spaced_values():
    counts = random_counts(8)

    assert alpha(counts, "interval", values=[0, 2, 4, 6]) == pytest.approx(
        alpha(counts, "interval"), abs=1e-12
    )


def test_ordinal_alpha_of_the_uneven_scale_is_the_published_one():
    # Ordinal alpha depends on the order and the marginals only.
    _, counts = uneven_tone()

    assert alpha(counts, "ordinal") == pytest.approx(0.7598, abs=5e-4)


def test_interval_bootstrap_uses_the_levels_values():
    _, counts = uneven_tone()
    resamples, seed = 200, 3

    figure = figures(
        {"f": Spec(counts, "interval", values=UNEVEN)}, resamples=resamples, seed=seed
    )["f"]

    # Replay the draws and ask the package for each resample's alpha.
    rng = np.random.default_rng(seed)
    n_units = len(counts)
    draws = []
    for _ in range(resamples):
        drawn = counts[rng.integers(0, n_units, n_units)]
        draws.append(
            krippendorff.alpha(
                value_counts=drawn,
                value_domain=UNEVEN,
                level_of_measurement="interval",
            )
        )
    low, high = np.quantile([d for d in draws if not np.isnan(d)], [0.025, 0.975])
    assert (figure.ci_low, figure.ci_high) == pytest.approx((low, high), abs=1e-12)


@pytest.mark.parametrize(
    ("level", "values", "message"),
    [
        ("nominal", [1, 2, 3, 4], "'interval' and 'ratio'"),
        ("ordinal", [1, 2, 3, 4], "'interval' and 'ratio'"),
        ("interval", [1, 2, 3], "one value per column"),
        ("interval", [0, 2, 1, 4], "increase"),
        ("interval", [0, 1, 1, 4], "increase"),
        ("interval", [0, 1, 2, math.inf], "finite"),
        ("ratio", [-1, 0, 1, 2], "non-negative"),
    ],
)
def test_bad_values_are_rejected(level, values, message):
    counts = random_counts(0)

    with pytest.raises(ValueError, match=message):
        figures({"f": Spec(counts, level, values=values)}, resamples=0)
    with pytest.raises(ValueError, match=message):
        alpha(counts, level, values=values)


# Fleiss' kappa with varying numbers of raters -----------------------------------


def test_generalised_fleiss_kappa_is_fleiss_with_equal_raters():
    vector = next(v for v in VECTORS if v["statistic"] == "fleiss_kappa")
    counts = counts_of(vector)

    figure = fleiss_figure(counts)

    assert figure.kappa == pytest.approx(defined(fleiss_kappa(counts)), abs=1e-12)
    assert matches(figure.kappa, vector, "expected_kappa")
    assert (figure.units, figure.raters_min, figure.raters_max) == (10, 14, 14)


def test_generalised_fleiss_kappa_matches_gwet_with_missing_ratings():
    # Gwet (2014) Handbook of Inter-Rater Reliability, 4th ed., p. 120: the
    # Krippendorff 4 x 12 data. irrCAC (afergadis/irrCAC irrCAC/raw.py,
    # CAC(raw_4raters()).fleiss()) prints kappa 0.76117, pa 0.81818, pe 0.23872.
    vector = next(v for v in VECTORS if v["name"] == "krippendorff2011_4x12_nominal")

    figure = fleiss_figure(counts_of(vector))

    assert figure.kappa == pytest.approx(0.76117, abs=5e-6)
    assert figure.observed == pytest.approx(0.81818, abs=5e-6)
    assert figure.expected == pytest.approx(0.23872, abs=5e-6)
    # Unit 12 has one value: it counts towards P_e only.
    assert (figure.units, figure.raters_min, figure.raters_max) == (11, 2, 4)


def test_generalised_fleiss_kappa_matches_gwet_on_five_observers():
    # Gwet (2014), 5 observers x 15 units, scale 0-3, 3 to 5 ratings a unit
    # (irrCAC raw_5observers; test/unit/irrCAC/raw/test_fleiss.py: kappa
    # 0.458, pa 0.616, pe 0.291 to three places).
    observers: list[list[int | None]] = [
        [1, 1, 2, None, 0, 0, 1, 1, 2, 2, None, 0, 1, 3, 1],
        [1, 1, 3, 0, 0, 0, 0, None, 2, 1, 1, 0, 2, 3, 1],
        [2, 0, 3, 0, 0, 0, 2, 2, 2, 1, 0, 0, 2, 2, 1],
        [None, 1, 3, None, None, None, None, 0, None, 1, 0, 0, 2, 2, None],
        [2, None, None, 0, 0, 0, 1, None, 2, None, None, None, None, 3, 1],
    ]
    pairs = [(u, x) for row in observers for u, x in enumerate(row) if x is not None]
    units, values = np.array(pairs).T

    figure = fleiss_figure(value_counts(units, values, n_units=15, n_values=4))

    assert figure.kappa == pytest.approx(0.458, abs=5e-4)
    assert figure.observed == pytest.approx(0.616, abs=5e-4)
    assert figure.expected == pytest.approx(0.291, abs=5e-4)
    assert (figure.units, figure.raters_min, figure.raters_max) == (15, 3, 5)


@pytest.mark.parametrize(
    ("counts", "units"),
    [
        pytest.param([[3, 0], [2, 0]], 2, id="one_value_throughout"),
        pytest.param([[1, 0], [0, 1]], 0, id="no_unit_with_two_values"),
        pytest.param(np.zeros((0, 2), dtype=int), 0, id="no_units"),
    ],
)
def test_generalised_fleiss_kappa_undefined(counts, units):
    figure = fleiss_figure(np.array(counts))

    assert figure.kappa is None
    assert figure.units == units
