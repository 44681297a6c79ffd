"""Agreement through the app's own path: annotations in the database -> value
counts -> alpha, checked against published worked examples."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import krippendorff
import numpy as np
import pytest
from django.utils import timezone

from annotate.models import Annotation, Item, Project
from annotate.services.agreement import Filters, agreement_report
from annotate.stats import agreement
from annotate.stats.agreement import Spec
from labelsets.services import labelset_load
from tests.factories import (
    ItemFactory,
    MembershipFactory,
    ProjectFactory,
    TranscriptFactory,
    UserFactory,
)
from tests.vectors import AGREEMENT_VECTORS

pytestmark = pytest.mark.django_db

VECTORS = AGREEMENT_VECTORS
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def vector(name: str) -> dict[str, Any]:
    return next(v for v in VECTORS if v["name"] == name)


def _domain(v: dict[str, Any]) -> list[Any]:
    values = {x for row in v["reliability_data"] for x in row if x is not None}
    return v.get("value_domain") or sorted(values)


def project_with(
    v: dict[str, Any],
    *,
    field_kind: str,
    scale: Sequence[int] | None = None,
    **project_kw,
) -> Project:
    """A project whose label set has one field `f` holding the vector's data:
    coders become annotators, units items, values annotations. A rating
    field's levels have the values `scale`, one per domain value in order
    (default 1..k)."""
    domain = _domain(v)
    if field_kind == "single":
        field = {"name": "f", "kind": "single", "key": True}
        field["options"] = [{"value": str(x)} for x in domain]
        as_value: Any = str
    else:  # rating: the domain's order as the scale's levels
        levels = list(scale) if scale is not None else list(range(1, len(domain) + 1))
        field = {"name": "f", "kind": "rating"}
        field["scale"] = [
            {"value": level, "label": str(x)}
            for level, x in zip(levels, domain, strict=True)
        ]
        level_of = dict(zip(domain, levels, strict=True))
        as_value = level_of.__getitem__
    version, _ = labelset_load(
        now=timezone.now(),
        data={"name": f"vec-{uuid.uuid4().hex[:8]}", "fields": [field]},
    )
    project = ProjectFactory(label_set_version=version, **project_kw)
    data = v["reliability_data"]
    items = [ItemFactory(project=project, slots_left=0) for _ in data[0]]
    annotations = []
    for c, row in enumerate(data):
        coder = UserFactory(username=f"coder{c}-{project.pk}")
        MembershipFactory(user=coder, project=project)
        for item, x in zip(items, row, strict=True):
            if x is not None:
                annotations.append(
                    Annotation(
                        item=item,
                        annotator=coder,
                        label_set_version=version,
                        values={"f": as_value(x)},
                        client_uuid=uuid.uuid4(),
                        created_at=NOW,
                        updated_at=NOW,
                    )
                )
    Annotation.objects.bulk_create(annotations)
    return project


def figure(report: dict[str, Any], level: str) -> dict[str, Any]:
    (field,) = report["fields"]
    return next(f for f in field["figures"] if f["level"] == level)


ALPHA_VECTORS = [
    v["name"]
    for v in VECTORS
    if v["statistic"] == "krippendorff_alpha"
    and v["level_of_measurement"] in ("nominal", "ordinal", "interval")
]


@pytest.mark.parametrize("name", ALPHA_VECTORS)
def test_published_alphas_come_out_of_the_database(name):
    v = vector(name)
    level = v["level_of_measurement"]
    kind = "single" if level == "nominal" else "rating"

    report = agreement_report(
        project=project_with(v, field_kind=kind), resamples=0, now=NOW
    )

    assert figure(report, level)["alpha"] == pytest.approx(
        v["expected_alpha"], abs=v["tolerance"]
    )


def test_ordinal_alpha_differs_from_nominal_on_the_same_ratings():
    v = vector("krippendorff2011_4x12_ordinal")
    ordinal = figure(
        agreement_report(
            project=project_with(v, field_kind="rating"), resamples=0, now=NOW
        ),
        "ordinal",
    )["alpha"]
    nominal = figure(
        agreement_report(
            project=project_with(v, field_kind="single"), resamples=0, now=NOW
        ),
        "nominal",
    )["alpha"]

    assert ordinal == pytest.approx(0.815, abs=5e-4)
    assert nominal == pytest.approx(0.743421052632, abs=1e-9)
    assert ordinal - nominal > 0.05


def test_the_figures_carry_the_numbers_behind_them_and_a_seeded_interval():
    v = vector("krippendorff2011_4x12_nominal")
    project = project_with(v, field_kind="single")

    report = agreement_report(project=project, resamples=200, seed=7, now=NOW)
    again = agreement_report(project=project, resamples=200, seed=7, now=NOW)
    nominal = figure(report, "nominal")

    # 12 units, of which 11 have two or more values; 41 values, 40 pairable.
    assert (nominal["units"], nominal["pairable"]) == (11, 40)
    low, high = nominal["ci"]
    assert low <= nominal["alpha"] <= high
    assert nominal["ci"] == figure(again, "nominal")["ci"]
    assert report["counts"] == {
        "annotations": 41,
        "items": 12,
        "annotators": 4,
        "project_annotations": project.annotations_total,
    }
    (field,) = report["fields"]
    assert [c["value"] for c in field["classes"]] == ["1", "2", "3", "4", "5"]
    assert report["coincidence"]["values"] == ["1", "2", "3", "4", "5"]
    assert sum(map(sum, report["coincidence"]["matrix"])) == pytest.approx(
        40, abs=0.01
    )  # cells rounded to 3 places


def test_kappa_between_two_annotators_matches_the_textbook_table():
    # SAS/STAT "Cohen's kappa", table 10: two raters, three categories.
    v = vector("sas_cohen_table10_unweighted")
    # The table twice over: kappa is unchanged when every cell doubles, and
    # 38 shared items clear the minimum of 20 that its 19 do not.
    data = {"reliability_data": [row * 2 for row in v["reliability_data"]]}
    pairs = 2 * len(v["reliability_data"][0])

    report = agreement_report(
        project=project_with(data, field_kind="single"), resamples=0, now=NOW
    )

    matrix = report["kappa"]["f"]["matrix"]
    assert matrix[0][1] == pytest.approx(v["expected_kappa"], abs=v["tolerance"])
    assert matrix[0][1] == matrix[1][0]
    assert report["kappa"]["f"]["shared"][0][1] == pairs


def test_a_pair_with_fewer_than_20_shared_items_gets_a_kappa_marked_unreliable():
    a, b = [1, 2, 1] * 6, [1, 2, 2] * 6  # 18 shared
    data = {"reliability_data": [a, b]}

    report = agreement_report(
        project=project_with(data, field_kind="single"), resamples=0, now=NOW
    )

    kappa = report["kappa"]["f"]
    expected = agreement.cohen_kappa(a, b)
    assert kappa["all_pairs"][0][1] == pytest.approx(expected, abs=1e-12)
    assert kappa["all_pairs"][1][0] == kappa["all_pairs"][0][1]
    assert kappa["shared"][0][1] == 18
    assert kappa["min_shared"] == 20
    # "matrix" keeps its meaning: only pairs with at least 20 shared items.
    assert kappa["matrix"][0][1] is None


def test_a_pair_sharing_one_item_gets_no_kappa():
    data = {"reliability_data": [[1, 2, None], [None, 2, 1]]}  # 1 shared

    report = agreement_report(
        project=project_with(data, field_kind="single"), resamples=0, now=NOW
    )

    kappa = report["kappa"]["f"]
    assert kappa["shared"][0][1] == 1
    assert kappa["all_pairs"][0][1] is None
    assert kappa["matrix"][0][1] is None


def test_the_annotator_who_disagrees_drags_alpha_down_and_misses_the_majority():
    agree = [1, 2, 3, 1, 2, 3, 1, 2, 3, 1]
    data = {"reliability_data": [agree, agree, [3, 1, 2, 3, 1, 2, 3, 1, 2, 3]]}

    report = agreement_report(
        project=project_with(data, field_kind="single"), resamples=0, now=NOW
    )

    rows = {r["username"].split("-")[0]: r for r in report["annotators"]}
    assert rows["coder2"]["majority_agreement"]["f"] == {"share": 0.0, "compared": 10}
    # coder0's others split one against one: no majority to compare with.
    assert rows["coder0"]["majority_agreement"]["f"] == {"share": None, "compared": 0}
    assert rows["coder2"]["alpha_without"]["f"] == pytest.approx(1.0)
    assert rows["coder0"]["alpha_without"]["f"] < 0


def test_fields_hidden_by_show_if_are_missing_not_zero(annotator, other_annotator):
    project = ProjectFactory()  # refusal-v1: quality ratings show only for refusals
    item = ItemFactory(project=project, slots_left=0)
    base = {"request_harm": "benign", "appropriateness": "appropriate_compliance"}
    for user, values in (
        (annotator, {**base, "refusal_type": "none", "failure_modes": []}),
        (other_annotator, {**base, "refusal_type": "none", "failure_modes": []}),
    ):
        Annotation.objects.create(
            item=item,
            annotator=user,
            label_set_version=project.label_set_version,
            values=values,
            created_at=NOW,
            updated_at=NOW,
        )

    report = agreement_report(project=project, resamples=0, now=NOW)

    fields = {f["name"]: f for f in report["fields"]}
    assert fields["acknowledge"]["figures"][0]["pairable"] == 0
    assert fields["acknowledge"]["figures"][0]["alpha"] is None
    assert fields["refusal_type"]["figures"][0]["pairable"] == 2
    assert fields["refusal_type"]["key"] is True


def test_filters_pick_the_annotations_by_model_and_day():
    v = vector("krippendorff2011_4x12_nominal")
    project = project_with(v, field_kind="single")
    other = TranscriptFactory(project=project, source_model="model-b")
    item = Item.objects.create(project=project, transcript=other, slots_left=0)
    late = NOW + timedelta(days=10)
    for user in project.memberships.values_list("user", flat=True)[:2]:
        Annotation.objects.create(
            item=item,
            annotator_id=user,
            label_set_version=project.label_set_version,
            values={"f": "1"},
            created_at=late,
            updated_at=late,
        )

    only_b = agreement_report(
        project=project, filters=Filters(source_model="model-b"), resamples=0, now=NOW
    )
    first_day = agreement_report(
        project=project, filters=Filters(until=NOW.date()), resamples=0, now=NOW
    )

    assert only_b["counts"]["annotations"] == 2
    assert first_day["counts"]["annotations"] == 41
    assert [
        w["week"]
        for w in agreement_report(project=project, resamples=0, now=NOW)["weekly"]
    ] == [
        "2026-W49",
        "2026-W50",
    ]


def test_interval_alpha_uses_the_rating_levels_values():
    # The news-tone data (tone 0-3) on a scale whose last level is 4, not 3.
    v = vector("hayes_krippendorff2007_news_tone_ordinal")
    uneven = [0, 1, 2, 4]
    level_of = {0: 0, 1: 1, 2: 2, 3: 4}
    data = [
        [np.nan if x is None else float(level_of[int(x)]) for x in row]
        for row in v["reliability_data"]
    ]
    expected = float(
        krippendorff.alpha(
            reliability_data=data, level_of_measurement="interval", value_domain=uneven
        )
    )
    project = project_with(v, field_kind="rating", scale=uneven)

    report = agreement_report(project=project, resamples=100, seed=4, now=NOW)

    interval = figure(report, "interval")
    assert interval["alpha"] == pytest.approx(expected, abs=1e-9)  # 0.7180
    # Ordinal alpha depends on the order only: still the published .7598.
    assert figure(report, "ordinal")["alpha"] == pytest.approx(
        v["expected_alpha"], abs=v["tolerance"]
    )
    (field,) = report["fields"]
    assert field["scale_values"] == uneven
    # The interval is the bootstrap of the same metric, on the same draws.
    counts = np.array(
        [
            [sum(1 for row in data if row[u] == value) for value in uneven]
            for u in range(len(data[0]))
        ]
    )
    alone = agreement.figures(
        {"f": Spec(counts, "interval", values=uneven)}, resamples=100, seed=4
    )["f"]
    assert interval["ci"] == pytest.approx([alone.ci_low, alone.ci_high], abs=1e-9)


def test_single_fields_report_fleiss_kappa_beside_alpha():
    # The Fleiss (1971) example, as annotations: 10 items, 14 raters each.
    v = next(v for v in VECTORS if v["statistic"] == "fleiss_kappa")

    report = agreement_report(
        project=project_with(v, field_kind="single"), resamples=0, now=NOW
    )

    (field,) = report["fields"]
    fleiss = field["fleiss"]
    assert fleiss["kappa"] == pytest.approx(v["expected_kappa"], abs=v["tolerance"])
    assert fleiss["items"] == 10
    assert fleiss["labels_per_item"] == [14, 14]
    assert field["figures"][0]["level"] == "nominal"  # alpha stays first


def test_fleiss_kappa_counts_only_items_with_two_labels_or_more():
    # The Krippendorff 4 x 12 data: item 12 has one label, so 11 items count,
    # with 2 to 4 labels each; Gwet's generalisation over those 11 items.
    v = vector("krippendorff2011_4x12_nominal")

    report = agreement_report(
        project=project_with(v, field_kind="single"), resamples=0, now=NOW
    )

    fleiss = report["fields"][0]["fleiss"]
    assert (fleiss["items"], fleiss["labels_per_item"]) == (11, [2, 4])
    counts = np.array(
        [
            [
                sum(1 for row in v["reliability_data"] if row[u] == x)
                for x in range(1, 6)
            ]
            for u in range(11)
        ]
    )
    expected = agreement.fleiss_figure(counts)
    assert fleiss["kappa"] == pytest.approx(expected.kappa, abs=1e-12)
    assert fleiss["observed_agreement"] == pytest.approx(0.81818, abs=5e-6)
