"""Replay a labelled data set through the real queue and the real jobs.

A new project is made with the strategy asked for; the data (less a held-out
part, by prompt group) is imported by the import service; simulated
annotators, one per label column, claim with the claim service and answer
with their column's labels through the submit service, so the retrains, the
rescoring and the gold run as they do for people (eagerly, in this process).
After each retrain the curve gets a point: the model's macro-F1 on the
held-out part, and the error of the calibration estimates (all labels, and
the unbiased ones) against the rates of the whole data set's truth.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from pathlib import Path
from typing import Any

import orjson
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from annotate.celery import app
from annotate.management.commands._common import settings_from_flags
from annotate.models import (
    JobKind,
    Membership,
    Project,
    QueueModel,
    QueueStrategy,
    Role,
)
from annotate.services.exports import calibration_report
from annotate.services.imports import ImportRejected, transcripts_import
from annotate.services.learning import (
    MODEL_STRATEGIES,
    queue_job_create,
    queue_settings_of,
)
from annotate.services.members import membership_ensure
from annotate.services.projects import (
    label_set_version_get,
    project_create,
)
from annotate.services.queue import annotation_submit, item_claim_next
from annotate.stats.calibration import Calibration

RATES = ("over_refusal", "under_refusal", "partial_compliance")
CURVE_COLUMNS = (
    "labels",
    "model",
    "heuristic",
    "holdout_macro_f1",
    "error_all_labels",
    "error_unbiased",
    "unbiased_items",
)


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--data", required=True, help="JSONL with label columns in metadata"
        )
        parser.add_argument(
            "--strategy", choices=[s.value for s in QueueStrategy], required=True
        )
        parser.add_argument("--budget", type=int, required=True, help="labels in all")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--annotators-from",
            default="_ann_a,_ann_b",
            help="metadata keys of the label columns, one simulated annotator each",
        )
        parser.add_argument(
            "--truth", default="_truth", help="the metadata key of the truth"
        )
        parser.add_argument("--holdout", type=float, default=0.2, help="share held out")
        parser.add_argument("--overlap", type=int, default=1)
        parser.add_argument(
            "--queue-setting", action="append", default=[], metavar="NAME=VALUE"
        )
        parser.add_argument(
            "--out", default="var/simulation", help="folder for the CSV and PNG"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # The real jobs, run here: the loop must see each retrain's result.
        app.conf.task_always_eager = True
        columns = [
            c.strip() for c in options["annotators_from"].split(",") if c.strip()
        ]
        rows = _read(Path(options["data"]))
        if not rows:
            raise CommandError(f"{options['data']}: no rows")
        missing = [
            c
            for c in (options["truth"], *columns)
            if c not in (rows[0].get("metadata") or {})
        ]
        if missing:
            raise CommandError(
                f"--annotators-from/--truth: no column {', '.join(missing)}"
            )
        held = [r for r in rows if _held_out(r, options["seed"], options["holdout"])]
        pool = [
            r for r in rows if not _held_out(r, options["seed"], options["holdout"])
        ]
        now = timezone.now()
        try:
            project = project_create(
                name=f"simulation {options['strategy']} seed {options['seed']} {uuid.uuid4().hex[:6]}",
                label_set_version=label_set_version_get(name="refusal-v1"),
                overlap=options["overlap"],
                queue_strategy=QueueStrategy(options["strategy"]),
                queue_settings={
                    "seed": options["seed"],
                    # Labels come in a thousand times faster than people give
                    # them: the rest between retrains, a wall-clock guard for
                    # a busy stack, would leave every retrain after the first
                    # undone (and the model the first one's).
                    "retrain_rest_seconds": 0,
                    **settings_from_flags(options["queue_setting"]),
                },
                now=now,
            )
            transcripts_import(
                project=project,
                stream=io.BytesIO(b"".join(orjson.dumps(r) + b"\n" for r in pool)),
                filename="simulation.jsonl",
                now=now,
            )
        except (ValidationError, ImportRejected) as e:
            raise CommandError("; ".join(e.messages)) from e
        queue_job_create(
            project=project, kind=JobKind.RESCORE, created_by=None, now=now
        )
        members = [
            membership_ensure(
                actor=None,
                project=project,
                username=f"{project.pk}-{c.strip('_')}",
                role=Role.ANNOTATOR,
                now=now,
            ).membership
            for c in columns
        ]
        by_id = {r["id"]: r for r in pool}
        truth_rates = _rates([r["metadata"][options["truth"]] for r in rows], rows)
        curve: list[dict[str, object]] = []
        last_version = 0
        labels = turn = idle = 0
        every = queue_settings_of(project).retrain_every
        # Annotators take turns; the run ends at the budget, or when nobody
        # has anything left to claim.
        while labels < options["budget"] and idle < len(members):
            k = turn % len(members)
            turn += 1
            membership = Membership.objects.select_related(
                "project__label_set_version"
            ).get(pk=members[k].pk)
            assignment = item_claim_next(membership=membership, now=timezone.now())
            if assignment is None:
                idle += 1
                continue
            idle = 0
            row = by_id[assignment.item.transcript.external_id]
            column = columns[k]
            annotation_submit(
                assignment=assignment,
                values=row["metadata"][column],
                client_uuid=uuid.uuid4(),
                seconds=1.0,
                now=timezone.now(),
            )
            labels += 1
            if project.queue_strategy not in MODEL_STRATEGIES and labels % every == 0:
                # The queue does not retrain for random or sequential (its
                # order needs no model), but the curve needs one: trained
                # here as often as the model strategies retrain.
                queue_job_create(
                    project=project,
                    kind=JobKind.RETRAIN,
                    created_by=None,
                    now=timezone.now(),
                )
            latest = (
                QueueModel.objects.filter(project=project).order_by("-version").first()
            )
            if latest is not None and latest.version != last_version:
                last_version = latest.version
                curve.append(
                    _point(project, latest, labels, held, truth_rates, options["truth"])
                )
                self.stdout.write(_line(curve[-1]))
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        stem = out / f"{options['strategy']}-seed{options['seed']}"
        with stem.with_suffix(".csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CURVE_COLUMNS)
            writer.writeheader()
            writer.writerows(curve)
        try:
            _plot(
                curve,
                stem.with_suffix(".png"),
                title=f"{options['strategy']}, seed {options['seed']}",
            )
            plotted = f" and {stem}.png"
        except ImportError:  # matplotlib is a development dependency
            plotted = " (no PNG: pip install matplotlib)"
        self.stdout.write(
            f"{labels} labels in project {project.name!r}; curve in {stem}.csv{plotted}"
        )


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        return [
            orjson.loads(line)
            for line in path.read_bytes().splitlines()
            if line.strip()
        ]
    except (OSError, orjson.JSONDecodeError) as e:
        raise CommandError(f"--data: {e}") from e


def _held_out(row: dict[str, Any], seed: int, share: float) -> bool:
    """By prompt group, so no prompt is both learnt and tested on."""
    key = f"{seed}:{row.get('prompt_group') or row.get('id')}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8]) / 2**64 < share


def _rates(
    labels: list[dict[str, Any]], rows: list[dict[str, Any]]
) -> dict[str, dict[str, float | None]]:
    """The report's rates per model over these labels taken as gold."""
    calibration = Calibration()
    for values, row in zip(labels, rows, strict=True):
        gold = {k: {"value": v} for k, v in values.items()}
        calibration.add(
            model=row.get("model") or "", category=None, prompt_group="", gold=gold
        )
    return {
        m["model"]: {name: m[name]["rate"] for name in RATES}
        for m in calibration.report()["models"]
    }


def _error(
    estimates: list[dict[str, Any]], truth: dict[str, dict[str, float | None]]
) -> float | None:
    """Mean absolute error of the estimated rates over models and rates."""
    errors = [
        abs(m[name]["rate"] - truth[m["model"]][name])
        for m in estimates
        for name in RATES
        if m["model"] in truth
        and m[name]["rate"] is not None
        and truth[m["model"]][name] is not None
    ]
    return sum(errors) / len(errors) if errors else None


def _point(
    project: Project,
    model: QueueModel,
    labels: int,
    held: list[dict[str, Any]],
    truth_rates: dict[str, dict[str, float | None]],
    truth_key: str,
) -> dict[str, object]:
    from sklearn.metrics import f1_score

    from annotate.stats import ranking

    f1: float | None = None
    if model.artefact is not None and held:
        fitted = ranking.loads(bytes(model.artefact))
        docs = [ranking.doc_from_messages(r["messages"]) for r in held]
        scores = []
        for m in fitted:
            truth = [r["metadata"][truth_key].get(m.field) for r in held]
            proba = ranking.predict_proba(m, docs)
            predicted = [m.classes[i] for i in proba.argmax(axis=1)]
            scores.append(float(f1_score(truth, predicted, average="macro")))
        f1 = sum(scores) / len(scores) if scores else None
    report = calibration_report(project=project, now=timezone.now())
    unbiased = report["unbiased"]["models"]
    return {
        "labels": labels,
        "model": model.version,
        "heuristic": model.heuristic,
        "holdout_macro_f1": f1,
        "error_all_labels": _error(report["models"], truth_rates),
        "error_unbiased": _error(unbiased, truth_rates),
        "unbiased_items": sum(int(m["items"]) for m in unbiased),
    }


def _line(point: dict[str, object]) -> str:
    def show(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    return "  " + ", ".join(f"{k} {show(v)}" for k, v in point.items())


def _plot(curve: list[dict[str, object]], path: Path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no screen here
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    xs = [p["labels"] for p in curve]
    left.plot(xs, [p["holdout_macro_f1"] for p in curve], marker="o")
    left.set(xlabel="labels", ylabel="held-out macro-F1", title=title)
    right.plot(
        xs, [p["error_all_labels"] for p in curve], marker="o", label="all labels"
    )
    right.plot(xs, [p["error_unbiased"] for p in curve], marker="o", label="unbiased")
    right.set(
        xlabel="labels", ylabel="mean |estimate - truth|", title="calibration estimates"
    )
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
