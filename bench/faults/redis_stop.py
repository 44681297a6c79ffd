"""Drill: the broker (Redis) stops while annotators submit (issue 14 point 4).

Sets up a private redis-server (port 6393 unless --port; never the
machine's) as broker and cache, a Celery worker and gunicorn as production
runs them (bench/stack.py) on the bench database, and annotators looping
claim -> submit over the API. Breaks: Redis is stopped mid-run, and started
again (empty: --save '', so every task queued before is gone). Checks,
printing what it found: every submit during the outage succeeded; every
acknowledged submit is stored exactly once; nothing over-filled; the
manager's warning counted the items waiting while Redis was down; and once
Redis is back every item is rescored (disagreement and gold current)
without anyone's help. Exits 1 if any check fails.

`--quick` (CI, tests/bench/test_redis_stop.py): 4 annotators, 4 s a phase.
"""

from __future__ import annotations

import sys
from pathlib import Path

# As bench/queue.py: bench/ must not shadow the standard library's `queue`.
ROOT = Path(__file__).resolve().parents[2]
sys.path[:] = [
    p
    for p in sys.path
    if Path(p or ".").resolve() not in {ROOT / "bench", ROOT / "bench/faults"}
]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import ExitStack, contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402


@contextmanager
def redis_server(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A private, empty, unsaved redis-server on `port`; stopped on the way out."""
    process = start_redis(port)
    try:
        yield process
    finally:
        stop_redis(process)


def start_redis(port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("The drill needs redis-server (apt-get install redis-server).")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--bind",
            "127.0.0.1",
            "--dir",
            tempfile.mkdtemp(),
        ],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    import redis

    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port, socket_connect_timeout=0.5).ping()
            return process
        except redis.RedisError:
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"redis-server did not start on port {port}")
            time.sleep(0.1)


def stop_redis(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


@dataclass
class Log:
    """What the annotators saw, per phase."""

    acknowledged: list[str] = field(default_factory=list)  # client_uuids, 201/200
    failed: dict[str, list[str]] = field(default_factory=dict)
    submits: dict[str, int] = field(default_factory=dict)


def annotate(
    port: int,
    project_id: int,
    tokens: list[str],
    phase: list[str],
    stop: threading.Event,
    log: Log,
) -> list[threading.Thread]:
    from bench.queue import VALUES, Client

    lock = threading.Lock()

    def work(token: str) -> None:
        client = Client(port, token)
        try:
            while not stop.is_set():
                status, body, _, _ = client.post(
                    f"/api/projects/{project_id}/claim/", b""
                )
                if status != 200:
                    with lock:
                        log.failed.setdefault(phase[0], []).append(
                            f"claim {status} {body[:120]!r}"
                        )
                    time.sleep(0.05)
                    continue
                key = str(uuid.uuid4())
                payload = json.dumps({"values": VALUES, "client_uuid": key}).encode()
                assignment = json.loads(body)["id"]
                status, body, _, _ = client.post(
                    f"/api/assignments/{assignment}/annotation/", payload
                )
                with lock:
                    log.submits[phase[0]] = log.submits.get(phase[0], 0) + 1
                    if status in (200, 201):
                        log.acknowledged.append(key)
                    else:
                        log.failed.setdefault(phase[0], []).append(
                            f"submit {status} {body[:120]!r}"
                        )
        finally:
            client.conn.close()

    threads = [threading.Thread(target=work, args=(t,), daemon=True) for t in tokens]
    for t in threads:
        t.start()
    return threads


def alive(pid: int) -> bool:
    """Whether the process runs (not gone, nor a zombie waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rpartition(")")[2].split()[0] not in {"Z", "X"}
    except OSError:
        return False


def stale_items(url: str, project_id: int) -> str:
    """A few of the items bench.loop.STALE_SQL counts, to say why."""
    import psycopg

    from bench.loop import STALE_SQL

    sql = STALE_SQL.replace(
        "SELECT count(*)",
        "SELECT i.transcript_id, i.annotations_count, i.disagreement, "
        "i.rescore_due, g.updated_at",
        1,
    )
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(sql + " LIMIT 5", {"p": project_id}).fetchall()
    return "; ".join(str(r) for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--port", type=int, default=6393, help="the private Redis's port"
    )
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="each phase: up, down, up again"
    )
    parser.add_argument("--annotators", type=int, default=16)
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.annotators = 4.0, 4
    # Before bench.stack is imported: its broker is this Redis, and so is
    # the cache (the throttle's counts), as in docker-compose.yml.
    broker = f"redis://127.0.0.1:{args.port}/0"
    os.environ["BENCH_BROKER_URL"] = broker
    os.environ["CACHE_URL"] = broker
    os.environ["SECURE_SSL_REDIRECT"] = "false"  # plain loopback, no TLS proxy
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))

    from bench.common import database_url, ensure_database
    from bench.loop import gunicorn_settings, overfilled, seconds_to_current
    from bench.queue import annotators_ensure, django_setup, project_ensure, queue_reset
    from bench.stack import celery_worker, gunicorn

    url = database_url()
    ensure_database(url)
    django_setup(url)
    size = 2_000 if args.quick else 10_000
    project_id = project_ensure(size)
    tokens = annotators_ensure([project_id])[: args.annotators]
    queue_reset(project_id)

    from django.db import connection

    from annotate.models import Annotation, Project
    from annotate.services.deferred import rescore_waiting

    project = Project.objects.get(pk=project_id)
    connection.close()
    found: list[str] = []
    failures: list[str] = []
    log = Log()
    phase = ["before"]
    stop = threading.Event()
    processes, per_process, _ = gunicorn_settings()
    with (
        ExitStack() as workers,
        redis_server(args.port) as first,
        gunicorn(url, processes, per_process) as (port, _),
    ):
        worker = workers.enter_context(celery_worker(url))
        threads = annotate(port, project_id, tokens, phase, stop, log)
        time.sleep(args.seconds)
        phase[0] = "down"
        stop_redis(first)
        found.append(f"Redis stopped after {log.submits.get('before', 0)} submits")
        time.sleep(args.seconds / 2)
        waiting = rescore_waiting(project)
        connection.close()
        time.sleep(args.seconds / 2)
        found.append(
            f"while down: {log.submits.get('down', 0)} submits, "
            f"{len(log.failed.get('down', []))} failed; the project page "
            f"warned of {waiting} items waiting to be rescored"
        )
        if not log.submits.get("down"):
            failures.append("no submit was made while Redis was down")
        if log.failed.get("down"):
            failures.append(f"submits failed while down: {log.failed['down'][:3]}")
        if not waiting:
            failures.append("no warning for managers while Redis was down")
        phase[0] = "after"
        again = start_redis(args.port)
        try:
            time.sleep(3)  # the worker's reconnect
            if not alive(worker):
                # Seen: kombu's restore of the unacknowledged (acks_late)
                # messages on the lost connection raises, and the worker
                # exits. docker-compose restarts it (restart:
                # unless-stopped); so does the drill, and says so.
                found.append("the worker died with the connection; restarted")
                worker = workers.enter_context(celery_worker(url))
            time.sleep(args.seconds)
            stop.set()
            for t in threads:
                t.join(timeout=30)
            found.append(f"Redis back: {log.submits.get('after', 0)} submits since")
            if not log.submits.get("after"):
                failures.append("no submit was made after Redis came back")
            lag = seconds_to_current(url, project_id, 60)
            found.append(
                "every item rescored "
                + (
                    f"{lag:.1f} s after the last submit"
                    if lag is not None
                    else "NOT within 60 s"
                )
            )
            if lag is None:
                failures.append(
                    "items left unrescored after Redis came back: "
                    + stale_items(url, project_id)
                )
        finally:
            stop_redis(again)
    for name in ("before", "after"):
        if log.failed.get(name):
            failures.append(f"failures {name} the outage: {log.failed[name][:3]}")
    stored = Annotation.objects.filter(client_uuid__in=log.acknowledged).count()
    found.append(f"{len(log.acknowledged)} submits acknowledged, {stored} stored")
    if stored != len(log.acknowledged):
        failures.append("an acknowledged submit is missing or stored twice")
    failures += overfilled(url, project_id)
    queue_reset(project_id)
    print("redis_stop drill:")
    for line in found:
        print(f"  {line}")
    if failures:
        print("FAILED:\n" + "\n".join(f"  {f}" for f in failures))
        sys.exit(1)
    print("  nothing lost.")


if __name__ == "__main__":
    main()
