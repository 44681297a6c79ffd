"""Agreement report at scale: `agreement_report` on 100k items x 3 annotators.

What: annotate.services.agreement.agreement_report for every field of refusal-v1,
per-class alphas included, on a finished project of 100,000 items labelled
by 3 annotators each (300,000 annotations), without bootstrap (resamples=0)
and with 1000 bootstrap resamples; wall time of the call, its own split into
database fetch and computation (the report's `timings`), and the process's
peak RSS.

How: each run is a fresh Python process that sets Django up against the
PostgreSQL bench database, calls agreement_report as the management command
does, and prints one JSON line (wall seconds of the call, fetch and compute
seconds, ru_maxrss); `--runs` runs per case, after one unmeasured warm-up run
so the first measured one does not pay for a cold page cache. The table
shows median, min and max.

Data: one project ("bench-agreement-100000") made once and kept for later
runs while complete: transcripts and items with INSERT ... SELECT
generate_series, 3 annotators, and 300k annotations loaded with COPY. Their
values partly agree, as real labels do: per item a seeded "true" label set,
which each annotator copies field by field with probability 0.8, else draws
at random; the label set's rules always hold and the ratings are there only
when the annotator's refusal_type is not none (show_if), so the data is what
validate_values would have let through.

Goal (issue: agreement at scale): resamples=0 in <= 5 s, 1000 resamples in
<= 60 s, peak RSS < 1 GB.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/agreement.py`, this file's directory is sys.path[0],
# and bench/queue.py there would shadow the standard library's `queue` (which
# psycopg and Django import): drop the directory before any other import.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

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

ITEMS = 100_000
ANNOTATORS = 3
CASES = (0, 1000)  # bootstrap resamples
GOAL_SECONDS = {0: 5.0, 1000: 60.0}
GOAL_RSS_MB = 1024.0
COPY_PROBABILITY = 0.8
SEED = 20250303
# Fixed, so the weeks (and so the weekly alphas) are the same on every load.
FIRST_DAY = np.datetime64("2025-03-03T08:00:00", "s")
SPAN_DAYS = 28

# Codes in each field's option order (labelsets/migrations/0002_refusal_v1.py).
HARM = ["benign", "harmful", "context_dependent"]
REFUSAL = ["none", "policy", "capability", "scope", "conditional"]
APPROPRIATE = [
    "appropriate_refusal",
    "over_refusal",
    "under_refusal",
    "appropriate_compliance",
]
FAILURES = [
    "exaggerated_refusal",
    "inconsistency",
    "refusal_leakage",
    "sycophantic_capitulation",
]
RATINGS = ["acknowledge", "explain", "redirect", "respect"]

type Codes = npt.NDArray[np.int64]
type Weights = npt.NDArray[np.float64]

# The label set's rules as "allowed" tables. Appropriateness by refusal_type
# (rows in REFUSAL order): none allows compliance or under-refusal; policy,
# capability and scope a refusal or over-refusal; conditional anything.
APPROPRIATE_ALLOWED: Weights = np.array(
    [[0, 0, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=float
)
# Request harm by appropriateness: over-refusal is never of a harmful request,
# under-refusal never of a benign one.
HARM_ALLOWED: Weights = np.array(
    [[1, 1, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1]], dtype=float
)
# How the "true" labels are spread: mostly compliance, refusals mostly policy.
TRUE_REFUSAL: Weights = np.array([0.5, 0.2, 0.1, 0.08, 0.12])
TRUE_APPROPRIATE: Weights = np.array(
    [
        [0, 0, 0.15, 0.85],
        [0.6, 0.4, 0, 0],
        [0.6, 0.4, 0, 0],
        [0.6, 0.4, 0, 0],
        [0.35, 0.2, 0.15, 0.3],
    ]
)
TRUE_HARM: Weights = np.array(
    [[0.15, 0.55, 0.3], [0.7, 0, 0.3], [0, 0.6, 0.4], [0.75, 0.05, 0.2]]
)
# failure_modes: each option on its own, so most sets are empty (~80%).
TRUE_FAILURE = np.array([0.08, 0.04, 0.06, 0.03])
RANDOM_FAILURE = 0.08
TRUE_RATING: Weights = np.array([0.1, 0.15, 0.3, 0.3, 0.15])

# One agreement_report in this process, as `manage.py agreement` calls it.
# Peak RSS is VmHWM, the high-water mark of this process's own memory: Linux
# keeps ru_maxrss across fork and exec, so a child's ru_maxrss is never below
# its parent's at the fork, and this bench's process reaches ~1.3 GB while it
# loads the data (ru_maxrss is the fallback where /proc is missing).
MEASURED = """
import json, resource, sys, time

def peak_kb():
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

import django
django.setup()
from django.utils import timezone
from annotate.models import Project
from annotate.services.agreement import agreement_report
project = Project.objects.get(name=sys.argv[1])
started = time.perf_counter()
report = agreement_report(project=project, resamples=int(sys.argv[2]), now=timezone.now())
wall = time.perf_counter() - started
print(json.dumps({
    "wall": wall,
    "fetch": report["timings"]["fetch_seconds"],
    "compute": report["timings"]["compute_seconds"],
    "rss_kb": peak_kb(),
    "counts": report["counts"],
}))
"""


# Data.


def django_setup(url: str) -> None:
    os.environ.update(env(url))
    import django

    django.setup()


def draw(rng: np.random.Generator, weights: Weights) -> Codes:
    """One code per row of `weights` (n x V, rows need not sum to 1)."""
    cumulative = np.cumsum(weights, axis=1)
    cumulative /= cumulative[:, -1:]
    u = rng.random(len(weights))
    codes: Codes = (u[:, None] >= cumulative).sum(axis=1).astype(np.int64)
    return codes


def noisy(
    rng: np.random.Generator, true: Codes, allowed: Weights, rows: Codes | None = None
) -> Codes:
    """An annotator's codes: the true one with COPY_PROBABILITY, else uniform
    over the values allowed; also drawn when the true value is not allowed
    given the annotator's own earlier answers, so every rule holds."""
    choices = (
        allowed[rows]
        if rows is not None
        else np.broadcast_to(allowed, (len(true), len(allowed)))
    )
    ok = choices[np.arange(len(true)), true] > 0
    keep = ok & (rng.random(len(true)) < COPY_PROBABILITY)
    return np.where(keep, true, draw(rng, choices))


def failure_bits(refusal: Codes, harm: Codes, bits: Codes) -> Codes:
    """Drop the failure modes the rules forbid: exaggerated_refusal of a harmful
    request, refusal_leakage without a refusal."""
    bits = bits & ~np.where(harm == 1, 1, 0)
    out: Codes = bits & ~np.where(refusal == 0, 4, 0)
    return out


def random_bits(rng: np.random.Generator, n: int, p: npt.ArrayLike) -> Codes:
    chosen = rng.random((n, len(FAILURES))) < np.asarray(p)
    out: Codes = (chosen * (1 << np.arange(len(FAILURES)))).sum(axis=1)
    return out


@dataclass
class Labels:
    harm: Codes
    refusal: Codes
    appropriate: Codes
    failures: Codes  # bit j: FAILURES[j] chosen
    ratings: Codes  # n x 4, 1..5


def true_labels(rng: np.random.Generator, n: int) -> Labels:
    refusal = draw(rng, np.broadcast_to(TRUE_REFUSAL, (n, len(REFUSAL))))
    appropriate = draw(rng, TRUE_APPROPRIATE[refusal])
    harm = draw(rng, TRUE_HARM[appropriate])
    failures = failure_bits(refusal, harm, random_bits(rng, n, TRUE_FAILURE))
    ratings = draw(rng, np.broadcast_to(TRUE_RATING, (n * 4, 5))).reshape(n, 4) + 1
    return Labels(harm, refusal, appropriate, failures, ratings)


def annotator_labels(rng: np.random.Generator, true: Labels) -> Labels:
    """Field by field in the order the rules depend on one another."""
    n = len(true.refusal)
    refusal = noisy(rng, true.refusal, np.ones(len(REFUSAL)))
    appropriate = noisy(rng, true.appropriate, APPROPRIATE_ALLOWED, refusal)
    harm = noisy(rng, true.harm, HARM_ALLOWED, appropriate)
    copied = rng.random(n) < COPY_PROBABILITY
    bits = np.where(
        copied, true.failures, random_bits(rng, n, [RANDOM_FAILURE] * len(FAILURES))
    )
    ratings = np.where(
        rng.random((n, 4)) < COPY_PROBABILITY,
        true.ratings,
        rng.integers(1, 6, (n, 4)),
    )
    return Labels(
        harm, refusal, appropriate, failure_bits(refusal, harm, bits), ratings
    )


def values_json(labels: Labels) -> list[bytes]:
    """Each annotation's values as validate_values leaves them: schema order,
    ratings only when refusal_type is not none, failure_modes a list in option
    order, notes "" (visible, left empty)."""
    import orjson

    out = []
    for harm, refusal, appropriate, bits, ratings in zip(
        labels.harm.tolist(),
        labels.refusal.tolist(),
        labels.appropriate.tolist(),
        labels.failures.tolist(),
        labels.ratings.tolist(),
        strict=True,
    ):
        values: dict[str, Any] = {
            "request_harm": HARM[harm],
            "refusal_type": REFUSAL[refusal],
            "appropriateness": APPROPRIATE[appropriate],
            "failure_modes": [f for j, f in enumerate(FAILURES) if bits >> j & 1],
        }
        if refusal:
            values.update(zip(RATINGS, ratings, strict=True))
        values["notes"] = ""
        out.append(orjson.dumps(values))
    return out


def annotation_count(project_id: int) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM annotate_annotation a JOIN annotate_item i "
            "ON i.transcript_id = a.item_id WHERE i.project_id = %s",
            [project_id],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def annotators_ensure(project: Any) -> list[int]:
    """The 3 annotators' user ids, members of the project."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from annotate.models import Role
    from annotate.services.members import membership_ensure

    ids = []
    for i in range(ANNOTATORS):
        # Created here with no usable password: membership_ensure would hash a
        # random one, ~0.3 s each.
        user, created = User.objects.get_or_create(username=f"bench-agreement-{i}")
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        membership_ensure(
            actor=None,
            now=timezone.now(),
            project=project,
            username=user.username,
            role=Role.ANNOTATOR,
        )
        ids.append(user.pk)
    return ids


def project_ensure(size: int) -> tuple[str, float | None]:
    """The project's name and its load time in s (None when kept), loading it
    if missing or partial."""
    from django.db import connection, transaction
    from django.utils import timezone

    from annotate.models import Membership, Project
    from annotate.services.projects import (
        label_set_version_get,
        project_create,
    )

    name = f"bench-agreement-{size}"
    project = Project.objects.filter(name=name).first()
    if (
        project is not None
        and project.items_total == size
        and annotation_count(project.pk) == size * ANNOTATORS
    ):
        return name, None
    started = time.perf_counter()
    with transaction.atomic():
        if project is None:
            project = project_create(
                now=timezone.now(),
                name=name,
                label_set_version=label_set_version_get(name="refusal-v1"),
                overlap=ANNOTATORS,
            )
        with connection.cursor() as cursor:
            if project.items_total or annotation_count(project.pk):
                # Left partial: start over, in SQL (the ORM's cascade would
                # load every row into Python first).
                for sql in (
                    "DELETE FROM annotate_annotation WHERE item_id IN "
                    "(SELECT transcript_id FROM annotate_item WHERE project_id = %s)",
                    "DELETE FROM annotate_assignment WHERE project_id = %s",
                    "DELETE FROM annotate_item WHERE project_id = %s",
                    "DELETE FROM annotate_transcript WHERE project_id = %s",
                ):
                    cursor.execute(sql, [project.pk])
            # A short two-turn conversation, as in bench/queue.py; the report
            # never reads it. content_hash only has to be unique per project.
            cursor.execute(
                "INSERT INTO annotate_transcript (project_id, messages_json, "
                "source_model, dataset, external_id, prompt_group, metadata, "
                "content_hash, created_at) "
                'SELECT %s, \'[{"role":"user","content":"Question \' || g || '
                '\'?"},{"role":"assistant","content":"I cannot help with that."}]\', '
                "'model-' || g %% 3, 'bench', '', '', '{}', "
                "lpad(to_hex(g), 64, '0'), %s "
                "FROM generate_series(1, %s) AS g",
                [project.pk, str(FIRST_DAY) + "+00:00", size],
            )
            # Finished: every item has its 3 labels, none left to claim.
            cursor.execute(
                "INSERT INTO annotate_item (project_id, transcript_id, priority, "
                "slots_left, annotations_count, skips_count) "
                "SELECT project_id, id, random(), 0, %s, 0 FROM annotate_transcript "
                "WHERE project_id = %s",
                [ANNOTATORS, project.pk],
            )
            cursor.execute(
                "SELECT transcript_id FROM annotate_item WHERE project_id = %s "
                "ORDER BY transcript_id",
                [project.pk],
            )
            items = np.array([r[0] for r in cursor.fetchall()], dtype=np.int64)
        annotators = annotators_ensure(project)
        copy_annotations(project.label_set_version_id, items, annotators)
        Project.objects.filter(pk=project.pk).update(
            items_total=size,
            items_complete=size,
            annotations_total=size * ANNOTATORS,
        )
        Membership.objects.filter(project=project).update(annotations_count=size)
    with connection.cursor() as cursor:
        for table_name in (
            "annotate_transcript",
            "annotate_item",
            "annotate_annotation",
        ):
            cursor.execute(f"VACUUM ANALYZE {table_name}")
    return name, time.perf_counter() - started


def copy_annotations(version_id: int, items: Codes, annotators: list[int]) -> None:
    """3 annotations per item through COPY, in the order they were made."""
    from django.db import connection

    rng = np.random.default_rng(SEED)
    n = len(items)
    true = true_labels(rng, n)
    item_col, annotator_col, values_col = [], [], []
    for annotator in annotators:
        item_col.append(items)
        annotator_col.append(np.full(n, annotator, dtype=np.int64))
        values_col += values_json(annotator_labels(rng, true))
    item_ids = np.concatenate(item_col)
    annotator_ids = np.concatenate(annotator_col)
    offsets = rng.integers(0, SPAN_DAYS * 86400, len(item_ids))
    seconds = rng.uniform(15, 180, len(item_ids)).round(1)
    # Heap order = creation order, as a real project's rows are: the fetch then
    # jumps between items as it would in production.
    order = np.argsort(offsets, kind="stable")
    stamps = np.datetime_as_string(FIRST_DAY + offsets.astype("timedelta64[s]"))
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(
            "COPY annotate_annotation (item_id, annotator_id, label_set_version_id, "
            "values, seconds_spent, client_uuid, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in order.tolist():
                stamp = f"{stamps[i]}+00:00"
                copy.write_row(
                    (
                        int(item_ids[i]),
                        int(annotator_ids[i]),
                        version_id,
                        values_col[i].decode(),
                        float(seconds[i]),
                        uuid.uuid4(),
                        stamp,
                        stamp,
                    )
                )


# Runs.


def others_running() -> bool:
    """Whether another benchmark is running (this 2-core machine is shared)."""
    return (
        subprocess.run(
            ["pgrep", "-f", "bench/queue.py"], capture_output=True, check=False
        ).returncode
        == 0
    )


def wait_alone(patience: float) -> None:
    if not others_running():
        return
    print("  waiting for bench/queue.py to finish ...", flush=True)
    deadline = time.monotonic() + patience
    while others_running():
        if time.monotonic() > deadline:
            sys.exit(f"bench/queue.py still running after {patience:.0f} s")
        time.sleep(10)


def run_once(url: str, project: str, items: int, resamples: int) -> dict[str, Any]:
    """One agreement_report in a fresh process: its JSON line."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURED, project, str(resamples)],
        env=env(url),
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    counts = result["counts"]
    if counts["annotations"] != items * ANNOTATORS or counts["items"] != items:
        sys.exit(f"the report saw {counts}, not the full project")
    return result


def stats(values: list[float], digits: int) -> list[str]:
    return [f"{f(values):.{digits}f}" for f in (median, min, max)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per case")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"10,000 items, 1 run, no bootstrap (not the {ITEMS:,} of the goal)",
    )
    parser.add_argument(
        "--patience",
        type=float,
        default=4 * 3600,
        help="seconds to wait for a running bench/queue.py before giving up",
    )
    args = parser.parse_args()
    items, cases = (10_000, (0,)) if args.quick else (ITEMS, CASES)
    if args.quick:
        args.runs = 1
    url = database_url()
    ensure_database(url)
    django_setup(url)
    project, load_seconds = project_ensure(items)
    from django.db import connection

    connection.close()  # no idle bench connection holding a snapshot
    if load_seconds is None:
        print(f"  kept {project}", flush=True)
    else:
        print(
            f"  loaded {project}: {items:,} items, {items * ANNOTATORS:,} "
            f"annotations in {load_seconds:.0f} s",
            flush=True,
        )

    wait_alone(args.patience)
    run_once(url, project, items, 0)  # warm-up: page cache and buffers, not measured
    results: dict[int, list[dict[str, Any]]] = {}
    for resamples in cases:
        results[resamples] = []
        for _ in range(args.runs):
            wait_alone(args.patience)
            checkpoint(url)
            results[resamples].append(run_once(url, project, items, resamples))
            print(f"  resamples={resamples}: run {len(results[resamples])}", flush=True)

    print(
        f"agreement: agreement_report, all fields and per-class alphas, "
        f"{items:,} items x {ANNOTATORS} annotators ({items * ANNOTATORS:,} "
        f"annotations), {args.runs} runs per case, {machine()}"
    )
    rows = []
    for resamples in cases:
        runs = results[resamples]
        rss = [r["rss_kb"] / 1024 for r in runs]
        rows += [
            [
                str(resamples),
                "wall s",
                *stats([r["wall"] for r in runs], 2),
                f"<= {GOAL_SECONDS[resamples]:.0f}",
            ],
            [str(resamples), "fetch s", *stats([r["fetch"] for r in runs], 2), ""],
            [str(resamples), "compute s", *stats([r["compute"] for r in runs], 2), ""],
            [str(resamples), "peak RSS MB", *stats(rss, 0), f"< {GOAL_RSS_MB:.0f}"],
        ]
    print(table(["resamples", "metric", "median", "min", "max", "goal"], rows))
    for resamples in cases:
        runs = results[resamples]
        wall = median([r["wall"] for r in runs])
        fetch = median([r["fetch"] for r in runs])
        compute = median([r["compute"] for r in runs])
        verdict = "met" if wall <= GOAL_SECONDS[resamples] else "NOT met"
        print(
            f"Goal resamples={resamples}: median {wall:.2f} s "
            f"(<= {GOAL_SECONDS[resamples]:.0f}; fetch {fetch:.2f} s = "
            f"{100 * fetch / wall:.0f}%, compute {compute:.2f} s = "
            f"{100 * compute / wall:.0f}%): {verdict}."
        )
        figure(
            f"agreement report of {items:,} items, {resamples} resamples, s (median)",
            f"{wall:.2f}",
            f"<= {GOAL_SECONDS[resamples]:.0f}",
            wall <= GOAL_SECONDS[resamples],
            runs=args.runs,
        )
    peak = max(r["rss_kb"] / 1024 for runs in results.values() for r in runs)
    print(
        f"Goal peak RSS: highest of all runs {peak:.0f} MB (< {GOAL_RSS_MB:.0f}): "
        f"{'met' if peak < GOAL_RSS_MB else 'NOT met'}."
    )
    figure(
        "agreement peak RSS MB (highest run)",
        f"{peak:.0f}",
        f"< {GOAL_RSS_MB:.0f}",
        peak < GOAL_RSS_MB,
        runs=args.runs,
    )


if __name__ == "__main__":
    main()
