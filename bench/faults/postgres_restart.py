"""Drill: PostgreSQL restarted while annotators submit (issue 14).

Sets up a private PostgreSQL cluster (pg_createcluster, port 5447: never the
machine's), migrates a database there with a project of `--items` items,
and starts gunicorn (bench.stack, production's settings, kept connections)
on it. `--annotators` threads loop claim -> submit through the API with no
think time, each logging every acknowledged client_uuid. After `--before`
seconds the cluster is stopped the hard way (`-m immediate`, a crash: what
was acknowledged must already be in the WAL), left down `--down` seconds,
and started again; the annotators keep going for `--after` seconds.

Then it checks: no 500 and no traceback, in an answer or in the server's
log; every 5xx was the 503 with the API's error body and Retry-After; every
acknowledged submit is stored once, with the id it was answered with; a
submit that got no answer is stored whole or not at all; and the counters
(item, annotator, project, claim status) equal the rows they count. Prints
what it found; exits 1 on any problem.

    python bench/faults/postgres_restart.py [--quick]

`--quick` (~1 min, for CI: tests/test_fault_drills.py) runs 8 annotators
on 2,000 items for 4 + 3 + 6 s. Needs root (pg_createcluster) and Redis
(db 6, the queued rescores; no worker runs them).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import argparse  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from bench.faults.submits import (  # noqa: E402
    VERSION,
    Annotator,
    Log,
    Run,
    broker_flush,
    check_database,
    drill_env,
    private_cluster,
    project_with_annotators,
    report,
)

CLUSTER = "reqfaults_restart"
PORT = 5447


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--annotators", type=int, default=32)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--before", type=float, default=15.0)
    parser.add_argument("--down", type=float, default=3.0)
    parser.add_argument("--after", type=float, default=20.0)
    args = parser.parse_args()
    if args.quick:
        args.annotators, args.items, args.before, args.after = 8, 2_000, 4.0, 6.0

    drill_env()
    from bench.stack import gunicorn

    log_path = Path(tempfile.mkdtemp()) / "gunicorn.log"
    with private_cluster(CLUSTER, PORT) as url:
        started = time.monotonic()
        project_id, tokens = project_with_annotators(url, args.items, args.annotators)
        print(f"set up in {time.monotonic() - started:.0f} s: {url}", flush=True)
        broker_flush()
        log = Log()
        with gunicorn(url, workers=2, threads=4, log=log_path) as (port, _):
            logs = [Log() for _ in tokens]
            run = Run()
            threads = [
                threading.Thread(
                    target=Annotator(port, token, logs[i]).loop,
                    args=(project_id, run),
                )
                for i, token in enumerate(tokens)
            ]
            for thread in threads:
                thread.start()
            time.sleep(args.before)
            before = sum(len(x.acknowledged) for x in logs)
            print(f"{before} submits acknowledged; stopping PostgreSQL", flush=True)
            stop = time.monotonic()
            subprocess.run(
                ["pg_ctlcluster", VERSION, CLUSTER, "stop", "-m", "immediate"],
                check=True,
            )
            time.sleep(args.down)
            subprocess.run(["pg_ctlcluster", VERSION, CLUSTER, "start"], check=True)
            down = time.monotonic() - stop
            print(f"PostgreSQL back after {down:.1f} s", flush=True)
            run.end_in(args.after)
            for thread in threads:
                thread.join()
        for one in logs:
            log.extend(one)
        problems = log.problems + check_database(url, project_id, log)
        server_log = log_path.read_text()
        if "Traceback" in server_log:
            problems.append(f"a traceback in the server's log ({log_path})")
        broker_flush()
    statuses = ", ".join(f"{k}: {n}" for k, n in sorted(log.statuses.items()))
    return report(
        "PostgreSQL restart drill",
        [
            f"{args.annotators} annotators, {args.items:,} items; PostgreSQL "
            f"stopped (immediate) after {args.before:.0f} s, started again "
            f"{args.down:.0f} s later (back after {down:.1f} s), then {args.after:.0f} s more",
            f"answers: {statuses}; connections lost before an answer: {log.dropped}",
            f"submits acknowledged: {len(log.acknowledged)} (before the stop: {before}); "
            f"never answered: {len(log.unacknowledged)}",
            f"server log: {server_log.count('database unavailable')} "
            "'database unavailable' lines, "
            f"{server_log.count('Traceback')} tracebacks",
        ],
        problems,
    )


if __name__ == "__main__":
    sys.exit(main())
