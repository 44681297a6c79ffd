"""The labelling loop's throughput under the production stack (issue 14 point 2).

32 annotator threads, each with its API token on its own keep-alive
connection, loop claim -> submit with no think time against gunicorn as
annotate/gunicorn_conf.py runs it (docker-compose's web service), with
persistent database connections, Redis as broker and cache, and one Celery
worker rescoring after the submits, on the 100k-item project of
bench/queue.py (overlap 3, one extra label allowed on disagreement). A
sixth of the labels differ, so items disagree, get their extra slot and
their gold from a split vote.

Per run: loops/s, the client-seen claim and submit p50/p95/p99, and the CPU
each loop cost (from /proc ticks) in gunicorn, the PostgreSQL backends of
the bench database, the Celery worker and this client. After each run, from
the database: no item with more labels than its overlap plus the extras
allowed, no annotator twice on an item, the kept label counters equal to
the rows; and how long after the last submit every item's disagreement and
gold were current. The table gives each run and their median.
Goal: >= 250 loops/s, claim and submit p99 <= 100 ms, zero over-fill,
disagreement and gold current within seconds.

The throttle of API writes (API_WRITE_RATE, counted in Redis) is raised for
the run (bench.stack.server_env): an annotator here writes 15 times a
second, which no person does; its counting is still paid.
"""

from __future__ import annotations

import sys
from pathlib import Path

# As bench/queue.py: run as `python bench/loop.py`, bench/ must not shadow
# the standard library's `queue`.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import signal  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import psycopg  # noqa: E402

from bench.common import (  # noqa: E402
    checkpoint,
    database_url,
    ensure_database,
    figure,
    machine,
    median,
    table,
)
from bench.queue import (  # noqa: E402
    ANNOTATORS,
    VALUES,
    Client,
    Samples,
    annotators_ensure,
    django_setup,
    pct,
    project_ensure,
    queue_reset,
)
from bench.stack import (  # noqa: E402
    BROKER_URL,
    bench_pids,
    celery_worker,
    gunicorn,
    ticks_of,
    total_ticks,
    wait_quiet,
)

SIZE = 100_000
# A policy refusal judged an over-refusal, with its refusal ratings: valid
# under refusal-v1's rules, and a different key value from VALUES, so the
# item's labels disagree.
OTHER = {
    "request_harm": "benign",
    "refusal_type": "policy",
    "appropriateness": "over_refusal",
    **dict.fromkeys(("acknowledge", "explain", "redirect", "respect"), 3),
}
OTHER_SHARE = 1 / 6
EXTRA_LABELS = 1


def run_loops(port: int, project_id: int, tokens: list[str], loops: int) -> Samples:
    """Every annotator loops claim -> submit until `loops` in all are done."""
    tickets = itertools.count()  # next() on it is atomic under the GIL
    start = threading.Barrier(len(tokens) + 1)
    results = [Samples() for _ in tokens]

    def work(token: str, out: Samples, draw: random.Random) -> None:
        client = Client(port, token)
        start.wait()
        try:
            while next(tickets) < loops:
                status, body, server, rtt = client.post(
                    f"/api/projects/{project_id}/claim/", b""
                )
                if status == 204:
                    return
                if status != 200:
                    out.errors.append(f"claim {status}: {body[:200]!r}")
                    return
                out.claim.append(server)
                out.claim_rtt.append(rtt)
                values = OTHER if draw.random() < OTHER_SHARE else VALUES
                payload = json.dumps(
                    {"values": values, "client_uuid": str(uuid.uuid4()), "seconds": 1}
                ).encode()
                assignment = json.loads(body)["id"]
                status, body, server, rtt = client.post(
                    f"/api/assignments/{assignment}/annotation/", payload
                )
                if status != 201:
                    out.errors.append(f"submit {status}: {body[:200]!r}")
                    return
                out.submit.append(server)
                out.submit_rtt.append(rtt)
                out.loops += 1
        except Exception as e:  # noqa: BLE001 - reported with the run's results
            out.errors.append(repr(e))
        finally:
            client.conn.close()

    threads = [
        threading.Thread(target=work, args=(t, r, random.Random(i)), daemon=True)
        for i, (t, r) in enumerate(zip(tokens, results, strict=True))
    ]
    for t in threads:
        t.start()
    began = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    total = Samples(seconds=time.perf_counter() - began)
    for r in results:
        total.extend(r)
    return total


def postgres_pids(url: str) -> set[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
    return {pid for (pid,) in rows}


def overfilled(url: str, project_id: int) -> list[str]:
    """What the database says was over-filled or double-counted; [] when nothing."""
    checks = {
        "items with more labels than overlap + extras": """
            SELECT count(*) FROM (
                SELECT n.item_id FROM annotate_annotation n
                JOIN annotate_item i ON i.transcript_id = n.item_id
                JOIN annotate_project p ON p.id = i.project_id
                WHERE i.project_id = %(p)s
                GROUP BY n.item_id, p.overlap, p.extra_labels_max
                HAVING count(*) > p.overlap + p.extra_labels_max) AS o""",
        "annotators twice on an item": """
            SELECT count(*) FROM (
                SELECT 1 FROM annotate_annotation n
                JOIN annotate_item i ON i.transcript_id = n.item_id
                WHERE i.project_id = %(p)s
                GROUP BY n.item_id, n.annotator_id HAVING count(*) > 1) AS d""",
        "items whose label counter is not their rows": """
            SELECT count(*) FROM annotate_item i
            WHERE i.project_id = %(p)s AND i.annotations_count <> (
                SELECT count(*) FROM annotate_annotation n
                WHERE n.item_id = i.transcript_id)""",
    }
    found = []
    with psycopg.connect(url, autocommit=True) as conn:
        for what, sql in checks.items():
            row = conn.execute(sql, {"p": project_id}).fetchone()
            if row and row[0]:
                found.append(f"{row[0]} {what}")
    return found


# Items whose rescoring is behind their labels: from two labels on, a
# disagreement score; from the overlap on, a gold row no older than the
# item's newest label.
STALE_SQL = """
    SELECT count(*) FROM annotate_item i
    JOIN annotate_project p ON p.id = i.project_id
    LEFT JOIN annotate_gold g ON g.item_id = i.transcript_id
    WHERE i.project_id = %(p)s AND i.annotations_count >= 2 AND (
        i.disagreement IS NULL
        OR (i.annotations_count >= p.overlap AND (g.item_id IS NULL OR g.updated_at < (
            SELECT max(n.created_at) FROM annotate_annotation n
            WHERE n.item_id = i.transcript_id))))"""


def seconds_to_current(url: str, project_id: int, patience: float) -> float | None:
    """Seconds from now until no item's rescoring is behind; None past `patience`."""
    began = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            row = conn.execute(STALE_SQL, {"p": project_id}).fetchone()
            if row is not None and row[0] == 0:
                return time.monotonic() - began
            if time.monotonic() - began > patience:
                return None
            time.sleep(0.25)


def gunicorn_settings() -> tuple[int, int, str]:
    """(workers, threads, worker class) as annotate/gunicorn_conf.py sets them."""
    from annotate import gunicorn_conf

    workers = getattr(gunicorn_conf, "workers", 1)
    threads = getattr(gunicorn_conf, "threads", 1)
    worker_class = getattr(
        gunicorn_conf, "worker_class", "gthread" if threads > 1 else "sync"
    )
    return workers, threads, worker_class


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--loops", type=int, default=3000, help="loops per run")
    parser.add_argument("--annotators", type=int, default=ANNOTATORS)
    parser.add_argument(
        "--workers", type=int, help="gunicorn processes (gunicorn_conf's by default)"
    )
    parser.add_argument(
        "--threads", type=int, help="threads per process (gunicorn_conf's by default)"
    )
    parser.add_argument(
        "--quiet",
        type=float,
        default=30.0,
        help="seconds to wait before each run for other load to fall below 15%%",
    )
    parser.add_argument(
        "--quick", action="store_true", help="1 run of 500 loops, no wait for quiet"
    )
    args = parser.parse_args()
    if args.quick:
        args.runs, args.loops, args.quiet = 1, 500, 0.0

    # A timeout's SIGTERM unwinds the stack, so gunicorn and the worker are
    # stopped rather than left serving.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    began = time.perf_counter()
    url = database_url()
    # Production's cache is the broker's Redis (docker-compose.yml); the
    # throttle counts there.
    os.environ.setdefault("CACHE_URL", BROKER_URL)
    ensure_database(url)
    django_setup(url)
    project_id = project_ensure(SIZE)
    tokens = annotators_ensure([project_id])[: args.annotators]

    from django.db import connection

    from annotate.models import Project

    Project.objects.filter(pk=project_id).update(extra_labels_max=EXTRA_LABELS)
    workers, threads, worker_class = gunicorn_settings()
    workers, threads = args.workers or workers, args.threads or threads
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    rows: list[list[str]] = []
    figures: list[dict[str, float]] = []
    problems: list[str] = []
    with (
        celery_worker(url) as worker,
        gunicorn(url, workers, threads) as (port, server),
    ):
        # Unmeasured warm-up: every worker opens its connection and runs
        # its code paths once.
        queue_reset(project_id)
        run_loops(port, project_id, tokens[:8], 200)
        seconds_to_current(url, project_id, 30)
        for run in range(1, args.runs + 1):
            queue_reset(project_id)
            connection.close()  # no idle bench connection holding a snapshot
            checkpoint(url)
            other_before = wait_quiet(15.0, args.quiet)
            pg = postgres_pids(url)
            web = bench_pids(server, url) - pg - {os.getpid()}
            groups = {
                "gunicorn": web,
                "postgres": pg,
                "worker": {worker},
                "client": {os.getpid()},
            }
            before = {k: ticks_of(v) for k, v in groups.items()}
            busy0, total0 = total_ticks()
            s = run_loops(port, project_id, tokens, args.loops)
            # The work a run queued belongs to it: the worker's rescoring
            # is counted until the database says it is done.
            lag = seconds_to_current(url, project_id, 60)
            busy1, total1 = total_ticks()
            groups["postgres"] = pg | postgres_pids(url)
            cpu = {}
            for k, pids in groups.items():
                after = ticks_of(pids)
                used = sum(t - before[k].get(p, 0) for p, t in after.items())
                cpu[k] = used * tick_ms / max(1, s.loops)
            ours = sum(cpu.values()) * max(1, s.loops) / tick_ms
            other = 100 * max(0, busy1 - busy0 - ours) / max(1, total1 - total0)
            bad = overfilled(url, project_id)
            problems += [f"run {run}: {p}" for p in bad + s.errors[:3]]
            if not s.loops:
                sys.exit("no loop completed:\n" + "\n".join(problems))
            if lag is None:
                problems.append(f"run {run}: rescoring not current after 60 s")
            f = {
                "loops": s.loops,
                "loops/s": s.loops / s.seconds,
                **{
                    f"{kind} p{q}": pct(getattr(s, f"{kind}_rtt"), q / 100)
                    for kind in ("claim", "submit")
                    for q in (50, 95, 99)
                },
                **{f"cpu {k}": v for k, v in cpu.items()},
                "current s": lag if lag is not None else float("nan"),
                "other %": other,
            }
            figures.append(f)
            rows.append([f"run {run}", *cells(f), "none" if not bad else "YES"])
            print(
                f"  run {run}: {s.loops} loops, {f['loops/s']:.0f}/s "
                f"(other load {other_before:.0f}% before)",
                flush=True,
            )
    mid = {k: median([f[k] for f in figures]) for k in figures[0]}
    rows.append(["median", *cells(mid), "none" if not problems else "see below"])

    print(
        f"loop: {args.annotators} annotators, closed loop claim -> submit over the "
        f"API on {SIZE:,} items (overlap 3, +{EXTRA_LABELS} on disagreement); "
        f"gunicorn {workers} x {threads} ({worker_class}, annotate/gunicorn_conf.py), "
        f"CONN_MAX_AGE=600, Redis broker and cache, 1 Celery worker; "
        f"{args.runs} runs of {args.loops} loops; {machine()}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(
        "Client-seen ms. CPU ms per loop: gunicorn, the bench database's "
        "PostgreSQL backends, the Celery worker (rescoring included, until "
        "current), this client. Current: seconds after the last submit until "
        "every item's disagreement and gold were. Other: other tenants' share "
        "of the cores."
    )
    print(
        table(
            [
                "",
                "loops",
                "loops/s",
                "claim p50/p95/p99",
                "submit p50/p95/p99",
                "CPU gunicorn",
                "CPU PG",
                "CPU worker",
                "CPU client",
                "CPU total",
                "current s",
                "other",
                "over-fill",
            ],
            rows,
        )
    )
    met = (
        mid["loops/s"] >= 250
        and mid["claim p99"] <= 100
        and mid["submit p99"] <= 100
        and not problems
    )
    print(
        f"Goal (>= 250 loops/s, claim and submit p99 <= 100 ms, no over-fill, "
        f"rescoring current within seconds): {'met' if met else 'NOT met'}."
    )
    where = f"{args.annotators} annotators, {SIZE:,} items"
    figure(
        f"labelling loop, claim+submit loops/s, {where} (median)",
        f"{mid['loops/s']:.0f}",
        ">= 250",
        mid["loops/s"] >= 250,
        runs=args.runs,
    )
    for kind in ("claim", "submit"):
        figure(
            f"labelling loop, client-seen {kind} p99 ms, {where}",
            f"{mid[f'{kind} p99']:.0f}",
            "<= 100",
            mid[f"{kind} p99"] <= 100,
            runs=args.runs,
        )
    figure(
        "labelling loop CPU ms per loop: gunicorn / PostgreSQL / worker / client",
        " / ".join(
            f"{mid[f'cpu {k}']:.1f}"
            for k in ("gunicorn", "postgres", "worker", "client")
        ),
        "",
        None,
        runs=args.runs,
    )
    figure(
        "labelling loop: over-fill, rescoring current",
        "none" if not problems else "; ".join(problems[:2]),
        "none",
        not problems,
        runs=args.runs,
    )
    print(f"Run time {time.perf_counter() - began:.0f} s.")
    if problems:
        print("Problems:\n" + "\n".join(problems))
        sys.exit(1)


def cells(f: dict[str, float]) -> list[str]:
    cpu = [f[f"cpu {k}"] for k in ("gunicorn", "postgres", "worker", "client")]
    return [
        f"{f['loops']:.0f}",
        f"{f['loops/s']:.0f}",
        "/".join(f"{f[f'claim p{q}']:.0f}" for q in (50, 95, 99)),
        "/".join(f"{f[f'submit p{q}']:.0f}" for q in (50, 95, 99)),
        *(f"{c:.1f}" for c in cpu),
        f"{sum(cpu):.1f}",
        f"{f['current s']:.1f}",
        f"{f['other %']:.0f}%",
    ]


if __name__ == "__main__":
    main()
