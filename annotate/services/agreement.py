"""Agreement from the database: reliability data per field, then every figure.

One `values_list` query brings the annotations' field values out as text (the
JSON keys extracted by the database), numpy turns them into units x values
count matrices, and annotate/agreement.py computes. No per-annotation Python
objects beyond the fetched tuples. Only annotations of the project's current
label set version count; a field hidden by show_if has no value for that
annotation, so it is missing there, never a zero.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from django import forms
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.db.models.fields.json import KeyTextTransform, KeyTransform

from annotate.inputs import fields_parse
from annotate.models import Annotation, Membership, Project
from annotate.stats import agreement
from annotate.stats.agreement import Figure, Spec
from labelsets.schema import Field, Schema

# Cohen's kappa of a pair sharing fewer items than this is shown, but marked
# unreliable; "matrix" in the report holds only the pairs that reach it.
MIN_SHARED_FOR_KAPPA = 20
# One shared item gives a kappa of 0 or undefined, never information.
MIN_SHARED_TO_COMPUTE_KAPPA = 2
type Progress = Callable[[str, int, int], None]
type Codes = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Filters:
    """Which annotations the figures are computed on; empty means all."""

    source_model: str = ""
    dataset: str = ""
    category: str = ""  # transcript metadata["category"]
    since: date | None = None  # annotation day, inclusive
    until: date | None = None
    annotators: tuple[int, ...] = ()
    # "seen": only annotations made with the model's pre-labels on screen;
    # "unseen": only those made without; "": all.
    prelabels: str = ""

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["since"] = self.since.isoformat() if self.since else None
        data["until"] = self.until.isoformat() if self.until else None
        data["annotators"] = list(self.annotators)
        # Only when set: a job's params are how a report is found again, and
        # those stored before this filter existed say nothing of it.
        if not self.prelabels:
            del data["prelabels"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Filters:
        return cls(
            source_model=str(data.get("source_model") or ""),
            dataset=str(data.get("dataset") or ""),
            category=str(data.get("category") or ""),
            since=date.fromisoformat(data["since"]) if data.get("since") else None,
            until=date.fromisoformat(data["until"]) if data.get("until") else None,
            annotators=tuple(int(a) for a in data.get("annotators") or ()),
            prelabels=str(data.get("prelabels") or ""),
        )


def annotator_ids(*, project: Project, usernames: str) -> tuple[int, ...]:
    """Comma-separated usernames of the project's members as their ids, in
    order; () for none. Raises ValidationError (field `annotators`) naming
    those who are not members."""
    names = [n.strip() for n in usernames.split(",") if n.strip()]
    found = dict(
        Membership.objects.filter(
            project=project, user__username__in=names
        ).values_list("user__username", "user_id")
    )
    missing = [n for n in names if n not in found]
    if missing:
        raise ValidationError(
            {"annotators": f"Not members of this project: {', '.join(missing)}."}
        )
    return tuple(sorted({found[n] for n in names}))


def agreement_params(
    *, filters: Filters, resamples: int = 1000, seed: int = 0
) -> dict[str, object]:
    """What an agreement job computes, as stored on the job: two requests for
    the same figures find the same job."""
    return {"filters": filters.as_dict(), "resamples": resamples, "seed": seed}


# The rules for each input, whoever gives it: form fields used as parsers.
_INPUT_FIELDS: dict[str, forms.Field] = {
    "source_model": forms.CharField(required=False, max_length=200),
    "dataset": forms.CharField(required=False, max_length=200),
    "category": forms.CharField(required=False, max_length=200),
    "since": forms.DateField(required=False),
    "until": forms.DateField(required=False),
    "annotators": forms.CharField(required=False, max_length=2000),
    "prelabels": forms.ChoiceField(
        required=False, choices=[("", "all"), ("seen", "seen"), ("unseen", "unseen")]
    ),
    "resamples": forms.IntegerField(required=False, min_value=0, max_value=10_000),
    "seed": forms.IntegerField(required=False, min_value=0),
}


@dataclass(frozen=True)
class AgreementRequest:
    """Which agreement figures were asked for."""

    filters: Filters
    resamples: int
    seed: int

    @property
    def params(self) -> dict[str, object]:
        return agreement_params(
            filters=self.filters, resamples=self.resamples, seed=self.seed
        )


def agreement_request_parse(
    *, project: Project, data: Mapping[str, Any]
) -> AgreementRequest:
    """The agreement figures asked for, from input: the agreement page, the
    API and manage.py agreement parse theirs here.

    Keys, all optional: source_model, dataset, category, since and until
    (annotation days, YYYY-MM-DD, since not after until), annotators
    (usernames of members, comma-separated), resamples (0..10,000, default
    1000), seed. Other keys are ignored. Raises ValidationError naming every
    bad key.
    """
    clean, errors = fields_parse(_INPUT_FIELDS, data)
    since, until = clean.get("since"), clean.get("until")
    if since and until and since > until:
        errors["until"] = ["Must not be before the first day."]
    annotators: tuple[int, ...] = ()
    if "annotators" in clean:
        try:
            annotators = annotator_ids(project=project, usernames=clean["annotators"])
        except ValidationError as e:
            errors.update(e.message_dict)
    if errors:
        raise ValidationError(errors)
    resamples = clean["resamples"]
    return AgreementRequest(
        filters=Filters(
            source_model=clean["source_model"],
            dataset=clean["dataset"],
            category=clean["category"],
            since=since,
            until=until,
            annotators=annotators,
            prelabels=clean["prelabels"],
        ),
        resamples=1000 if resamples is None else resamples,
        seed=clean["seed"] or 0,
    )


@dataclass
class _Data:
    """The fetched annotations as parallel columns."""

    units: Codes  # unit index per annotation
    coders: Codes  # annotator index per annotation
    weeks: list[str]  # ISO week per annotation
    columns: dict[str, list[Any]]  # field name -> raw value per annotation
    item_ids: list[int]
    annotator_ids: list[int]
    seconds: npt.NDArray[np.float64]  # seconds spent per annotation
    fetch_seconds: float = 0.0


@dataclass
class _Field:
    """One field's codes: per annotation the value's column, -1 when missing."""

    field: Field
    values: list[str]  # column j's value, in domain order
    labels: list[str]
    codes: Codes
    counts: npt.NDArray[np.int64]


def _annotations(
    project: Project, filters: Filters, *, human: bool = True
) -> QuerySet[Annotation]:
    qs = Annotation.objects.filter(
        item__project=project,
        label_set_version_id=project.label_set_version_id,
        is_human=human,
    )
    if filters.source_model:
        qs = qs.filter(item__transcript__source_model=filters.source_model)
    if filters.dataset:
        qs = qs.filter(item__transcript__dataset=filters.dataset)
    if filters.category:
        qs = qs.filter(item__transcript__metadata__category=filters.category)
    if filters.since:
        qs = qs.filter(created_at__date__gte=filters.since)
    if filters.until:
        qs = qs.filter(created_at__date__lte=filters.until)
    if filters.annotators:
        qs = qs.filter(annotator_id__in=filters.annotators)
    if filters.prelabels:
        qs = qs.filter(prelabels__isnull=filters.prelabels == "unseen")
    return qs


def _fetch(project: Project, schema: Schema, filters: Filters) -> _Data:
    started = time.perf_counter()
    fields = [f for f in schema.fields if f.kind != "text"]
    extracted = {
        f"v{i}": KeyTextTransform(f.name, "values") for i, f in enumerate(fields)
    }
    rows = list(
        _annotations(project, filters)
        .annotate(**extracted)
        .values_list(
            "item_id", "annotator_id", "created_at", "seconds_spent", *extracted
        )
    )
    columns: list[list[Any]] = [list(c) for c in zip(*rows, strict=True)] or [
        [] for _ in range(4 + len(fields))
    ]
    item_ids, units = np.unique(
        np.asarray(columns[0], dtype=np.int64), return_inverse=True
    )
    annotator_ids, coders = np.unique(
        np.asarray(columns[1], dtype=np.int64), return_inverse=True
    )
    weeks_of: dict[date, str] = {}
    weeks = []
    for created in columns[2]:
        day = created.date()
        if (week := weeks_of.get(day)) is None:
            year, number, _ = day.isocalendar()
            week = weeks_of[day] = f"{year}-W{number:02d}"
        weeks.append(week)
    return _Data(
        units=units.astype(np.int64),
        coders=coders.astype(np.int64),
        weeks=weeks,
        columns={f.name: columns[4 + i] for i, f in enumerate(fields)},
        item_ids=[int(i) for i in item_ids],
        annotator_ids=[int(a) for a in annotator_ids],
        seconds=np.asarray(columns[3], dtype=np.float64),
        fetch_seconds=time.perf_counter() - started,
    )


def _coded(data: _Data, f: Field, values: list[str], raw: list[Any]) -> _Field:
    index = {v: j for j, v in enumerate(values)}
    codes = np.fromiter(
        (index.get(str(v), -1) if v is not None else -1 for v in raw),
        dtype=np.int64,
        count=len(raw),
    )
    present = codes >= 0
    counts = agreement.value_counts(
        data.units[present],
        codes[present],
        n_units=len(data.item_ids),
        n_values=len(values),
    )
    labels = [o.label for o in f.options] or [lv.label for lv in f.scale]
    return _Field(f, values, labels, codes, counts)


def _multi_sets(raw: list[Any]) -> list[frozenset[str] | None]:
    """A multi field's JSON arrays (text from the database) as sets; None when hidden."""
    return [
        None if v is None else frozenset(v if isinstance(v, list) else orjson.loads(v))
        for v in raw
    ]


def _figure_data(f: Figure) -> dict[str, object]:
    return {
        "level": f.level,
        "alpha": f.alpha,
        "ci": [f.ci_low, f.ci_high] if f.ci_low is not None else None,
        "units": f.units,
        "pairable": f.pairable,
        "observed_agreement": f.observed_agreement,
        "resamples": f.resamples,
    }


def _fleiss_data(counts: npt.NDArray[np.int64]) -> dict[str, object]:
    """Fleiss' kappa over the items with at least two labels.

    Items a field has one label on are left out of the chance term too, so
    that every number is over the same items as alpha's units. Varying label
    counts (2 to k annotators per item) use Gwet's (2014) generalisation,
    which with equal counts is Fleiss (1971) exactly: the report gives the
    items used and the fewest and most labels on one of them.
    """
    f = agreement.fleiss_figure(counts[counts.sum(axis=1) >= 2])
    return {
        "kappa": f.kappa,
        "items": f.units,
        "labels_per_item": [f.raters_min, f.raters_max],
        "observed_agreement": f.observed,
        "chance_agreement": f.expected,
    }


def agreement_report(
    *,
    project: Project,
    filters: Filters = Filters(),  # noqa: B008 - frozen, so one shared default is safe
    resamples: int = 1000,
    seed: int = 0,
    field_name: str | None = None,
    now: datetime,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every agreement figure of a project as a JSON-ready dict.

    Per field at its level (single: nominal; rating: ordinal and interval,
    interval on the scale's level values, given as scale_values; multi: MASI
    for the set, and binary nominal per option), per class (option vs rest),
    each with a bootstrap interval over units (`resamples`, seeded), the
    units and pairable values behind it and the observed agreement; per
    single field Fleiss' kappa over the items with two labels or more
    (`fleiss`, None for other kinds); the key field's coincidence matrix; per
    annotator: pairwise Cohen's kappa per single field (`all_pairs`: pairs
    sharing at least MIN_SHARED_TO_COMPUTE_KAPPA items, with `shared` the
    counts; `matrix`: only those with at least `min_shared` =
    MIN_SHARED_FOR_KAPPA), agreement with the leave-one-out majority and
    alpha without them, the median seconds per label and the accuracy on
    items with gold (_annotator_pace_and_accuracy); the key field's alpha by week of annotation. `field_name`
    limits the figures to one field. `progress(stage, done, total)` is called
    between stages. Raises KeyError for an unknown field_name.
    """
    report = progress or (lambda _stage, _done, _total: None)
    version = project.label_set_version
    schema = version.schema
    report("Fetching annotations", 0, 4)
    data = _fetch(project, schema, filters)
    started = time.perf_counter()
    chosen = [schema.field(field_name)] if field_name else list(schema.fields)
    key = _key_field(schema)

    coded: dict[str, _Field] = {}
    specs: dict[str, Spec] = {}
    classes: dict[str, list[tuple[str, str, str]]] = {}  # field -> (spec, value, label)
    for f in chosen:
        raw = data.columns.get(f.name)
        if raw is None:
            continue  # text
        if f.kind == "single":
            cf = coded[f.name] = _coded(data, f, [o.value for o in f.options], raw)
            specs[f.name] = Spec(cf.counts, "nominal")
            classes[f.name] = []
            for j, o in enumerate(f.options):
                name = f"{f.name}={o.value}"
                specs[name] = Spec(agreement.one_vs_rest(cf.counts, j), "nominal")
                classes[f.name].append((name, o.value, o.label))
        elif f.kind == "rating":
            values = [str(lv.value) for lv in f.scale]
            cf = coded[f.name] = _coded(data, f, values, raw)
            specs[f.name] = Spec(cf.counts, "ordinal")
            # Interval distances are differences of the levels' values (a
            # scale 0, 1, 2, 4 has a step of 2 at the top), not positions.
            specs[f"{f.name}~interval"] = Spec(
                cf.counts, "interval", values=[lv.value for lv in f.scale]
            )
        elif f.kind == "multi":
            sets = _multi_sets(raw)
            distinct = sorted({s for s in sets if s is not None}, key=sorted)
            if distinct:
                names = ["|".join(sorted(s)) for s in distinct]
                by_set = dict(zip(distinct, names, strict=True))
                masi = _coded(
                    data, f, names, [None if s is None else by_set[s] for s in sets]
                )
                specs[f.name] = Spec(masi.counts, "masi", subsets=distinct)
            classes[f.name] = []
            for o in f.options:
                chosen_raw = [
                    None if s is None else ("1" if o.value in s else "0") for s in sets
                ]
                binary = _coded(data, f, ["0", "1"], chosen_raw)
                name = f"{f.name}[{o.value}]"
                specs[name] = Spec(binary.counts, "nominal")
                classes[f.name].append((name, o.value, o.label))
    report("Computing alpha and intervals", 1, 4)
    computed = agreement.figures(specs, resamples=resamples, seed=seed)

    fields_out = []
    for f in chosen:
        if f.kind == "text":
            continue
        levels = [f.name] + ([f"{f.name}~interval"] if f.kind == "rating" else [])
        field_out: dict[str, Any] = {
            "name": f.name,
            "label": f.label,
            "kind": f.kind,
            "key": f.name == (key.name if key else None),
            "figures": [_figure_data(computed[s]) for s in levels if s in computed],
            "classes": [
                {"value": value, "label": label, **_figure_data(computed[s])}
                for s, value, label in classes.get(f.name, [])
            ],
            "fleiss": _fleiss_data(coded[f.name].counts)
            if f.kind == "single"
            else None,
        }
        if f.kind == "rating":
            field_out["scale_values"] = [lv.value for lv in f.scale]
        fields_out.append(field_out)

    report("Annotator reliability", 2, 4)
    annotators = _annotators(data, coded)
    _annotator_pace_and_accuracy(
        project, filters, data, annotators, key=key.name if key else None
    )
    report("Agreement over time", 3, 4)
    weekly = _weekly(data, coded[key.name]) if key and key.name in coded else []
    judges = _judges(project, schema, filters)
    prelabels = _prelabels(project, schema, filters)
    report("Done", 4, 4)
    return {
        "computed_at": now.isoformat(),
        "label_set": {"name": version.label_set.name, "version": version.number},
        "filters": filters.as_dict(),
        "resamples": resamples,
        "seed": seed,
        "confidence": 0.95,
        "counts": {
            "annotations": len(data.units),
            "items": len(data.item_ids),
            "annotators": len(data.annotator_ids),
            "project_annotations": project.annotations_total,
        },
        "key_field": key.name if key else None,
        "fields": fields_out,
        "coincidence": _coincidence(coded[key.name])
        if key and key.name in coded
        else None,
        "annotators": annotators["rows"],
        "kappa": annotators["kappa"],
        "single_fields": annotators["fields"],
        "weekly": weekly,
        "judges": judges,
        "prelabels": prelabels,
        "timings": {
            "fetch_seconds": round(data.fetch_seconds, 3),
            "compute_seconds": round(time.perf_counter() - started, 3),
        },
    }


def _prelabels(
    project: Project, schema: Schema, filters: Filters
) -> dict[str, Any] | None:
    """How annotators who saw the model's pre-labels used them: per target
    field, how many saw a suggestion and the share who chose it. None when
    nobody saw any (the filter `prelabels` gives each group's agreement)."""
    seen = Counter[str]()
    chosen = Counter[str]()
    annotations = 0
    for values, shown in (
        _annotations(project, filters)
        .filter(prelabels__isnull=False)
        .values_list("values", "prelabels")
        .iterator(chunk_size=5000)
    ):
        annotations += 1
        for name, suggestion in (shown or {}).items():
            if isinstance(suggestion, dict) and name in values:
                seen[name] += 1
                chosen[name] += values[name] == suggestion.get("value")
    if not seen:
        return None
    labels = {f.name: f.label for f in schema.fields}
    return {
        "annotations": annotations,
        "fields": [
            {
                "field": name,
                "label": labels.get(name, name),
                "seen": seen[name],
                "chose_suggestion": chosen[name] / seen[name],
            }
            for name in seen
        ],
    }


def _key_field(schema: Schema) -> Field | None:
    """The label set's key field, else its first single field."""
    singles = [f for f in schema.fields if f.kind == "single"]
    return next((f for f in schema.fields if f.key), singles[0] if singles else None)


def _coincidence(cf: _Field) -> dict[str, object]:
    return {
        "field": cf.field.name,
        "values": cf.values,
        "labels": cf.labels,
        "matrix": agreement.coincidences(cf.counts).round(3).tolist(),
    }


def _annotators(data: _Data, coded: dict[str, _Field]) -> dict[str, Any]:
    """Kappa matrices, leave-one-out majority agreement and alpha without each."""
    n_coders = len(data.annotator_ids)
    n_units = len(data.item_ids)
    users = dict(
        User.objects.filter(pk__in=data.annotator_ids).values_list("pk", "username")
    )
    per_coder = np.bincount(data.coders, minlength=n_coders)
    rows: list[dict[str, Any]] = [
        {
            "id": a,
            "username": users.get(a, f"user {a}"),
            "annotations": int(per_coder[i]),
            "majority_agreement": {},
            "alpha_without": {},
        }
        for i, a in enumerate(data.annotator_ids)
    ]
    kappa: dict[str, Any] = {}
    singles = [cf for cf in coded.values() if cf.field.kind == "single"]
    for cf in singles:
        name, n_values = cf.field.name, len(cf.values)
        present = cf.codes >= 0
        # coders x units, -1 where the annotator gave no value.
        grid = np.full((n_coders, n_units), -1, dtype=np.int64)
        grid[data.coders[present], data.units[present]] = cf.codes[present]

        matrix: list[list[float | None]] = [[None] * n_coders for _ in range(n_coders)]
        every: list[list[float | None]] = [[None] * n_coders for _ in range(n_coders)]
        shared: list[list[int]] = [[0] * n_coders for _ in range(n_coders)]
        for a in range(n_coders):
            for b in range(a, n_coders):
                both = (grid[a] >= 0) & (grid[b] >= 0)
                n = int(both.sum())
                shared[a][b] = shared[b][a] = n
                if a != b and n >= MIN_SHARED_TO_COMPUTE_KAPPA:
                    k = agreement.cohen_kappa(
                        grid[a][both].tolist(),
                        grid[b][both].tolist(),
                        labels=list(range(n_values)),
                    )
                    every[a][b] = every[b][a] = k
                    if n >= MIN_SHARED_FOR_KAPPA:
                        matrix[a][b] = matrix[b][a] = k
        # "matrix" keeps its meaning for readers of older reports: only the
        # pairs sharing enough items; "all_pairs" has the others too.
        kappa[name] = {
            "matrix": matrix,
            "all_pairs": every,
            "shared": shared,
            "min_shared": MIN_SHARED_FOR_KAPPA,
        }

        # Leave-one-out majority: the other annotators' counts on the unit; a
        # strict single maximum is the majority, a tie or nobody else is none.
        units, codes, coders = (
            data.units[present],
            cf.codes[present],
            data.coders[present],
        )
        others = cf.counts[units].copy()
        others[np.arange(len(codes)), codes] -= 1
        top = others.max(axis=1)
        single_top = (others == top[:, None]).sum(axis=1) == 1
        has_majority = (top > 0) & single_top
        agrees = has_majority & (others.argmax(axis=1) == codes)
        compared = np.bincount(coders[has_majority], minlength=n_coders)
        agreed = np.bincount(coders[agrees], minlength=n_coders)

        without = {}
        for i in range(n_coders):
            mine = coders == i
            reduced = cf.counts - agreement.value_counts(
                units[mine], codes[mine], n_units=n_units, n_values=n_values
            )
            without[f"{i}"] = Spec(reduced, "nominal")
        alphas = agreement.figures(without, resamples=0)
        for i, row in enumerate(rows):
            row["majority_agreement"][name] = {
                "share": float(agreed[i] / compared[i]) if compared[i] else None,
                "compared": int(compared[i]),
            }
            row["alpha_without"][name] = alphas[f"{i}"].alpha
    # jsonb does not keep key order: the fields' order goes in a list.
    return {"rows": rows, "kappa": kappa, "fields": [cf.field.name for cf in singles]}


def annotator_accuracy_field(singles: list[str], key: str | None) -> str | None:
    """The one field an annotator's agreement and accuracy are shown on in
    the annotator table: the key field if it is a one-of field, else the
    first one-of field; None without one."""
    if key in singles:
        return key
    return singles[0] if singles else None


def _annotator_pace_and_accuracy(
    project: Project,
    filters: Filters,
    data: _Data,
    annotators: dict[str, Any],
    *,
    key: str | None,
) -> None:
    """Add to each annotator's row the median seconds they spent per label
    and their accuracy on the items that have gold (for the annotator table).

    Accuracy is on the key field when it is a one-of field, else on the
    first one-of field (annotator_accuracy_field), in two parts that never mix: against a
    reviewer's decision (`decided`), and against the gold aggregated from the
    labels (`aggregated`: unanimous, majority or weighted), which their own
    label is part of, so it reads high. No honeypot items exist yet.
    """
    rows = annotators["rows"]
    for i, row in enumerate(rows):
        mine = data.seconds[data.coders == i]
        row["median_seconds"] = float(np.median(mine)) if len(mine) else None
    name = annotator_accuracy_field(annotators["fields"], key)
    if name is None:
        return
    gold = KeyTransform(name, "item__gold__values")
    decided: Counter[int] = Counter()
    decided_right: Counter[int] = Counter()
    aggregated: Counter[int] = Counter()
    aggregated_right: Counter[int] = Counter()
    # Typed loosely: a JSON key read in SQL may be missing (None) or a number.
    labels: Iterator[tuple[Any, ...]] = (
        _annotations(project, filters)
        .filter(item__gold__isnull=False)
        .annotate(
            given=KeyTextTransform(name, "values"),
            gold_value=KeyTextTransform("value", gold),
            gold_method=KeyTextTransform("method", gold),
        )
        .values_list("annotator_id", "given", "gold_value", "gold_method")
        .iterator(chunk_size=5000)
    )
    for annotator, given, truth, method in labels:
        # The field hidden for them, or no gold value (a tie: "unresolved",
        # whose JSON null SQLite reads as the text "null").
        if given is None or method in (None, "unresolved"):
            continue
        right = str(given) == str(truth)
        if method == "adjudicated":
            decided[annotator] += 1
            decided_right[annotator] += right
        else:
            aggregated[annotator] += 1
            aggregated_right[annotator] += right
    for row in rows:
        a = row["id"]
        row["gold_accuracy"] = {
            "field": name,
            "decided": {
                "share": decided_right[a] / decided[a] if decided[a] else None,
                "compared": decided[a],
            },
            "aggregated": {
                "share": aggregated_right[a] / aggregated[a] if aggregated[a] else None,
                "compared": aggregated[a],
            },
        }


def _weekly(data: _Data, cf: _Field) -> list[dict[str, object]]:
    """The key field's alpha over the annotations made in each ISO week."""
    weeks = np.asarray(data.weeks)
    out = []
    for week in sorted(set(data.weeks)):
        mine = (weeks == week) & (cf.codes >= 0)
        counts = agreement.value_counts(
            data.units[mine],
            cf.codes[mine],
            n_units=len(data.item_ids),
            n_values=len(cf.values),
        )
        figure = agreement.figures({"w": Spec(counts, "nominal")}, resamples=0)["w"]
        out.append(
            {
                "week": week,
                "annotations": int(mine.sum()),
                "alpha": figure.alpha,
                "units": figure.units,
            }
        )
    return out


def _judges(project: Project, schema: Schema, filters: Filters) -> list[dict[str, Any]]:
    """Each judge (non-human annotator) against the gold, per one-of field:
    agreement, Cohen's kappa and per class precision and recall, over the
    items where both the judge and the gold have a value."""
    singles = [f for f in schema.fields if f.kind == "single"]
    # judge -> field -> (gold value, judge value) -> count
    confusion: dict[str, dict[str, dict[tuple[str, str], int]]] = {}
    items: dict[str, int] = {}
    rows = (
        _annotations(project, filters, human=False)
        .filter(item__gold__isnull=False)
        .values_list("annotator__username", "values", "item__gold__values")
        .iterator(chunk_size=2000)
    )
    for username, values, gold in rows:
        judge = username.removeprefix("judge-")
        items[judge] = items.get(judge, 0) + 1
        per_field = confusion.setdefault(judge, {})
        for f in singles:
            given, truth = values.get(f.name), (gold.get(f.name) or {}).get("value")
            if given is None or truth is None:
                continue
            cell = per_field.setdefault(f.name, {})
            cell[(truth, given)] = cell.get((truth, given), 0) + 1
    out = []
    for judge in sorted(confusion):
        fields_out = []
        for f in singles:
            cell = confusion[judge].get(f.name, {})
            n = sum(cell.values())
            agree = sum(c for (t, g), c in cell.items() if t == g)
            classes = []
            for o in f.options:
                true_pos = cell.get((o.value, o.value), 0)
                predicted = sum(c for (_, g), c in cell.items() if g == o.value)
                support = sum(c for (t, _), c in cell.items() if t == o.value)
                classes.append(
                    {
                        "value": o.value,
                        "label": o.label,
                        "precision": true_pos / predicted if predicted else None,
                        "recall": true_pos / support if support else None,
                        "support": support,
                        "predicted": predicted,
                    }
                )
            fields_out.append(
                {
                    "name": f.name,
                    "compared": n,
                    "agreement": agree / n if n else None,
                    "kappa": _kappa(cell, [o.value for o in f.options]),
                    "classes": classes,
                }
            )
        out.append({"judge": judge, "items": items[judge], "fields": fields_out})
    return out


def _kappa(cell: dict[tuple[str, str], int], values: list[str]) -> float | None:
    """Cohen's (1960) kappa from a (gold, judge) count table; None if undefined."""
    n = sum(cell.values())
    if not n:
        return None
    observed = sum(c for (t, g), c in cell.items() if t == g) / n
    expected = sum(
        sum(c for (t, _), c in cell.items() if t == v)
        * sum(c for (_, g), c in cell.items() if g == v)
        for v in values
    ) / (n * n)
    return None if expected == 1 else (observed - expected) / (1 - expected)
