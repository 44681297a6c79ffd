"""The production stack for the benchmarks: gunicorn and a Celery worker on
the bench database, started and stopped around a measurement, and the CPU
accounting of their processes.

Run as a script's import (`from bench.stack import gunicorn`), after the
script has put the project root on sys.path.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import ROOT, env

# The production stack's broker: each submit queues its disagreement rescore
# there for the Celery worker, rather than running it in the request as
# happens without a broker.
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")


def server_env(url: str) -> dict[str, str]:
    return {
        **env(url),
        "ALLOWED_HOSTS": "127.0.0.1",
        # Persistent connections, as production should run.
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        "CELERY_BROKER_URL": BROKER_URL,
        # TLS ends at a proxy in front of gunicorn (README); the benches talk
        # plain HTTP on loopback, which DEBUG off would redirect to https.
        "SECURE_SSL_REDIRECT": "false",
        # A bench annotator writes many times a second, which no person does:
        # at production's 600/minute per token the API benches met 429s.
        "API_WRITE_RATE": os.environ.get("API_WRITE_RATE", "1000000/minute"),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def gunicorn(
    url: str, workers: int, threads: int, *, log: Path | None = None
) -> Iterator[tuple[int, int]]:
    """A gunicorn on a free loopback port, as (port, pid); stopped on the way
    out, error or not. Its stderr (the app's log) goes to `log` if given."""
    port = free_port()
    stderr = log.open("w") if log else None
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            # Production's settings (docker-compose.yml's), but for the flags.
            "-c",
            "python:annotate.gunicorn_conf",
            "annotate.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        env=server_env(url),
        cwd=ROOT,
        stderr=stderr,
        start_new_session=True,  # its own group: stopping it stops the workers too
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                sys.exit(f"gunicorn exited with {process.returncode} at start")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz/")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit("gunicorn did not answer /healthz/ within 30 s")
            time.sleep(0.2)
        yield port, process.pid
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if stderr:
            stderr.close()


@contextmanager
def celery_worker(url: str) -> Iterator[int]:
    """A Celery worker (one process, as each core is taken) on the bench
    broker, as its pid; stopped on the way out."""
    import redis

    try:
        redis.Redis.from_url(BROKER_URL, socket_connect_timeout=2).flushdb()
    except redis.RedisError as e:
        sys.exit(f"The queue bench needs Redis at {BROKER_URL} ({e}).")
    log = Path(tempfile.mkdtemp()) / "worker.log"
    with _celery(
        url,
        [
            "worker",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            # INFO for its "ready." line, the sign it consumes.
            "--loglevel=INFO",
            f"--logfile={log}",
        ],
        log=log,
        ready="ready.",
    ) as pid:
        yield pid


@contextmanager
def celery_beat(url: str) -> Iterator[int]:
    """Celery beat on the bench broker, sending settings.CELERY_BEAT_SCHEDULE
    (the retrain's safety net, claim expiry) as docker-compose's beat does,
    as its pid; stopped on the way out. Start the worker first: it empties
    the broker."""
    folder = Path(tempfile.mkdtemp())
    log = folder / "beat.log"
    with _celery(
        url,
        [
            "beat",
            "--loglevel=INFO",
            f"--logfile={log}",
            # A fresh schedule file: each run starts every entry's interval anew.
            f"--schedule={folder / 'celerybeat-schedule'}",
        ],
        log=log,
        ready="beat: Starting...",
    ) as pid:
        yield pid


@contextmanager
def _celery(url: str, args: list[str], *, log: Path, ready: str) -> Iterator[int]:
    """`celery -A annotate <args>`, as its pid once `ready` is in its `log`;
    stopped on the way out."""
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "annotate", *args],
        env=server_env(url),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,  # beat's banner; the log has the rest
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while ready not in (log.read_text() if log.exists() else ""):
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"celery {args[0]} did not start: {log}")
            time.sleep(0.2)
        yield process.pid
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                # A warm shutdown waits for the task in hand: a retrain of
                # 100k items under load can outlast it. Its job is the run's
                # leftover, which the next run drops.
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def cpu_busy(seconds: float) -> float:
    """The share of all cores busy over `seconds` (from /proc/stat), in %.

    Taken between cells, while the server is idle, it is other tenants'
    load: this machine is shared, and a browser test suite running beside the
    bench doubles its latencies, so the report shows it and the bench waits
    for a quiet moment (`--quiet`).
    """

    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
        return ticks[3] + ticks[4], sum(ticks)  # idle + iowait, total

    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return 100 * (1 - (idle1 - idle0) / max(1, total1 - total0))


def ticks_of(pids: set[int]) -> dict[int, int]:
    """CPU clock ticks (user + system) each process has used; gone ones left out."""
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        out[pid] = int(fields[11]) + int(fields[12])  # utime, stime
    return out


def bench_pids(server: int, url: str) -> set[int]:
    """This bench's processes: itself, gunicorn and its workers, and the
    PostgreSQL backends connected to the bench database."""
    import psycopg

    pids = {os.getpid(), server}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", encoding="ascii") as f:
                    if int(f.read().rpartition(")")[2].split()[1]) == server:
                        pids.add(int(entry.name))
            except OSError:
                continue
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchall()
    return pids | {pid for (pid,) in rows}


def total_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores since boot, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    total = sum(ticks[:8])  # guest time is counted in user already
    return total - ticks[3] - ticks[4], total  # minus idle and iowait


def wait_quiet(limit: float, patience: float) -> float:
    """Wait up to `patience` s for other load below `limit` %; the last reading."""
    deadline = time.monotonic() + patience
    busy = cpu_busy(1.0)
    while busy > limit and time.monotonic() < deadline:
        busy = cpu_busy(2.0)
    return busy
