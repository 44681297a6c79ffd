"""The active-learning queue (issue 10): the cost of its jobs at scale, and
whether its strategies save labels.

Part (a), the jobs at 100,000 items. A `hybrid` project of 100,000 items
(overlap 2) with 400 human labels, so a model trains, in the PostgreSQL bench
database. Measured, each run a fresh Python process that sets Django up,
imports the services and scikit-learn (a Celery worker has them loaded), then
creates the job with the service (`queue_job_create`) and runs it in the
process with `jobs.job_run`, as a worker would:

- a retrain (JobKind.RETRAIN: the model trained on the 400 labels, then every
  open item rescored with it): wall time, its training and rescoring parts,
  peak RSS (VmHWM, the process's own high-water mark: ru_maxrss would carry a
  parent's over the fork);
- a rescore (JobKind.RESCORE) of all 100,000 open items with the stored model,
  and the claim latency while it runs: this process claims with the service
  (`item_claim_next`, in-process, timed around the call) at a steady pace
  (`--claim-interval`, 50 claims/s by default: a queue serving people, not a
  tight loop that would compete with the rescore for the 2 cores), giving each
  claimed slot back untimed so every claim meets the same queue. Windows with
  a rescore running in the other process alternate with windows as long
  without one (ABBA order), `--runs` of each; before each window the item and
  claim tables are vacuumed (a rescore rewrites every open item's row and
  autovacuum is off here), checkpointed, and the bench waits for the other
  tenants' CPU load to fall (`--quiet`). Each window's other load (all busy
  CPU time less this bench's processes' and their backends') is measured; a
  pair of windows either of which had more than 15% is run again, up to
  `--attempts` times. The goal is judged on the median, over the quiet pairs,
  of each pair's p50 ratio (on all pairs when none was quiet); all windows
  are shown.

Goal: retrain + rescore of 100k items <= 60 s, peak RSS < 2 GB, claim p50
while a rescore runs within 10% of without.

Data: project "bench-al-<N>", made once (COPY) and kept while complete.
Transcripts are rows of the shipped simulation data set
(annotate/demo/simulation.jsonl), varied so no two are alike and hashing
costs what real text does: the assistant's opening paragraph kept (a
refusal's wording is there), its other paragraphs shuffled and one of them,
half the time, swapped for one from another row of the same behaviour, and
the request given one of a few openings ("Quick question: ..."). About 1 KB
of messages each, 4 source models, 8 categories. The 400 labels are
annotations (by one annotator, with their claims) of items drawn at random,
each the `_truth` of its row; those items keep one slot open, so every item
is open and the rescore scores all of them (the labelled ones by hybrid's
consensus term).

Part (b), the learning curves. `manage.py simulate_active_learning` on the
shipped data set, for `random`, `uncertainty` and `hybrid` x `--seeds` seeds
(0, 1, ...), `--budget` labels each, annotators A and B (`_ann_a`, `_ann_b`),
default settings (retrain every 50 labels, exploration 10%), overlap 1; two
runs at a time (`--parallel`: the curves do not depend on timing). The seed
picks the held-out 20% (by prompt group, the same for every strategy of a
seed) and the queue's random draws. From each run's CSV (a point per
retrain):

- the area under its held-out macro-F1 against labels, by the trapezoid rule
  on the common grid 50, 100, ... budget, divided by the grid's range (so it
  is the curve's mean F1 over it); the mean over seeds per strategy, and the
  mean difference from random's of the same seed with how many seeds it wins;
- labels saved at equal F1: the first label count where the strategy's mean
  curve (over seeds) reaches random's final mean F1 (linear between points),
  against random's budget;
- the calibration-estimate error at the end (mean over seeds): the mean
  absolute error of the report's over-, under-refusal and partial-compliance
  rates per source model against the whole data set's truth, from all labels
  and from the exploration sample only (the unbiased estimate; for random all
  labels are a uniform sample, so the two are the same).

The mean curves are plotted (`--plot`, docs/active_learning.png; --quick to
var/bench-al/).

`--quick`: 20,000 items, 2 runs and no reruns for (a), 1 seed and a budget of 300 for
(b), the plot not in docs/. `--part a|b`: one part only.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/active_learning.py`, this file's directory is
# sys.path[0], and bench/queue.py there would shadow the standard library's
# `queue` (which Django and psycopg import): drop it before any other import.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import select  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import defaultdict  # noqa: E402
from collections.abc import Iterator, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
import orjson  # noqa: E402

from bench.common import (  # noqa: E402
    ROOT,
    checkpoint,
    database_url,
    ensure_database,
    env,
    figure,
    machine,
    median,
    table,
)
from bench.stack import ticks_of, total_ticks, wait_quiet  # noqa: E402

DATA = ROOT / "annotate" / "demo" / "simulation.jsonl"
OUT = ROOT / "var" / "bench-al"
PLOT = ROOT / "docs" / "active_learning.png"

# Part (a).
SIZE, QUICK_SIZE = 100_000, 20_000
LABELLED = 400
OVERLAP = 2
SEED = 20251010
GOAL_SECONDS = 60.0
GOAL_RSS_MB = 2048.0
GOAL_CLAIM_RATIO = 1.10
QUIET_LOAD = 15.0  # %: a claim pair with more other load in a window is rerun
LABELLER = "bench-al-labeller"
CLAIMER = "bench-al-claimer"
OPENINGS = (
    "",
    "",
    "Quick question: ",
    "Hi! ",
    "Please help. ",
    "I was wondering: ",
    "Sorry if this is basic. ",
    "Asking for a project. ",
)

# Part (b).
STRATEGIES = ("random", "uncertainty", "hybrid")
BASELINE = "random"
SEEDS, QUICK_SEEDS = 5, 1
BUDGET, QUICK_BUDGET = 900, 300
STEP = 50  # the simulation retrains (and plots a point) every 50 labels
COLOURS = {"random": "tab:grey", "uncertainty": "tab:blue", "hybrid": "tab:orange"}

type Floats = npt.NDArray[np.float64]


def django_setup(url: str) -> None:
    os.environ.update(env(url))
    import django

    django.setup()


def peak_mb() -> float:
    """This process's VmHWM in MB (0 where /proc is missing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# Part (a): data.


def simulation_rows() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in DATA.read_bytes().splitlines() if line]


def transcript_rows(
    project_id: int, size: int, rows: list[dict[str, Any]]
) -> Iterator[tuple[tuple[object, ...], int]]:
    """(COPY row, index of the simulation row it was made from), `size` of them."""
    from annotate.importers import identity_key

    rng = np.random.default_rng(SEED)
    paragraphs: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        answer = row["messages"][2]["content"].split("\n\n")
        paragraphs[row["metadata"]["_behaviour"]] += answer[1:]
    bases = rng.integers(len(rows), size=size)
    for g, b in enumerate(bases.tolist()):
        row = rows[b]
        messages = [dict(m) for m in row["messages"]]
        turn = messages[1]
        turn["content"] = OPENINGS[int(rng.integers(len(OPENINGS)))] + turn["content"]
        head, *rest = messages[2]["content"].split("\n\n")
        rng.shuffle(rest)
        pool = paragraphs[row["metadata"]["_behaviour"]]
        if rest and pool and rng.random() < 0.5:
            rest[int(rng.integers(len(rest)))] = pool[int(rng.integers(len(pool)))]
        messages[2]["content"] = "\n\n".join([head, *rest])
        messages_json = orjson.dumps(messages, option=orjson.OPT_SORT_KEYS).decode()
        external_id = f"bench-al-{g:06d}"
        yield (
            (
                project_id,
                messages_json,
                row["model"],
                row["dataset"],
                external_id,
                f"{row['prompt_group']}-{g % 7}",
                orjson.dumps({"category": row["metadata"]["category"]}).decode(),
                identity_key(
                    external_id=external_id,
                    source_model=row["model"],
                    variant="",
                    messages_json=messages_json,
                ),
                "now",
            ),
            b,
        )


def project_ensure(size: int) -> tuple[int, float | None]:
    """The project of `size` items with its labels, and its load time (None
    when kept); loaded when missing or partial."""
    from django.db import connection, transaction
    from django.utils import timezone

    from annotate.models import Annotation, Project, QueueStrategy, Role
    from annotate.services.members import membership_ensure
    from annotate.services.projects import (
        label_set_version_get,
        project_create,
    )

    name = f"bench-al-{size}"
    project = Project.objects.filter(name=name).first()
    if (
        project is not None
        and project.items_total == size
        and Annotation.objects.filter(item__project=project).count() == LABELLED
    ):
        return project.pk, None
    started = time.perf_counter()
    rows = simulation_rows()
    now = timezone.now()
    with transaction.atomic():
        if project is not None:  # partial: start again
            project.delete()
        project = project_create(
            now=now,
            name=name,
            label_set_version=label_set_version_get(name="refusal-v1"),
            overlap=OVERLAP,
            queue_strategy=QueueStrategy.HYBRID,
        )
        labeller = membership_ensure(
            actor=None, project=project, username=LABELLER, role=Role.ANNOTATOR, now=now
        ).membership
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            bases: list[int] = []
            with raw.copy(
                "COPY annotate_transcript (project_id, messages_json, source_model, "
                "dataset, external_id, prompt_group, metadata, content_hash, "
                "created_at) FROM STDIN"
            ) as copy:
                for values, b in transcript_rows(project.pk, size, rows):
                    copy.write_row(values)
                    bases.append(b)
            raw.execute(
                "SELECT id FROM annotate_transcript WHERE project_id = %s ORDER BY id",
                [project.pk],
            )
            ids = [i for (i,) in raw.fetchall()]
            rng = np.random.default_rng([SEED, 1])
            chosen = sorted(rng.choice(size, LABELLED, replace=False).tolist())
            labelled = {ids[k]: bases[k] for k in chosen}
            with raw.copy(
                "COPY annotate_item (project_id, transcript_id, priority, audit, "
                "slots_left, annotations_count, skips_count) FROM STDIN"
            ) as copy:
                for i in ids:
                    done = 1 if i in labelled else 0
                    copy.write_row((project.pk, i, 0.0, False, OVERLAP - done, done, 0))
            with raw.copy(
                "COPY annotate_assignment (item_id, project_id, annotator_id, status, "
                "claimed_at, expires_at, skip_reason, chosen_by, score, probability) "
                "FROM STDIN"
            ) as copy:
                for i in labelled:
                    copy.write_row(
                        (i, project.pk, labeller.user_id, "submitted", now, now, "")
                        + ("queue", 0.0, None)
                    )
            with raw.copy(
                "COPY annotate_annotation (item_id, annotator_id, label_set_version_id, "
                "values, is_human, seconds_spent, client_uuid, created_at, "
                "updated_at) FROM STDIN"
            ) as copy:
                for i, b in labelled.items():
                    copy.write_row(
                        (
                            i,
                            labeller.user_id,
                            project.label_set_version_id,
                            orjson.dumps(rows[b]["metadata"]["_truth"]).decode(),
                            True,
                            30.0,
                            str(uuid.uuid4()),
                            now,
                            now,
                        )
                    )
        Project.objects.filter(pk=project.pk).update(
            items_total=size, items_complete=0, annotations_total=LABELLED
        )
        type(labeller).objects.filter(pk=labeller.pk).update(annotations_count=LABELLED)
    with connection.cursor() as cursor:
        for name in (
            "annotate_transcript",
            "annotate_item",
            "annotate_assignment",
            "annotate_annotation",
        ):
            cursor.execute(f"VACUUM ANALYZE {name}")
    return project.pk, time.perf_counter() - started


def jobs_clear(project_id: int) -> None:
    """End any queue job a killed run left live, so a new one can be queued."""
    from django.utils import timezone

    from annotate.models import Job, JobKind, JobStatus

    Job.objects.filter(
        project_id=project_id,
        kind__in=[JobKind.RETRAIN, JobKind.RESCORE],
        status__in=[JobStatus.QUEUED, JobStatus.RUNNING],
    ).update(status=JobStatus.FAILED, finished_at=timezone.now())


def tables_vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for name in ("annotate_item", "annotate_assignment"):
            cursor.execute(f"VACUUM ANALYZE {name}")


# Part (a): the measured job, in its own process (`--child KIND --project ID`).


def child(kind: str, project_id: int) -> None:
    """Queue a retrain or rescore with the service and run it here; print
    "ready" before, one JSON line after."""
    import django

    django.setup()
    from django.utils import timezone

    from annotate.celery import app, yield_to_the_pages
    from annotate.models import JobKind, JobStatus, Project, QueueModel
    from annotate.services import jobs
    from annotate.services.learning import queue_job_create
    from annotate.stats import ranking  # noqa: F401 - scikit-learn loaded, as in a worker

    # Queued on the in-memory broker, not run on commit: run below, timed;
    # at the priority a Celery worker runs its jobs at.
    app.conf.task_always_eager = False
    yield_to_the_pages()
    project = Project.objects.get(pk=project_id)
    print("ready", flush=True)
    started, cpu = time.perf_counter(), time.process_time()
    job = queue_job_create(
        project=project,
        kind=JobKind.RETRAIN if kind == "retrain" else JobKind.RESCORE,
        created_by=None,
        now=timezone.now(),
    )
    job = jobs.job_run(job_id=job.pk, now=timezone.now)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    model = QueueModel.objects.filter(project=project).order_by("-version").first()
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "rss_mb": peak_mb(),
                "ok": job.status == JobStatus.SUCCEEDED,
                "errors": job.errors,
                "result": job.result,
                "train_seconds": model.train_seconds if model else None,
                "heuristic": model.heuristic if model else None,
            }
        ),
        flush=True,
    )
    # Alive until told, so the bench can read this process's CPU time and
    # its database backend's for the window.
    sys.stdin.readline()


@dataclass
class JobRun:
    wall: float
    cpu: float
    rss_mb: float
    score_seconds: float
    items_scored: int
    train_seconds: float | None
    db_cpu: float = float("nan")  # its database backend's CPU time, s
    claims: list[float] = field(default_factory=list)  # ms, while it ran


def job_start(url: str, kind: str, project_id: int) -> subprocess.Popen[str]:
    """The job's process, once it is ready to start the job."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", kind, "--project", str(project_id)],
        env=env(url),
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if line != "ready":
        process.kill()
        process.wait()
        sys.exit(f"the {kind} process did not start (exit {process.returncode})")
    return process


def job_done(process: subprocess.Popen[str]) -> bool:
    """Whether the job's process has printed its result."""
    assert process.stdout is not None
    return bool(select.select([process.stdout], [], [], 0)[0])


def job_end(process: subprocess.Popen[str], kind: str, load: Load | None) -> JobRun:
    """Read the job's result; `load` ends its window while the job's process
    and its backend still run; then let the process go."""
    assert process.stdout is not None
    assert process.stdin is not None
    line = process.stdout.readline()
    if load is not None:
        load.end()
    process.stdin.write("\n")
    process.stdin.close()
    process.wait()
    if process.returncode or not line.strip():
        sys.exit(f"the {kind} process failed (exit {process.returncode})")
    found = json.loads(line)
    if not found["ok"]:
        sys.exit(f"the {kind} job failed: {found['errors']}")
    result = found["result"]
    return JobRun(
        wall=found["wall"],
        cpu=found["cpu"],
        rss_mb=found["rss_mb"],
        score_seconds=float(result.get("score_seconds") or 0.0),
        items_scored=int(result.get("items_scored") or 0),
        train_seconds=found["train_seconds"] if kind == "retrain" else None,
        db_cpu=load.backends_cpu if load is not None else float("nan"),
    )


class Load:
    """Other tenants' share of the cores over a window: all busy time less
    this bench's processes' (this one, the job's, their PostgreSQL backends);
    and the CPU time of the backends other than this process's (the job's)."""

    def __init__(self, extra: Sequence[int] = ()) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            self.others = {pid for (pid,) in cursor.fetchall()}
            cursor.execute("SELECT pg_backend_pid()")
            (mine,) = cursor.fetchone()
        self.pids = {os.getpid(), mine, *extra} | self.others
        self.ticks = ticks_of(self.pids)
        self.busy, self.total = total_ticks()
        self.share = float("nan")
        self.backends_cpu = float("nan")

    def end(self) -> float:
        after = ticks_of(self.pids)
        busy, total = total_ticks()
        used = {p: t - self.ticks.get(p, t) for p, t in after.items()}
        self.share = (
            100
            * max(0, busy - self.busy - sum(used.values()))
            / max(1, total - self.total)
        )
        tick = 1 / os.sysconf("SC_CLK_TCK")
        self.backends_cpu = tick * sum(used.get(p, 0) for p in self.others)
        return self.share


class Claimer:
    """One annotator claiming in this process at a steady pace; each claimed
    slot is given back (untimed), so every claim meets the same queue."""

    def __init__(self, project_id: int) -> None:
        from django.utils import timezone

        from annotate.models import Membership, Project, Role
        from annotate.services.members import membership_ensure

        project = Project.objects.get(pk=project_id)
        member = membership_ensure(
            actor=None,
            project=project,
            username=CLAIMER,
            role=Role.ANNOTATOR,
            now=timezone.now(),
        ).membership
        self.membership = Membership.objects.select_related(
            "project__label_set_version"
        ).get(pk=member.pk)
        self.release()

    def release(self) -> None:
        """Take back every claim of the claimer, their slots returned."""
        from django.db import connection, transaction

        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "WITH gone AS (DELETE FROM annotate_assignment WHERE project_id = %s "
                "AND annotator_id = %s RETURNING item_id) "
                "UPDATE annotate_item SET slots_left = slots_left + 1 "
                "WHERE transcript_id IN (SELECT item_id FROM gone)",
                [self.membership.project_id, self.membership.user_id],
            )

    def one(self) -> float:
        """One claim, timed (ms), then its slot given back."""
        from django.utils import timezone

        from annotate.services.queue import item_claim_next

        started = time.perf_counter()
        claimed = item_claim_next(membership=self.membership, now=timezone.now())
        ms = (time.perf_counter() - started) * 1000
        if claimed is None:
            sys.exit("the claimer found the queue empty")
        self.release()
        return ms

    def paced(self, interval: float, until: Any) -> list[float]:
        """Claims every `interval` s until `until()` is true."""
        samples = []
        due = time.perf_counter()
        while not until():
            samples.append(self.one())
            due += interval
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            else:
                due = time.perf_counter()
        return samples


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q * 100))


def before_run(url: str, quiet: float) -> float:
    """Vacuum, checkpoint, wait for quiet: the other tenants' load, %."""
    from django.db import connection

    tables_vacuum()
    connection.close()  # no idle bench connection holding a snapshot
    checkpoint(url)
    began = time.perf_counter()
    other = wait_quiet(15.0, quiet)
    if time.perf_counter() - began > 5:
        print(
            f"  (waited {time.perf_counter() - began:.0f} s for other load to fall: "
            f"{other:.0f}%)",
            flush=True,
        )
    return other


@dataclass
class Window:
    kind: str  # "alone" or "rescore"
    claims: list[float]  # ms
    other: float  # other tenants' load during it, %
    job: JobRun | None = None


def window_run(
    url: str,
    kind: str,
    project_id: int,
    claimer: Claimer,
    seconds: float,
    interval: float,
) -> Window:
    """Claims for `seconds`, or while a rescore runs in another process."""
    if kind == "alone":
        load = Load()
        end = time.perf_counter() + seconds
        claims = claimer.paced(interval, lambda: time.perf_counter() >= end)
        return Window(kind, claims, load.end())
    process = job_start(url, "rescore", project_id)
    load = Load([process.pid])
    claims = claimer.paced(interval, lambda: job_done(process))
    job = job_end(process, "rescore", load)
    return Window(kind, claims, load.share, job)


def part_a(args: argparse.Namespace, url: str) -> list[str]:
    """Run part (a), print its tables; the goals it misses."""
    from django.db import connection

    size = QUICK_SIZE if args.quick else args.items
    runs = 2 if args.quick else args.runs
    attempts = 1 if args.quick else args.attempts
    project_id, loaded = project_ensure(size)
    if loaded is None:
        print(f"  kept bench-al-{size}", flush=True)
    else:
        print(
            f"  loaded bench-al-{size}: {size:,} items, {LABELLED} labels in "
            f"{loaded:.0f} s",
            flush=True,
        )
    jobs_clear(project_id)
    claimer = Claimer(project_id)

    # Unmeasured: the first model (the rescores need one), a warm page cache.
    print("  warm-up retrain ...", flush=True)
    before_run(url, args.quiet)
    warm = job_end(job_start(url, "retrain", project_id), "retrain", None)
    retrains: list[JobRun] = []
    retrain_loads: list[float] = []
    for n in range(runs):
        before_run(url, args.quiet)
        process = job_start(url, "retrain", project_id)
        load = Load([process.pid])
        retrains.append(job_end(process, "retrain", load))
        retrain_loads.append(load.share)
        print(
            f"  retrain {n + 1}: {retrains[-1].wall:.1f} s, other load "
            f"{load.share:.0f}%",
            flush=True,
        )

    # Claims: warm this process's code paths and connection, unmeasured.
    for _ in range(50):
        claimer.one()
    seconds = max(5.0, warm.score_seconds)
    windows: list[Window] = []
    pairs: list[tuple[Window, Window]] = []  # (alone, rescore)
    for n in range(runs):
        # A pair another tenant loaded is run again, up to --attempts times.
        for attempt in range(attempts):
            pair: dict[str, Window] = {}
            for kind in ("alone", "rescore") if n % 2 == 0 else ("rescore", "alone"):
                before_run(url, args.quiet)
                w = window_run(
                    url, kind, project_id, claimer, seconds, args.claim_interval
                )
                windows.append(w)
                pair[kind] = w
                print(
                    f"  pair {n + 1}.{attempt + 1} {kind}: {len(w.claims)} claims, "
                    f"p50 {pct(w.claims, 0.5):.2f} ms, other load {w.other:.0f}%"
                    + (f"; rescore {w.job.wall:.1f} s" if w.job else ""),
                    flush=True,
                )
            pairs.append((pair["alone"], pair["rescore"]))
            if max(w.other for w in pair.values()) < QUIET_LOAD:
                break
    claimer.release()
    connection.close()
    rescores = [w.job for w in windows if w.job is not None]

    missed: list[str] = []
    print(
        f"\nactive learning (a): hybrid project of {size:,} items (overlap "
        f"{OVERLAP}, {LABELLED} labels), each job in a fresh process with job_run; "
        f"{runs} runs each, medians (min-max); {machine()}"
    )

    def spread(values: list[float], digits: int = 1) -> str:
        return (
            f"{median(values):.{digits}f} "
            f"({min(values):.{digits}f}-{max(values):.{digits}f})"
        )

    retrain_wall = median([r.wall for r in retrains])
    rss = max(r.rss_mb for r in [*retrains, *rescores])
    print(
        table(
            [
                "job",
                "wall s",
                "training s",
                "rescoring s",
                "CPU s: job / its database",
                "items scored",
                "peak RSS MB",
                "other load",
            ],
            [
                [
                    "retrain + rescore",
                    spread([r.wall for r in retrains]),
                    spread([r.train_seconds or 0.0 for r in retrains], 2),
                    spread([r.score_seconds for r in retrains]),
                    f"{median([r.cpu for r in retrains]):.1f} / "
                    f"{median([r.db_cpu for r in retrains]):.1f}",
                    f"{retrains[0].items_scored:,}",
                    spread([r.rss_mb for r in retrains], 0),
                    spread(retrain_loads, 0) + " %",
                ],
                [
                    "rescore (while claiming)",
                    spread([r.wall for r in rescores]),
                    "-",
                    spread([r.score_seconds for r in rescores]),
                    f"{median([r.cpu for r in rescores]):.1f} / "
                    f"{median([r.db_cpu for r in rescores]):.1f}",
                    f"{rescores[0].items_scored:,}",
                    spread([r.rss_mb for r in rescores], 0),
                    spread([w.other for w in windows if w.job], 0) + " %",
                ],
            ],
        )
    )
    verdict = "met" if retrain_wall <= GOAL_SECONDS and rss < GOAL_RSS_MB else "NOT met"
    print(
        f"Goal: retrain + rescore {retrain_wall:.1f} s (<= {GOAL_SECONDS:.0f}), "
        f"peak RSS {rss:.0f} MB (< {GOAL_RSS_MB:.0f}): {verdict}. CPU s: the job "
        "process's and its PostgreSQL backend's, from the job's start. Other load: other tenants' share of the cores during "
        "the run."
    )
    figure(
        f"retrain + rescore of {size:,} items, s (median)",
        f"{retrain_wall:.1f}",
        f"<= {GOAL_SECONDS:.0f}",
        retrain_wall <= GOAL_SECONDS,
        runs=runs,
    )
    figure(
        "retrain + rescore peak RSS MB",
        f"{rss:.0f}",
        f"< {GOAL_RSS_MB:.0f}",
        rss < GOAL_RSS_MB,
        runs=runs,
    )
    if retrain_wall > GOAL_SECONDS:
        missed.append(f"retrain + rescore {retrain_wall:.1f} s > {GOAL_SECONDS:.0f} s")
    if rss >= GOAL_RSS_MB:
        missed.append(f"peak RSS {rss:.0f} MB >= {GOAL_RSS_MB:.0f} MB")

    print(
        f"\nclaim latency (item_claim_next in-process, one claim every "
        f"{args.claim_interval * 1000:.0f} ms), windows alternated ABBA, {runs} of "
        f"each: {seconds:.0f} s alone, or as long as a rescore of {size:,} items "
        "in another process:"
    )
    rows = []
    for kind, label in (("alone", "alone"), ("rescore", "while a rescore runs")):
        mine = [w for w in windows if w.kind == kind]
        rows.append(
            [
                label,
                str(sum(len(w.claims) for w in mine)),
                " / ".join(f"{pct(w.claims, 0.5):.2f}" for w in mine),
                f"{median([pct(w.claims, 0.5) for w in mine]):.2f}",
                f"{median([pct(w.claims, 0.9) for w in mine]):.2f}",
                f"{median([pct(w.claims, 0.99) for w in mine]):.2f}",
                " / ".join(f"{w.other:.0f}" for w in mine),
            ]
        )
    print(
        table(
            [
                "claims",
                "n",
                "p50 ms, each window",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "other load %, each window",
            ],
            rows,
        )
    )
    quiet = [(a, r) for a, r in pairs if max(a.other, r.other) < QUIET_LOAD]
    for label, chosen in (("all", pairs), ("quiet", quiet)):
        if not chosen:
            continue
        ratios = [pct(r.claims, 0.5) / pct(a.claims, 0.5) for a, r in chosen]
        print(
            f"{len(chosen)} {label} pair(s)"
            + (
                f" (other load < {QUIET_LOAD:.0f}% in both windows)"
                if label == "quiet"
                else ""
            )
            + ": claim p50 "
            f"{median([pct(a.claims, 0.5) for a, _ in chosen]):.2f} ms alone, "
            f"{median([pct(r.claims, 0.5) for _, r in chosen]):.2f} ms during a "
            f"rescore; ratio within each pair {' / '.join(f'{x:.2f}' for x in ratios)}, "
            f"median {median(ratios):.2f}x"
        )
    judged = quiet or pairs
    ratio = median([pct(r.claims, 0.5) / pct(a.claims, 0.5) for a, r in judged])
    verdict = "met" if ratio <= GOAL_CLAIM_RATIO else "NOT met"
    print(
        f"Goal: claim p50 during a rescore within {GOAL_CLAIM_RATIO - 1:.0%} of "
        f"alone, judged on the {'quiet' if quiet else 'all (none quiet)'} pairs: "
        f"{ratio:.2f}x: {verdict}."
    )
    figure(
        "claim p50 during a rescore against alone",
        f"{ratio:.2f}x",
        f"<= {GOAL_CLAIM_RATIO:.2f}x",
        ratio <= GOAL_CLAIM_RATIO,
        runs=len(judged),
    )
    if ratio > GOAL_CLAIM_RATIO:
        missed.append(f"claim p50 {ratio:.2f}x during a rescore")
    return missed


# Part (b): the simulations.


def simulations_clear() -> None:
    """Drop the projects (and their simulated annotators) simulations left."""
    from django.contrib.auth.models import User

    from annotate.models import Project

    Project.objects.filter(name__startswith="simulation ").delete()
    User.objects.filter(
        username__regex=r"^[0-9]+-ann_[ab]$", annotations__isnull=True
    ).delete()


def simulations(
    url: str, runs: list[tuple[str, int]], budget: int, out: Path, parallel: int
) -> dict[tuple[str, int], float]:
    """Run the simulations, `parallel` at a time; each one's wall time."""
    waiting = list(runs)
    live: dict[tuple[str, int], tuple[subprocess.Popen[bytes], float]] = {}
    took: dict[tuple[str, int], float] = {}
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    while waiting or live:
        while waiting and len(live) < parallel:
            strategy, seed = waiting.pop(0)
            with (logs / f"{strategy}-seed{seed}.log").open("wb") as log:
                live[strategy, seed] = (
                    subprocess.Popen(
                        [
                            sys.executable,
                            str(ROOT / "manage.py"),
                            "simulate_active_learning",
                            "--data",
                            str(DATA),
                            "--strategy",
                            strategy,
                            "--budget",
                            str(budget),
                            "--seed",
                            str(seed),
                            "--annotators-from",
                            "_ann_a,_ann_b",
                            "--out",
                            str(out),
                        ],
                        env=env(url),
                        cwd=ROOT,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    ),
                    time.perf_counter(),
                )
        time.sleep(0.5)
        for key, (process, began) in list(live.items()):
            if process.poll() is None:
                continue
            del live[key]
            if process.returncode:
                sys.exit(
                    f"simulation {key[0]} seed {key[1]} failed: see "
                    f"{logs / f'{key[0]}-seed{key[1]}.log'}"
                )
            took[key] = time.perf_counter() - began
            print(
                f"  {key[0]} seed {key[1]}: {took[key]:.0f} s",
                flush=True,
            )
    return took


@dataclass
class Curve:
    labels: Floats
    f1: Floats
    error_all: float | None  # at the last point
    error_unbiased: float | None
    unbiased_items: int
    points: int


def curve_read(path: Path, grid: Floats) -> Curve:
    """A run's CSV, its F1 on the grid (linear between points, flat past the ends)."""
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["holdout_macro_f1"]]
    if not rows:
        sys.exit(f"{path}: no point with a held-out F1")
    xs = np.array([float(r["labels"]) for r in rows])
    ys = np.array([float(r["holdout_macro_f1"]) for r in rows])
    last = rows[-1]

    def number(value: str) -> float | None:
        return float(value) if value else None

    return Curve(
        labels=grid,
        f1=np.interp(grid, xs, ys),
        error_all=number(last["error_all_labels"]),
        error_unbiased=number(last["error_unbiased"]),
        unbiased_items=int(last["unbiased_items"] or 0),
        points=len(rows),
    )


def area(grid: Floats, f1: Floats) -> float:
    """Trapezoid area under F1 over the grid, divided by the grid's range."""
    widths = np.diff(grid)
    return float(np.sum(widths * (f1[1:] + f1[:-1]) / 2) / (grid[-1] - grid[0]))


def reaches(grid: Floats, f1: Floats, target: float) -> float | None:
    """The first label count (linear between points) where f1 reaches target."""
    above = np.flatnonzero(f1 >= target)
    if not len(above):
        return None
    k = int(above[0])
    if k == 0:
        return float(grid[0])
    x0, x1, y0, y1 = grid[k - 1], grid[k], f1[k - 1], f1[k]
    return float(x0 + (target - y0) * (x1 - x0) / (y1 - y0))


def mean_of(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def plot(
    path: Path,
    grid: Floats,
    curves: dict[str, list[Curve]],
    errors: dict[str, dict[str, Floats]],
    seeds: int,
    budget: int,
) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no screen here
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for strategy, runs in curves.items():
        stacked = np.vstack([c.f1 for c in runs])
        colour = COLOURS.get(strategy)
        left.plot(grid, stacked.mean(axis=0), label=strategy, color=colour)
        left.fill_between(
            grid, stacked.min(axis=0), stacked.max(axis=0), alpha=0.15, color=colour
        )
        right.plot(
            grid, errors[strategy]["all"], color=colour, label=f"{strategy}, all labels"
        )
        if strategy != BASELINE:
            right.plot(
                grid,
                errors[strategy]["unbiased"],
                color=colour,
                linestyle="--",
                label=f"{strategy}, exploration sample",
            )
    left.set(
        xlabel="labels",
        ylabel="held-out macro-F1",
        title=f"learning curves (mean of {seeds} seeds, band min-max)",
    )
    left.legend(loc="lower right")
    right.set(
        xlabel="labels",
        ylabel="mean |estimate - truth|",
        title="calibration-estimate error (mean of seeds)",
    )
    right.legend(fontsize="small")
    figure.suptitle(
        f"simulate_active_learning on annotate/demo/simulation.jsonl, budget {budget}"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def errors_on_grid(path: Path, grid: Floats) -> dict[str, Floats]:
    """The run's two calibration errors on the grid (for the plot)."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    out = {}
    for name, column in (("all", "error_all_labels"), ("unbiased", "error_unbiased")):
        kept = [r for r in rows if r[column]]
        if kept:
            out[name] = np.interp(
                grid,
                [float(r["labels"]) for r in kept],
                [float(r[column]) for r in kept],
            )
        else:
            out[name] = np.full(len(grid), np.nan)
    return out


def part_b(args: argparse.Namespace, url: str) -> list[str]:
    """Run part (b), print its table and plot; the strategies that miss."""
    seeds = QUICK_SEEDS if args.quick else args.seeds
    budget = QUICK_BUDGET if args.quick else args.budget
    plot_path = (
        Path(args.plot)
        if args.plot
        else (OUT / "active_learning-quick.png" if args.quick else PLOT)
    )
    out = OUT / ("quick" if args.quick else "curves")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.csv"):
        old.unlink()
    simulations_clear()
    from django.db import connection

    connection.close()
    runs = [(s, k) for k in range(seeds) for s in STRATEGIES]
    began = time.perf_counter()
    took = simulations(url, runs, budget, out, args.parallel)
    wall = time.perf_counter() - began
    simulations_clear()

    grid = np.arange(STEP, budget + 1, STEP, dtype=np.float64)
    curves = {
        s: [curve_read(out / f"{s}-seed{k}.csv", grid) for k in range(seeds)]
        for s in STRATEGIES
    }
    errors = {
        s: {
            name: np.nanmean(
                np.vstack(
                    [
                        errors_on_grid(out / f"{s}-seed{k}.csv", grid)[name]
                        for k in range(seeds)
                    ]
                ),
                axis=0,
            )
            for name in ("all", "unbiased")
        }
        for s in STRATEGIES
    }
    areas = {s: [area(grid, c.f1) for c in curves[s]] for s in STRATEGIES}
    means = {s: np.vstack([c.f1 for c in curves[s]]).mean(axis=0) for s in STRATEGIES}
    target = float(means[BASELINE][-1])
    rows = []
    missed = []
    for s in STRATEGIES:
        diffs = [a - b for a, b in zip(areas[s], areas[BASELINE], strict=True)]
        at = reaches(grid, means[s], target)
        saved = (
            "-"
            if s == BASELINE
            else (
                f"{at:.0f} labels, {100 * (1 - at / budget):.0f}% fewer"
                if at is not None
                else f"not reached by {budget}"
            )
        )
        e_all = mean_of([c.error_all for c in curves[s]])
        e_unb = mean_of([c.error_unbiased for c in curves[s]])
        rows.append(
            [
                s,
                f"{np.mean(areas[s]):.3f} ({min(areas[s]):.3f}-{max(areas[s]):.3f})",
                "-"
                if s == BASELINE
                else f"{np.mean(diffs):+.3f} ({min(diffs):+.3f}..{max(diffs):+.3f}), "
                f"{sum(d > 0 for d in diffs)}/{seeds} seeds",
                f"{means[s][-1]:.3f}",
                saved,
                f"{e_all:.3f}" if e_all is not None else "-",
                f"{e_unb:.3f}" if e_unb is not None else "-",
                f"{np.mean([c.unbiased_items for c in curves[s]]):.0f}",
            ]
        )
        if s != BASELINE:
            figure(
                f"{s}: area under the learning curve against random's",
                f"{np.mean(diffs):+.3f}",
                "> 0",
                bool(np.mean(diffs) > 0),
                runs=seeds,
            )
        if s != BASELINE and np.mean(diffs) <= 0:
            missed.append(f"{s}: area under the curve not above random's")
    print(
        f"\nactive learning (b): simulate_active_learning on {DATA.name} (3,000 rows, "
        f"20% held out by prompt group), annotators A and B, budget {budget} labels, "
        f"retrain every {STEP}; {seeds} seeds (0-{seeds - 1}) per strategy, means "
        f"(min-max over seeds); {len(runs)} runs in {wall / 60:.1f} min "
        f"({args.parallel} at a time; median run {median(list(took.values())):.0f} s); "
        f"{machine()}"
    )
    print(
        table(
            [
                "strategy",
                f"area under F1 {STEP}-{budget}",
                "vs random (same seed)",
                f"F1 at {budget}",
                f"reaches random's final F1 {target:.3f} at",
                "calib. error, all labels",
                "calib. error, exploration sample",
                "sample items",
            ],
            rows,
        )
    )
    print(
        "Area: the trapezoid area under held-out macro-F1 against labels, divided by "
        "the range (the curve's mean F1). Calibration error: mean |estimate - truth| "
        "of over-, under-refusal and partial-compliance rates per source model, at "
        "the end; for random all labels are a uniform sample (its two columns are "
        "the same estimate)."
    )
    print("Mean F1 on the grid:")
    print(
        table(
            ["labels", *STRATEGIES],
            [
                [f"{x:.0f}", *(f"{means[s][i]:.3f}" for s in STRATEGIES)]
                for i, x in enumerate(grid)
                if i % 2 == 1 or i == len(grid) - 1
            ],
        )
    )
    plot(plot_path, grid, curves, errors, seeds, budget)
    print(
        f"Plot: {plot_path.relative_to(ROOT) if plot_path.is_relative_to(ROOT) else plot_path}"
    )
    return missed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=["a", "b"], help="only this part")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"(a) {QUICK_SIZE:,} items, 2 runs, no reruns; (b) {QUICK_SEEDS} seed(s), budget "
        f"{QUICK_BUDGET}, the plot under var/",
    )
    parser.add_argument("--items", type=int, default=SIZE, help="(a) items")
    parser.add_argument("--runs", type=int, default=5, help="(a) runs of each job")
    parser.add_argument(
        "--attempts",
        type=int,
        default=3,
        help="(a) tries per pair of claim windows while other load is over 15%%",
    )
    parser.add_argument(
        "--claim-interval",
        type=float,
        default=0.02,
        help="(a) seconds between claims",
    )
    parser.add_argument(
        "--quiet",
        type=float,
        default=60.0,
        help="(a) seconds to wait before each run for other load to fall below 15%%",
    )
    parser.add_argument("--seeds", type=int, default=SEEDS, help="(b) seeds")
    parser.add_argument("--budget", type=int, default=BUDGET, help="(b) labels")
    parser.add_argument(
        "--parallel", type=int, default=2, help="(b) simulations at a time"
    )
    parser.add_argument(
        "--plot", help=f"(b) the PNG (default {PLOT.relative_to(ROOT)})"
    )
    parser.add_argument(
        "--child", choices=["retrain", "rescore"], help=argparse.SUPPRESS
    )
    parser.add_argument("--project", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.project)
        return
    began = time.perf_counter()
    url = database_url()
    ensure_database(url)
    django_setup(url)
    missed: list[str] = []
    if args.part in (None, "a"):
        missed += part_a(args, url)
    if args.part in (None, "b"):
        missed += part_b(args, url)
    print(f"Run time {time.perf_counter() - began:.0f} s.")
    if missed:
        print("Goals not met: " + "; ".join(missed))


if __name__ == "__main__":
    main()
