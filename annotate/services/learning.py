"""The active-learning queue: its settings, its model, and the priorities it
writes for the claim to read.

The claim (services/queue.py) stays one index scan: it serves the open item
with the highest `priority`. This module decides those priorities, in Celery
jobs, never in a request:

- `sequential`: 0 for every item, so the queue is import order;
- `random`: a seeded hash of the item, reproducible;
- `uncertainty`: the model's uncertainty on the item, combined over the
  target fields (stats/ranking.py: margin or entropy);
- `hybrid` (the default): the uncertainty of items nobody has labelled,
  weighed against how weak the consensus of the labelled ones is (in the
  spirit of ActiveLab, Goh & Mueller 2023: each label weighted by its
  annotator's reliability, the model's vote by its cross-validated
  macro-F1), a bonus that finishes started items before the pool runs ahead
  of them, and a coverage bonus for the source models, data sets and
  categories whose share of the labels is under a floor.

For uncertainty and hybrid, a seeded share of the items (`exploration`,
default 10%) is the exploration sample: served in random order by the same
share of claims and never by the strategy's order. Its finished items are a
uniform random sample of the project, so the rates the calibration report
computes over them are unbiased however the rest of the queue was ordered.

Before MIN_LABELS labels in at least two classes, the model is the
transparent refusal-phrase heuristic (ranking.refusal_score).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import Any

import orjson
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max

from annotate import rawsql
from annotate.models import (
    Annotation,
    Gold,
    Item,
    Job,
    JobKind,
    JobStatus,
    Project,
    QueueModel,
    QueueStrategy,
)
from annotate.services.planner import tables_analyze
from labelsets.schema import Schema

MODEL_STRATEGIES = frozenset({QueueStrategy.UNCERTAINTY, QueueStrategy.HYBRID})
RESCORE_BATCH = 2000
KEEP_ARTEFACTS = (
    3  # the latest models keep their fitted pipelines; older ones their figures
)
AUDIT_SALT = 0x5EED_A0D1  # the exploration sample's draw, apart from the random order's
DEFAULT_RELIABILITY = 0.8  # an annotator's weight before the agreement figures say


@dataclass(frozen=True)
class QueueSettings:
    """A project's queue settings; every default documented here and in the README."""

    # One-of fields the model predicts; empty: the key field and appropriateness.
    target_fields: tuple[str, ...] = ()
    uncertainty: str = "margin"  # or "entropy"
    weight_uncertainty: float = 1.0  # of an unlabelled item's uncertainty
    weight_relabel: float = 1.0  # of a labelled item's weak consensus (1 - quality)
    weight_coverage: float = 0.5  # of the bonus of a group under its floor share
    coverage_floor: float = 0.05  # each model, data set and category's floor share
    started_bonus: float = 0.25  # for an item with labels but not yet its overlap
    exploration: float = 0.10  # share of claims (and items) served at random
    retrain_every: int = 50  # new labels between automatic retrains
    # Seconds from the end of one automatic retrain to the start of the
    # next: a retrain and rescore of 100k items is ~18 s of CPU, and at a
    # busy day's pace (50 labels in seconds) retrains would run back to
    # back, a core for ever. A retrain asked for sooner waits for beat.
    retrain_rest_seconds: int = 120
    min_labels: int = 30  # labels before a model replaces the heuristic
    seed: int = 0  # the random order and the exploration sample's draw
    # Show annotators the model's suggestion, marked as such; only where the
    # project is not blind (blind: nothing on screen may anchor a label).
    prelabels: bool = False
    blind: bool = True


# (low, high) of each number, inclusive.
RANGES: dict[str, tuple[float, float]] = {
    "weight_uncertainty": (0.0, 10.0),
    "weight_relabel": (0.0, 10.0),
    "weight_coverage": (0.0, 10.0),
    "coverage_floor": (0.0, 0.5),
    "started_bonus": (0.0, 10.0),
    "exploration": (0.0, 0.5),
    "retrain_every": (1, 1_000_000),
    "retrain_rest_seconds": (0, 86_400),
    "min_labels": (2, 1_000_000),
    "seed": (0, 2**31 - 1),
}


BOOLEANS = ("prelabels", "blind")


def _boolean(value: object) -> bool | None:
    """A flag from JSON, a form or a command line; None when it is none."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    return None


def queue_settings_parse(*, schema: Schema, data: Mapping[str, Any]) -> QueueSettings:
    """Settings from input (a command's flags, a form, the API), the rest at
    their defaults. Raises ValidationError naming each bad setting: a number
    out of its range, an unknown or non-single target field, an unknown
    uncertainty kind or setting."""
    errors: dict[str, list[str]] = {}
    known = {f.name for f in fields(QueueSettings)}
    for name in data:
        if name not in known:
            errors[name] = [
                f"No such queue setting {name!r} (known: {', '.join(sorted(known))})."
            ]
    values: dict[str, Any] = {}
    defaults = QueueSettings()
    for name, (low, high) in RANGES.items():
        if name not in data:
            continue
        kind = type(getattr(defaults, name))
        try:
            value = kind(data[name])
        except (TypeError, ValueError):
            errors[name] = [f"{name} must be a number."]
            continue
        if not low <= value <= high:
            errors[name] = [f"{name} must be between {low} and {high}; got {value}."]
        values[name] = value
    if "uncertainty" in data:
        if data["uncertainty"] not in ("margin", "entropy"):
            errors["uncertainty"] = ["uncertainty is margin or entropy."]
        values["uncertainty"] = data["uncertainty"]
    for name in BOOLEANS:
        if name in data:
            flag = _boolean(data[name])
            if flag is None:
                errors[name] = [f"{name} must be true or false."]
            values[name] = flag
    if values.get("prelabels") and values.get("blind", QueueSettings.blind):
        errors["prelabels"] = [
            "A blind project shows no pre-labels: set blind=false to show them."
        ]
    if "target_fields" in data:
        raw = data["target_fields"]
        names = raw.split(",") if isinstance(raw, str) else list(raw or ())
        names = [str(n).strip() for n in names if str(n).strip()]
        by_name = {f.name: f for f in schema.fields}
        bad = [n for n in names if n not in by_name or by_name[n].kind != "single"]
        if bad:
            errors["target_fields"] = [
                f"target_fields: {', '.join(bad)} is not a one-of field of the label "
                "set; a target must be a single-choice field."
            ]
        values["target_fields"] = tuple(names)
    if errors:
        raise ValidationError(errors)
    return replace(defaults, **values)


def queue_settings_data(settings: QueueSettings) -> dict[str, object]:
    """The settings as stored (JSON: lists, not tuples)."""
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in asdict(settings).items()
    }


def queue_settings_of(project: Project) -> QueueSettings:
    """The project's stored settings (checked when they were stored)."""
    stored = project.queue_settings or {}
    known = {f.name for f in fields(QueueSettings)}
    kept = {k: v for k, v in stored.items() if k in known}
    if "target_fields" in kept:
        kept["target_fields"] = tuple(kept["target_fields"])
    return replace(QueueSettings(), **kept)


def target_fields(project: Project, settings: QueueSettings) -> list[str]:
    """The fields the model predicts: the settings', else the key field and
    appropriateness where the label set has them as one-of fields."""
    schema = project.label_set_version.schema
    singles = [f.name for f in schema.fields if f.kind == "single"]
    if settings.target_fields:
        return [n for n in settings.target_fields if n in singles]
    key = next((f.name for f in schema.fields if f.key and f.kind == "single"), None)
    chosen = [n for n in (key, "appropriateness") if n in singles]
    return list(dict.fromkeys(chosen)) or singles[:1]


def exploration_share(project: Project) -> float:
    """The share of claims served from the exploration sample (the claim's
    one read of the settings: no query)."""
    if project.queue_strategy not in MODEL_STRATEGIES or not project.audit_open:
        return 0.0
    share = (project.queue_settings or {}).get("exploration", QueueSettings.exploration)
    return float(share)


def prelabels_shown(project: Project) -> bool:
    """Whether annotators see the model's pre-labels (no query: the claim
    reads it). Never in a blind project, whatever is stored."""
    stored = project.queue_settings or {}
    return bool(stored.get("prelabels")) and not stored.get("blind", True)


def retrain_due(project: Project, labels: int) -> bool:
    """Whether this label (the project's `labels`-th) asks for a retrain."""
    if project.queue_strategy not in MODEL_STRATEGIES:
        return False
    every = int(
        (project.queue_settings or {}).get("retrain_every", QueueSettings.retrain_every)
    )
    return labels % every == 0


@transaction.atomic
def project_queue_configure(
    *,
    project: Project,
    strategy: QueueStrategy,
    settings: Mapping[str, Any],
    created_by: User | None,
    now: datetime,
) -> Job:
    """Set the project's queue strategy and settings, then rescore its queue
    (a job; or the one already queued or running, which reads the new ones).

    `settings` are merged into the stored ones. Raises ValidationError naming
    each bad setting (queue_settings_parse), nothing stored; code `archived`
    in an archived project.
    """
    project.refuse_if_archived("its queue cannot be changed")
    merged = {**(project.queue_settings or {}), **settings}
    parsed = queue_settings_parse(schema=project.label_set_version.schema, data=merged)
    stored = queue_settings_data(parsed)
    Project.objects.filter(pk=project.pk).update(
        queue_strategy=strategy, queue_settings=stored
    )
    project.queue_strategy, project.queue_settings = strategy, stored
    return queue_job_create(
        project=project, kind=JobKind.RESCORE, created_by=created_by, now=now
    )


def queue_job_create(
    *, project: Project, kind: JobKind, created_by: User | None, now: datetime
) -> Job:
    """Queue a retrain or a rescore of the project's queue; a project has at
    most one of them queued or running (a database constraint), so a second
    request gets the live one back. A retrain asked for while a rescore is
    queued replaces nothing: the rescore runs with the model it finds.
    ValidationError (code `archived`) in an archived project."""
    project.refuse_if_archived("its queue is not retrained")
    from annotate.services.jobs import job_create

    with transaction.atomic():
        # The project row before the job's index entry: the job's foreign key
        # takes the row's KEY SHARE at commit anyway, and taken after the
        # insert it deadlocks with project_update, which holds the row FOR
        # UPDATE, then inserts a rescore that waits on our index entry.
        with connection.cursor() as cursor:
            cursor.execute(
                rawsql.for_update(
                    "SELECT 1 FROM annotate_project WHERE id = %s", "FOR KEY SHARE"
                ),
                [project.pk],
            )

        def create() -> Job:
            return job_create(
                project=project, kind=kind, created_by=created_by, params={}, now=now
            )

        try:
            with transaction.atomic():
                return create()
        except IntegrityError:
            live = (
                Job.objects.filter(
                    project=project,
                    kind__in=[JobKind.RETRAIN, JobKind.RESCORE],
                    status__in=[JobStatus.QUEUED, JobStatus.RUNNING],
                )
                .order_by("-pk")
                .first()
            )
            return live or create()  # none: it ended in between, so ours after all


def retrain_rested(project: Project, *, now: datetime) -> bool:
    """Whether the project's last retrain ended at least retrain_rest_seconds
    ago (or there was none): an automatic retrain may start."""
    rest = queue_settings_of(project).retrain_rest_seconds
    ended = (
        Job.objects.filter(
            project=project, kind=JobKind.RETRAIN, finished_at__isnull=False
        )
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    return ended is None or (now - ended).total_seconds() >= rest


def queue_retrain_due(*, now: datetime) -> int:
    """Queue a retrain for each model-ranked project whose latest model is
    behind by at least retrain_every labels and whose last retrain has
    rested (retrain_rested); the number queued."""
    queued = 0
    for project in Project.objects.filter(
        queue_strategy__in=MODEL_STRATEGIES, archived_at__isnull=True
    ):
        latest = _latest_model(project)
        behind = project.annotations_total - (latest.labels_used if latest else 0)
        due = behind >= queue_settings_of(project).retrain_every or latest is None
        if due and retrain_rested(project, now=now):
            queue_job_create(
                project=project, kind=JobKind.RETRAIN, created_by=None, now=now
            )
            queued += 1
    return queued


# Training -------------------------------------------------------------------


@dataclass
class _Example:
    item_id: int
    messages_json: str
    values: dict[str, str]  # target field -> its label
    weight: float


def _reliabilities(project: Project) -> dict[int, float]:
    """Each annotator's agreement with the others' majority on the key field,
    from the project's latest agreement figures; empty before any."""
    latest = (
        Job.objects.filter(
            project=project, kind=JobKind.AGREEMENT, status=JobStatus.SUCCEEDED
        )
        .order_by("-finished_at")
        .values_list("result", flat=True)
        .first()
    )
    found: dict[int, float] = {}
    if latest:
        key = latest.get("key_field")
        for row in latest.get("annotators", []):
            share = row.get("majority_agreement", {}).get(key, {}).get("share")
            if share is not None:
                found[int(row["id"])] = float(share)
    return found


def _examples(project: Project, targets: list[str]) -> list[_Example]:
    """What the model learns from: each item's gold for the target fields, or
    where there is none yet the majority of its labels so far, each label
    weighted by its annotator's reliability; the item weighted by the mean
    reliability of those behind it (1 for a reviewer's decision)."""
    reliability = _reliabilities(project)
    version_id = project.label_set_version_id
    golds: dict[int, dict[str, Any]] = dict(
        Gold.objects.filter(item__project=project).values_list("item_id", "values")
    )
    votes: dict[int, dict[str, Counter[str]]] = defaultdict(
        lambda: defaultdict(Counter)
    )
    weights: dict[int, list[float]] = defaultdict(list)
    for item_id, annotator_id, values in (
        Annotation.objects.filter(
            item__project=project, label_set_version_id=version_id, is_human=True
        )
        .values_list("item_id", "annotator_id", "values")
        .iterator(chunk_size=5000)
    ):
        w = reliability.get(annotator_id, DEFAULT_RELIABILITY)
        weights[item_id].append(w)
        for name in targets:
            value = values.get(name)
            if isinstance(value, str):
                votes[item_id][name][value] += w  # type: ignore[assignment]
    items = set(golds) | set(votes)
    labelled: dict[int, dict[str, str]] = {}
    item_weight: dict[int, float] = {}
    for item_id in items:
        gold = golds.get(item_id, {})
        chosen: dict[str, str] = {}
        for name in targets:
            entry = gold.get(name) or {}
            if isinstance(entry.get("value"), str):
                chosen[name] = entry["value"]
            elif counts := votes[item_id][name]:
                (top, n), *rest = counts.most_common(2)
                if not rest or rest[0][1] < n:  # a tie teaches nothing
                    chosen[name] = top
        if chosen:
            labelled[item_id] = chosen
            decided = any(
                (gold.get(n) or {}).get("method") == "adjudicated" for n in targets
            )
            ws = weights.get(item_id) or [1.0]
            item_weight[item_id] = 1.0 if decided else sum(ws) / len(ws)
    texts = dict(
        Item.objects.filter(pk__in=list(labelled)).values_list(
            "pk", "transcript__messages_json"
        )
    )
    return [
        _Example(item_id=i, messages_json=texts[i], values=v, weight=item_weight[i])
        for i, v in sorted(labelled.items())
        if i in texts
    ]


def queue_retrain(*, job: Job, now: datetime) -> dict[str, object]:
    """Train the project's queue model on its labels so far, store it, and
    rescore the queue with it (a job's runner).

    With too few labels, or one class only, for a field: the previous model
    stays (when there is one) and the job says so; with no model yet, the
    refusal-phrase heuristic ranks. The model is stored as a QueueModel row
    with its figures; the latest KEEP_ARTEFACTS keep their fitted pipelines.
    """
    from annotate.stats import ranking

    project = Project.objects.select_related("label_set_version").get(pk=job.project_id)
    settings = queue_settings_of(project)
    targets = target_fields(project, settings)
    started = time.perf_counter()
    examples = _examples(project, targets)
    docs = [ranking.doc_from_messages(orjson.loads(e.messages_json)) for e in examples]
    trained: list[ranking.FieldModel] = []
    notes: list[str] = []
    for name in targets:
        chosen = [
            (d, e) for d, e in zip(docs, examples, strict=True) if name in e.values
        ]
        try:
            trained.append(
                ranking.train_field(
                    field=name,
                    docs=[d for d, _ in chosen],
                    labels=[e.values[name] for _, e in chosen],
                    weights=[e.weight for _, e in chosen],
                    seed=settings.seed,
                    min_labels=settings.min_labels,
                )
            )
        except ranking.NotEnoughLabels as e:
            notes.append(f"{name}: {e}")
    train_seconds = time.perf_counter() - started
    previous = _latest_model(project)
    if len(trained) < len(targets) and previous is not None and not previous.heuristic:
        note = "Kept the previous model: " + "; ".join(notes)
        summary = _rescore(
            project=project, model=previous, now=now, progress=_progress(job)
        )
        return {
            "kept_previous": True,
            "note": note,
            "model": previous.version,
            **summary,
        }
    model = _model_store(
        project=project,
        trained=trained if len(trained) == len(targets) else [],
        settings=settings,
        labels_used=project.annotations_total,
        train_seconds=train_seconds,
        note="; ".join(notes),
        now=now,
    )
    summary = _rescore(project=project, model=model, now=now, progress=_progress(job))
    return {
        "model": model.version,
        "heuristic": model.heuristic,
        "note": model.note,
        **summary,
    }


def queue_rescore(*, job: Job, now: datetime) -> dict[str, object]:
    """Rescore the project's queue with its latest model (a job's runner):
    after a change of strategy or settings, or when new items arrived."""
    project = Project.objects.select_related("label_set_version").get(pk=job.project_id)
    model = _latest_model(project)
    return _rescore(project=project, model=model, now=now, progress=_progress(job))


def _progress(job: Job) -> Callable[[int], None]:
    """The rescore's progress as the job's: items scored of the project's."""
    from annotate.services.jobs import job_progress

    total = Project.objects.values_list("items_total", flat=True).get(pk=job.project_id)
    return lambda done: job_progress(job=job, done=done, total=total, stage="Rescoring")


def _latest_model(project: Project) -> QueueModel | None:
    return QueueModel.objects.filter(project=project).order_by("-version").first()


@transaction.atomic
def _model_store(
    *,
    project: Project,
    trained: Sequence[Any],
    settings: QueueSettings,
    labels_used: int,
    train_seconds: float,
    note: str,
    now: datetime,
) -> QueueModel:
    from annotate.stats import ranking

    last = QueueModel.objects.filter(project=project).aggregate(v=Max("version"))["v"]
    figures = {
        m.field: {
            "classes": m.classes,
            "n_train": m.n_train,
            "cv_macro_f1": m.cv_macro_f1,
        }
        for m in trained
    }
    scores = [m.cv_macro_f1 for m in trained if m.cv_macro_f1 is not None]
    model = QueueModel.objects.create(
        project=project,
        version=(last or 0) + 1,
        created_at=now,
        heuristic=not trained,
        strategy=project.queue_strategy,
        settings=queue_settings_data(settings),
        labels_used=labels_used,
        fields=figures,
        macro_f1=sum(scores) / len(scores) if scores else None,
        train_seconds=train_seconds,
        note=note[:500],
        artefact=ranking.dumps(list(trained)) if trained else None,
    )
    # Old pipelines go: their figures stay for the learning curve.
    old = QueueModel.objects.filter(project=project, artefact__isnull=False).order_by(
        "-version"
    )[KEEP_ARTEFACTS:]
    QueueModel.objects.filter(pk__in=[m.pk for m in old]).update(artefact=None)
    return model


# Rescoring -------------------------------------------------------------------

_OPEN_ITEMS = """
    SELECT i.transcript_id, i.annotations_count, i.audit, t.messages_json,
        t.source_model, t.dataset, CAST(t.metadata AS TEXT), i.priority,
        i.suggestion
    FROM annotate_item i JOIN annotate_transcript t ON t.id = i.transcript_id
    WHERE i.project_id = %s AND i.slots_left > 0 AND i.transcript_id > %s
    ORDER BY i.transcript_id LIMIT %s"""


def _open_batches(project: Project) -> Iterator[list[tuple[Any, ...]]]:
    """The open items in id order, a batch at a time (keyset: flat memory)."""
    after = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(_OPEN_ITEMS, [project.pk, after, RESCORE_BATCH])
            rows = cursor.fetchall()
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def _coverage(project: Project) -> dict[tuple[str, str], float]:
    """Each group's share of the project's labelled items: (kind, value) ->
    share, kinds model, dataset and category. One grouped pass, in the job."""
    shares: Counter[tuple[str, str]] = Counter()
    total = 0
    for model, dataset, meta in (
        Item.objects.filter(project=project, annotations_count__gt=0)
        .values_list(
            "transcript__source_model", "transcript__dataset", "transcript__metadata"
        )
        .iterator(chunk_size=5000)
    ):
        total += 1
        shares[("model", model)] += 1
        shares[("dataset", dataset)] += 1
        shares[("category", str((meta or {}).get("category", "")))] += 1
    return {k: n / total for k, n in shares.items()} if total else {}


def _labels_of(
    item_ids: list[int], targets: list[str]
) -> dict[int, list[tuple[int, dict[str, Any]]]]:
    found: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for item_id, annotator_id, values in Annotation.objects.filter(
        item_id__in=item_ids, is_human=True
    ).values_list("item_id", "annotator_id", "values"):
        found[item_id].append((annotator_id, {n: values.get(n) for n in targets}))
    return found


def _rescore(
    *,
    project: Project,
    model: QueueModel | None,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> dict[str, object]:
    """Write every open item's priority (and its exploration-sample flag,
    while nobody has started it) in batches of one UPDATE each; then
    ANALYZE (services.planner). Returns the counts and the time."""
    import numpy as np

    from annotate.stats import ranking

    settings = queue_settings_of(project)
    strategy = QueueStrategy(project.queue_strategy)
    targets = target_fields(project, settings)
    fitted: list[Any] = []
    load_error = ""
    if (
        model is not None
        and model.artefact is not None
        and strategy in MODEL_STRATEGIES
    ):
        try:
            fitted = ranking.loads(bytes(model.artefact))
        except ranking.ModelLoadError as e:
            load_error = str(e)[:500]
            QueueModel.objects.filter(pk=model.pk).update(load_error=load_error)
            # The previous priorities stand until a retrain: nothing written.
            return {"items_scored": 0, "load_error": load_error}
    model_weight = (model.macro_f1 or 0.0) if model is not None and fitted else 0.0
    reliability = _reliabilities(project) if strategy == QueueStrategy.HYBRID else {}
    coverage = _coverage(project) if strategy == QueueStrategy.HYBRID else {}
    share = settings.exploration if strategy in MODEL_STRATEGIES else 0.0
    show = prelabels_shown(project)
    started = time.perf_counter()
    scored = sampled = written = 0
    for rows in _open_batches(project):
        ids = [r[0] for r in rows]
        id_array = np.asarray(ids, dtype=np.int64)
        audit_draw = ranking.random_priority(settings.seed ^ AUDIT_SALT, id_array)
        order_draw = ranking.random_priority(settings.seed, id_array)
        probas: dict[str, tuple[list[str], Any]] = {}
        if strategy == QueueStrategy.SEQUENTIAL:
            priorities = [0.0] * len(rows)
        elif strategy == QueueStrategy.RANDOM:
            priorities = order_draw.tolist()
        else:
            priorities, probas = _model_priorities(
                rows=rows,
                fitted=fitted,
                targets=targets,
                settings=settings,
                strategy=strategy,
                project=project,
                model_weight=model_weight,
                reliability=reliability,
                coverage=coverage,
            )
        updates = []
        for n, (row, priority) in enumerate(zip(rows, priorities, strict=True)):
            item_id, labels, audit = row[0], row[1], bool(row[2])
            # Membership is drawn once per item and kept once it is started.
            if labels == 0:
                audit = bool(audit_draw[n] < share)
            sampled += audit
            # The exploration sample is served in its own random order.
            update = (
                item_id,
                float(order_draw[n]) if audit else float(priority),
                audit,
                _suggestion(probas, n) if show else None,
            )
            # A row left as it was is not rewritten: with the same model (a
            # heuristic kept, say) most are, and each rewrite leaves a dead
            # row and index entries that claims walk until a VACUUM.
            if not _unchanged(row, update):
                updates.append(update)
        _priorities_write(updates)
        scored += len(rows)
        written += len(updates)
        if progress:
            progress(scored)
    Project.objects.filter(pk=project.pk).update(audit_open=sampled)
    tables_analyze(written={Item: written})
    seconds = time.perf_counter() - started
    if model is not None:
        QueueModel.objects.filter(pk=model.pk).update(
            items_scored=scored, score_seconds=seconds, load_error=""
        )
    return {
        "items_scored": scored,
        "items_changed": written,
        "score_seconds": round(seconds, 3),
        "strategy": strategy.value,
    }


def _unchanged(
    row: tuple[Any, ...], update: tuple[int, float, bool, str | None]
) -> bool:
    """Whether an open item's stored (audit, priority, suggestion) are the
    update's. The stored suggestion is JSON text in the database's own
    spelling, so it is compared parsed."""
    _, priority, audit, suggestion = update
    if bool(row[2]) != audit or row[7] != priority:
        return False
    if suggestion is None or row[8] is None:
        return suggestion is row[8]
    return bool(orjson.loads(row[8]) == orjson.loads(suggestion))


def _model_priorities(
    *,
    rows: list[tuple[Any, ...]],
    fitted: list[Any],
    targets: list[str],
    settings: QueueSettings,
    strategy: QueueStrategy,
    project: Project,
    model_weight: float,
    reliability: Mapping[int, float],
    coverage: Mapping[tuple[str, str], float],
) -> tuple[list[float], dict[str, tuple[list[str], Any]]]:
    """The rows' priorities, and each fitted field's (classes, probabilities)."""
    import numpy as np

    from annotate.stats import ranking

    docs = [ranking.doc_from_messages(orjson.loads(r[3])) for r in rows]
    probas: dict[str, tuple[list[str], Any]] = {}
    if fitted:
        per_field = []
        for m in fitted:
            proba = ranking.predict_proba(m, docs)
            probas[m.field] = (m.classes, proba)
            per_field.append(ranking.uncertainty(proba, kind=settings.uncertainty))  # type: ignore[arg-type]
        unsure = ranking.combined_uncertainty(per_field)
    else:
        unsure = np.asarray([ranking.heuristic_uncertainty(d) for d in docs])
    if strategy == QueueStrategy.UNCERTAINTY:
        return [float(u) for u in unsure], probas
    labelled = [r[0] for r in rows if r[1] > 0]
    labels = _labels_of(labelled, targets) if labelled else {}
    priorities = []
    for n, row in enumerate(rows):
        item_id, count = row[0], row[1]
        if count == 0:
            value = settings.weight_uncertainty * float(unsure[n])
        else:
            quality = _consensus_quality(
                labels.get(item_id, []),
                targets=targets,
                reliability=reliability,
                model=probas,
                row=n,
                model_weight=model_weight,
            )
            value = settings.weight_relabel * (1.0 - quality)
            if count < project.overlap:
                value += settings.started_bonus
        value += settings.weight_coverage * _coverage_bonus(row, coverage, settings)
        priorities.append(value)
    return priorities, probas


def _suggestion(probas: Mapping[str, tuple[list[str], Any]], row: int) -> str | None:
    """The pre-label of a row as stored (JSON text): each field's most likely
    class and its probability; None without a model."""
    if not probas:
        return None
    found = {}
    for name, (classes, proba) in probas.items():
        best = int(proba[row].argmax())
        found[name] = {"value": classes[best], "p": round(float(proba[row][best]), 3)}
    return orjson.dumps(found).decode()


def _consensus_quality(
    labels: list[tuple[int, dict[str, Any]]],
    *,
    targets: list[str],
    reliability: Mapping[int, float],
    model: Mapping[str, tuple[list[str], Any]],
    row: int,
    model_weight: float,
) -> float:
    """How settled an item's labels are, in [0, 1], averaged over the target
    fields: the reliability-weighted share of labels agreeing with their
    weighted majority, with the model's probability of that majority counted
    as one more vote weighted by its cross-validated macro-F1 (ActiveLab's
    consensus quality, Goh & Mueller 2023, eq. 3-4, simplified)."""
    qualities = []
    for name in targets:
        votes: Counter[str] = Counter()
        total = 0.0
        for annotator, values in labels:
            value = values.get(name)
            if isinstance(value, str):
                w = reliability.get(annotator, DEFAULT_RELIABILITY)
                votes[value] += w  # type: ignore[assignment]
                total += w
        if not votes:
            continue
        top, agreeing = votes.most_common(1)[0]
        model_p = 0.0
        if name in model:
            classes, proba = model[name]
            model_p = float(proba[row][classes.index(top)]) if top in classes else 0.0
        qualities.append((agreeing + model_weight * model_p) / (total + model_weight))
    return sum(qualities) / len(qualities) if qualities else 0.0


def _coverage_bonus(
    row: tuple[Any, ...],
    coverage: Mapping[tuple[str, str], float],
    settings: QueueSettings,
) -> float:
    """How far the item's most under-covered group (its source model, data
    set or category) is below its floor share of the labels, 0..1."""
    floor = settings.coverage_floor
    if floor <= 0 or not coverage:
        return 0.0
    meta = orjson.loads(row[6]) if row[6] else {}
    groups = [
        ("model", row[4]),
        ("dataset", row[5]),
        ("category", str(meta.get("category", ""))),
    ]
    return max(max(0.0, floor - coverage.get(g, 0.0)) / floor for g in groups)


def _priorities_write(updates: list[tuple[int, float, bool, str | None]]) -> None:
    """One UPDATE ... FROM (VALUES ...) for a batch: no per-row statement.
    (SQLite has UPDATE FROM since 3.33.) A suggestion is JSON text."""
    if not updates:
        return
    row = (
        "(%s, %s, %s, CAST(%s AS jsonb))"
        if connection.vendor == "postgresql"
        else "(%s, %s, %s, %s)"
    )
    placeholders = ", ".join([row] * len(updates))
    if connection.vendor == "postgresql":
        # The rows locked first, in key order, as a settings change locks
        # them (projects.project_update): the join's own order would take
        # them in any order and deadlock with it (seen in CI). NO KEY, as a
        # claim takes them; MATERIALIZED, so the lock runs in its order.
        sql = (
            f"WITH v(id, priority, audit, suggestion) AS (VALUES {placeholders}), "  # noqa: S608 - fixed SQL, values as parameters
            "locked AS MATERIALIZED (SELECT i.transcript_id FROM annotate_item i "
            "WHERE i.transcript_id IN (SELECT id FROM v) "
            "ORDER BY i.transcript_id FOR NO KEY UPDATE) "
            "UPDATE annotate_item SET priority = v.priority, audit = v.audit, "
            "suggestion = v.suggestion FROM v JOIN locked ON locked.transcript_id = v.id "
            "WHERE annotate_item.transcript_id = v.id"
        )
    else:
        sql = (
            f"WITH v(id, priority, audit, suggestion) AS (VALUES {placeholders}) "  # noqa: S608 - fixed SQL, values as parameters
            "UPDATE annotate_item SET priority = v.priority, audit = v.audit, "
            "suggestion = v.suggestion FROM v WHERE annotate_item.transcript_id = v.id"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [x for u in updates for x in u])
