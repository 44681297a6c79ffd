"""Shared by the fault drills: their settings, a real Celery worker to start
and kill, the data their jobs chew on, and the report of what they found.

A drill is a Django process (it plays the web: it creates the jobs with the
services and reads the database and files afterwards) beside real Celery
worker processes on a Redis broker, all on one PostgreSQL database.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/refusal_annotate_drills"
DEFAULT_BROKER = "redis://127.0.0.1:6379/13"

# Redis hands a killed worker's task out again after this many seconds (and
# workers look every 10 s): short, so a drill fits in a minute; production's
# is CELERY_VISIBILITY_TIMEOUT's default (settings.py).
VISIBILITY_TIMEOUT = 5


def arguments(description: str | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="smaller data: about a minute"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DRILL_DATABASE_URL", DEFAULT_DATABASE),
        help="PostgreSQL; created and migrated if missing (DRILL_DATABASE_URL)",
    )
    parser.add_argument(
        "--broker-url",
        default=os.environ.get("DRILL_BROKER_URL", DEFAULT_BROKER),
        help="a Redis database of the drill's own: flushed (DRILL_BROKER_URL)",
    )
    return parser.parse_args()


def drill_env(
    args: argparse.Namespace, var: Path, limits: dict[str, int]
) -> dict[str, str]:
    """The environment of the drill and its workers: production's settings
    (DEBUG off, the broker, the cache on Redis so progress is shared), with
    the drill's visibility timeout and time limits."""
    return {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "CELERY_BROKER_URL": args.broker_url,
        "CACHE_URL": args.broker_url,
        "DEBUG": "false",
        "SECRET_KEY": "drill-only-secret",
        "SECURE_COOKIES": "false",
        "ALLOWED_HOSTS": "testserver,127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "annotate.settings",
        "OPENBLAS_NUM_THREADS": "1",
        "LOG_LEVEL": "WARNING",
        "VAR_DIR": str(var),
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        **{f"JOB_TIME_LIMIT_{k.upper()}": str(v) for k, v in limits.items()},
    }


def setup(args: argparse.Namespace, limits: dict[str, int]) -> dict[str, str]:
    """Create and migrate the database, flush the broker, set Django up in
    this process; the workers' environment."""
    import psycopg
    import redis

    var = Path(tempfile.mkdtemp(prefix="drill-"))
    atexit.register(_data_remove, var)
    env = drill_env(args, var, limits)
    base, name = args.database_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--no-input", "-v", "0"],
        env=env,
        check=True,
        cwd=ROOT,
    )
    redis.Redis.from_url(args.broker_url, socket_connect_timeout=2).flushdb()
    os.environ.update(env)
    import django

    django.setup()
    return env


def _data_remove(var: Path) -> None:
    """Delete the drill's files (uploads, exports: hundreds of MB), keeping
    the workers' logs to read."""
    for path in var.iterdir():
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.suffix != ".log":
            path.unlink(missing_ok=True)


class Worker:
    """A Celery worker process (solo pool, as bench/stack.py's) with its own log."""

    def __init__(self, env: dict[str, str], name: str) -> None:
        self.log = Path(env["VAR_DIR"]) / f"worker-{name}.log"
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "annotate",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
                f"--logfile={self.log}",
                f"--hostname={name}@drill",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while "ready." not in self.text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the Celery worker did not start: {self.log}")
            time.sleep(0.1)

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def received(self) -> int:
        """How many job_run tasks it was handed."""
        return sum(
            "annotate.tasks.job_run[" in line and "received" in line
            for line in self.text().splitlines()
        )

    def finished(self) -> int:
        """How many job_run tasks it ran to their end."""
        return sum(
            "annotate.tasks.job_run[" in line and "succeeded in" in line
            for line in self.text().splitlines()
        )

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a lost machine: no warm shutdown,
        no message handed back."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def job_now(job_id: int) -> Any:
    """The job from the database, with its live progress from the cache."""
    from annotate.models import Job
    from annotate.queries import job_live

    return job_live(Job.objects.select_related("project").get(pk=job_id))


def wait_progress(job_id: int, percent: int, timeout: float) -> int:
    """Wait until the running job has done `percent` %; the % seen. Exits
    if the job ends first (the data are too small to catch it running)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = job_now(job_id)
        if job.is_finished:
            sys.exit(f"job {job_id} ended ({job.status}) before {percent}%: more data")
        if job.status == "running" and job.percent >= percent:
            return int(job.percent)
        time.sleep(0.05)
    sys.exit(f"job {job_id} did not reach {percent}% within {timeout} s")


def wait_finished(job_id: int, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = job_now(job_id)
        if job.is_finished:
            return job
        time.sleep(0.2)
    return job_now(job_id)


@dataclass
class Report:
    """What a drill found: a line per finding, and the problems among them."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def check(self, ok: bool, found: str) -> bool:
        self.lines.append(("ok    " if ok else "LOST  ") + found)
        if not ok:
            self.problems.append(found)
        print(self.lines[-1], flush=True)
        return ok

    def note(self, found: str) -> None:
        self.lines.append("      " + found)
        print(self.lines[-1], flush=True)

    def end(self, name: str) -> None:
        if self.problems:
            print(f"{name}: {len(self.problems)} problem(s)", flush=True)
            sys.exit(1)
        print(f"{name}: nothing lost, nothing stuck", flush=True)


def import_file(path: Path, rows: int, tag: str) -> int:
    """A JSONL file of `rows` distinct transcripts (about 700 bytes each)."""
    filler = " ".join(["The assistant explains why it will not help."] * 12)
    with path.open("w", encoding="utf-8") as out:
        for i in range(rows):
            record = {
                "prompt": f"Drill {tag} question {i}: how do I pick this lock?",
                "response": f"I cannot help with that {i}. {filler}",
                "model": f"m{i % 4}",
                "id": f"{tag}-{i}",
            }
            out.write(json.dumps(record) + "\n")
    return rows


def project_for_import(name: str) -> tuple[Any, Any]:
    """A new sequential project (no rescore job follows its import) and its manager."""
    from django.utils import timezone

    from annotate.models import QueueStrategy, Role
    from annotate.services.members import membership_ensure
    from annotate.services.projects import label_set_version_get, project_create

    now = timezone.now()
    project = project_create(
        now=now,
        name=name,
        label_set_version=label_set_version_get(name="refusal-v1"),
        overlap=1,
        queue_strategy=QueueStrategy.SEQUENTIAL,
    )
    manager = membership_ensure(
        actor=None,
        project=project,
        username="drill-manager",
        role=Role.MANAGER,
        now=now,
    ).membership.user
    return project, manager


def gold_everywhere(project_id: int) -> int:
    """Give every item of the project gold (the values of one of its
    annotations, as the majority's), so an export has a row per item; how
    many rows."""
    import orjson
    from django.db import connection

    from annotate.models import Annotation

    values = Annotation.objects.filter(item__project_id=project_id).values_list(
        "values", flat=True
    )[0]
    gold = {
        name: {"value": value, "method": "majority", "confidence": 1.0}
        for name, value in values.items()
    }
    with connection.cursor() as cursor:
        cursor.execute(
            'INSERT INTO annotate_gold (item_id, "values", key_resolved, adjudicated, '
            "updated_at) SELECT transcript_id, %s::jsonb, true, false, now() "
            "FROM annotate_item WHERE project_id = %s "
            'ON CONFLICT (item_id) DO UPDATE SET "values" = EXCLUDED."values"',
            [orjson.dumps(gold).decode(), project_id],
        )
        cursor.execute(
            "SELECT count(*) FROM annotate_gold g JOIN annotate_item i "
            "ON i.transcript_id = g.item_id WHERE i.project_id = %s",
            [project_id],
        )
        (n,) = cursor.fetchone()
    return int(n)
