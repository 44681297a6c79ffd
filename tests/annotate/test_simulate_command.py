"""manage.py simulate_active_learning: a labelled data set replayed through
the real queue and jobs, writing its learning curve."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from annotate.models import Annotation, Assignment, Project, QueueModel
from tests.factories import refusal_v1

# Committed transactions: the command's jobs are queued on commit, as in use.
pytestmark = pytest.mark.django_db(transaction=True)

DATA = Path(__file__).resolve().parents[2] / "annotate" / "demo" / "simulation.jsonl"


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """The shipped data set's first 240 rows (and the label set it is labelled
    in, which an earlier transactional test's flush may have removed)."""
    refusal_v1()
    path = tmp_path / "small.jsonl"
    path.write_bytes(b"\n".join(DATA.read_bytes().splitlines()[:240]) + b"\n")
    return path


def test_a_replay_labels_through_the_queue_and_writes_the_curve(small, tmp_path):
    out = io.StringIO()
    call_command(
        "simulate_active_learning",
        data=str(small),
        strategy="hybrid",
        budget=80,
        seed=3,
        queue_setting=["retrain_every=20", "min_labels=20"],
        out=str(tmp_path / "curve"),
        stdout=out,
    )

    project = Project.objects.get(name__startswith="simulation hybrid seed 3")
    annotations = Annotation.objects.filter(item__project=project)
    assert annotations.count() == 80
    # Two simulated annotators, each answering from its own column.
    assert annotations.values("annotator").distinct().count() == 2
    assert Assignment.objects.filter(project=project, chosen_by="explore").exists()
    # A model every 20 labels, as the settings say: the simulation's labels
    # come faster than the rest between retrains a live project keeps.
    models = QueueModel.objects.filter(project=project, heuristic=False)
    assert sorted(models.values_list("labels_used", flat=True)) == [20, 40, 60, 80]
    with (tmp_path / "curve" / "hybrid-seed3.csv").open() as f:
        curve = list(csv.DictReader(f))
    assert [int(p["labels"]) for p in curve] == sorted(int(p["labels"]) for p in curve)
    trained = [p for p in curve if p["holdout_macro_f1"]]
    assert trained
    assert all(0.0 <= float(p["holdout_macro_f1"]) <= 1.0 for p in trained)
    assert (tmp_path / "curve" / "hybrid-seed3.png").stat().st_size > 1000
    assert "80 labels" in out.getvalue()


def test_a_missing_label_column_is_named(small, tmp_path):
    with pytest.raises(CommandError, match="no column _ann_c"):
        call_command(
            "simulate_active_learning",
            data=str(small),
            strategy="random",
            budget=10,
            annotators_from="_ann_a,_ann_c",
            out=str(tmp_path),
        )
