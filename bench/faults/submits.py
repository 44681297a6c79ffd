"""Shared by the request-side drills (postgres_restart.py, network_drop.py):
a private PostgreSQL cluster, a project with annotators on it, an annotator
client that claims and submits through the API, and the checks that nothing
was lost or counted wrong.

The drills break things (the cluster is stopped under load), so they never
touch the machine's PostgreSQL: each creates a cluster of its own with
pg_createcluster and drops it at the end, error or not.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

VERSION = "15"
VALUES = {
    "request_harm": "benign",
    "refusal_type": "none",
    "appropriateness": "appropriate_compliance",
}


def drill_env() -> None:
    """The environment the drill's gunicorn and its Django setup read: set
    before bench.stack is imported (it reads the broker's URL then)."""
    # A `timeout` or Ctrl-C must still stop gunicorn and drop the cluster:
    # SIGTERM as SystemExit runs the finally blocks that do.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped (SIGTERM)"))
    # Redis db 6: this drill's own; no worker consumes it, the queued
    # rescores are flushed at the end.
    os.environ.setdefault("BENCH_BROKER_URL", "redis://127.0.0.1:6379/6")
    # The API's per-token write throttle (600/minute) would answer 429s to
    # an annotator looping with no think time.
    os.environ["API_WRITE_RATE"] = "1000000/minute"
    # Plain HTTP on loopback, no TLS proxy in front: no redirect to https.
    os.environ["SECURE_COOKIES"] = "false"


def pg(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True)


@contextmanager
def private_cluster(name: str, port: int) -> Iterator[str]:
    """A PostgreSQL cluster of its own on `port`, as the URL of its database
    "drill"; dropped on the way out."""
    if not os.path.exists("/usr/bin/pg_createcluster"):
        sys.exit("The drill needs pg_createcluster (Debian's postgresql-common).")
    subprocess.run(
        ["pg_dropcluster", "--stop", VERSION, name], capture_output=True, check=False
    )  # left over by a run that was killed
    pg("pg_createcluster", VERSION, name, "--port", str(port), "--", "--auth=trust")
    try:
        pg("pg_ctlcluster", VERSION, name, "start")
        pg("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "drill")
        yield f"postgres://postgres@127.0.0.1:{port}/drill"
    finally:
        subprocess.run(
            ["pg_dropcluster", "--stop", VERSION, name],
            capture_output=True,
            check=False,
        )


def broker_flush() -> None:
    import redis

    redis.Redis.from_url(
        os.environ["BENCH_BROKER_URL"], socket_connect_timeout=2
    ).flushdb()


def project_with_annotators(
    url: str, items: int, annotators: int
) -> tuple[int, list[str]]:
    """A project of `items` items (overlap 3) and its annotators' API tokens,
    made through bench.queue's loaders in this process."""
    from bench.common import ensure_database
    from bench.queue import annotators_ensure, django_setup, project_ensure

    ensure_database(url)
    django_setup(url)
    project_id = project_ensure(items)
    return project_id, annotators_ensure([project_id])[:annotators]


# How long a submit in flight at the end of a run may still retry.
GRACE = 30.0


class Run:
    """When the annotators stop: not known at their start, since the run
    goes on for a while after the fault is over."""

    def __init__(self) -> None:
        self.ends = math.inf

    def end_in(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds

    def over(self, grace: float = 0.0) -> bool:
        return time.monotonic() > self.ends + grace


@dataclass
class Log:
    """What one annotator saw: every status, the acknowledged submits as
    {client_uuid: annotation id}, and what was wrong with any answer."""

    statuses: dict[str, int] = field(default_factory=dict)  # "claim 200": n
    # None: acknowledged by a page, which does not show the label's id.
    acknowledged: dict[str, int | None] = field(default_factory=dict)
    unacknowledged: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    dropped: int = 0  # connections lost before an answer came

    def extend(self, other: Log) -> None:
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n
        self.acknowledged.update(other.acknowledged)
        self.unacknowledged |= other.unacknowledged
        self.problems += other.problems
        self.dropped += other.dropped


class Annotator:
    """One annotator on one keep-alive connection, claiming and submitting
    through the API as a pipeline would: a dropped connection is reopened
    and the request sent again, a 503 is retried after a pause; a submit is
    retried with the same client_uuid, so it is stored once."""

    def __init__(self, port: int, token: str, log: Log) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
        }
        self.log = log

    def post(self, path: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
        """One request and its answer, checked: a 5xx must be the 503 with
        the API's error body and Retry-After; (0, {}) when no answer came."""
        try:
            self.conn.request("POST", path, json.dumps(body), self.headers)
            response = self.conn.getresponse()
            raw = response.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.log.dropped += 1
            return 0, {}
        status = response.status
        key = f"{'submit' if path.endswith('/annotation/') else 'claim'} {status}"
        self.log.statuses[key] = self.log.statuses.get(key, 0) + 1
        if b"Traceback" in raw:
            self.log.problems.append(f"{path}: a traceback in a {status}")
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            self.log.problems.append(f"{path}: {status} is not JSON: {raw[:80]!r}")
            return status, {}
        if status == 503:
            if set(data) != {"detail", "errors"} or not response.getheader(
                "Retry-After"
            ):
                self.log.problems.append(
                    f"{path}: a 503 without its body: {raw[:120]!r}"
                )
        elif status >= 500:
            self.log.problems.append(f"{path}: {status} {raw[:120]!r}")
        return status, data

    def until_answered(
        self, path: str, body: dict[str, object], give_up: Callable[[], bool]
    ) -> tuple[int, dict[str, object]]:
        """post() again on a lost connection or a 503 (after a pause shorter
        than Retry-After, to press the server), until an answer or `give_up()`."""
        while True:
            status, data = self.post(path, body)
            if status not in {0, 503} or give_up():
                return status, data
            time.sleep(0.3)

    def loop(self, project_id: int, run: Run, submits: int | None = None) -> None:
        """claim -> submit until the run is over, or `submits` submits are
        made; a submit in flight at the end is given GRACE more seconds to be
        answered."""
        made = 0
        while not run.over() and made != submits:
            made += 1
            status, claim = self.until_answered(
                f"/api/projects/{project_id}/claim/", {}, run.over
            )
            if status == 204 or run.over():
                return
            if status != 200:
                self.log.problems.append(f"claim answered {status}: {claim}")
                return
            client_uuid = str(uuid.uuid4())
            body = {"values": VALUES, "client_uuid": client_uuid, "seconds": 1.0}
            status, stored = self.until_answered(
                f"/api/assignments/{claim['id']}/annotation/",
                body,
                lambda: run.over(GRACE),
            )
            if status in {200, 201}:
                if stored.get("client_uuid") != client_uuid:
                    self.log.problems.append(
                        f"submit {client_uuid} answered another label's id"
                    )
                self.log.acknowledged[client_uuid] = int(str(stored["id"]))
            elif status in {0, 503}:
                self.log.unacknowledged.add(client_uuid)
            else:
                self.log.problems.append(f"submit answered {status}: {stored}")


def check_database(url: str, project_id: int, log: Log) -> list[str]:
    """What is wrong in the database after the run; empty when nothing.

    Every acknowledged submit stored once, with the id it was answered with;
    an unacknowledged one stored whole or not at all; and the counters the
    submit keeps (item, annotator, project) equal to the rows they count.
    """
    import psycopg

    problems: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        stored: dict[str, int] = dict(
            conn.execute(
                "SELECT a.client_uuid::text, a.id FROM annotate_annotation a "
                "JOIN annotate_item i ON i.transcript_id = a.item_id "
                "WHERE i.project_id = %s",
                [project_id],
            ).fetchall()
        )
        for client_uuid, annotation_id in log.acknowledged.items():
            if client_uuid not in stored or annotation_id not in {
                None,
                stored[client_uuid],
            }:
                problems.append(
                    f"acknowledged {client_uuid} (id {annotation_id}) is "
                    f"{'missing' if client_uuid not in stored else 'another row'}"
                )
        # Stored but never acknowledged: only from submits that got no answer.
        strays = set(stored) - set(log.acknowledged) - log.unacknowledged
        if strays:
            problems.append(f"{len(strays)} stored labels no client sent")
        queries = {
            "items whose annotations_count is not their labels": """
                SELECT count(*) FROM annotate_item i WHERE i.project_id = %(p)s
                AND i.annotations_count <> (SELECT count(*) FROM annotate_annotation a
                    WHERE a.item_id = i.transcript_id)""",
            "items with more labels than the overlap": """
                SELECT count(*) FROM annotate_item i JOIN annotate_project p
                ON p.id = i.project_id WHERE p.id = %(p)s
                AND (SELECT count(*) FROM annotate_annotation a
                    WHERE a.item_id = i.transcript_id) > p.overlap""",
            "annotators whose annotations_count is not their labels": """
                SELECT count(*) FROM annotate_membership m WHERE m.project_id = %(p)s
                AND m.annotations_count <> (SELECT count(*) FROM annotate_annotation a
                    JOIN annotate_item i ON i.transcript_id = a.item_id
                    WHERE i.project_id = m.project_id AND a.annotator_id = m.user_id)""",
            "projects whose annotations_total is not their labels": """
                SELECT count(*) FROM annotate_project p WHERE p.id = %(p)s
                AND p.annotations_total <> (SELECT count(*) FROM annotate_annotation a
                    JOIN annotate_item i ON i.transcript_id = a.item_id
                    WHERE i.project_id = p.id)""",
            "projects whose items_complete is not their full items": """
                SELECT count(*) FROM annotate_project p WHERE p.id = %(p)s
                AND p.items_complete <> (SELECT count(*) FROM annotate_item i
                    WHERE i.project_id = p.id AND i.annotations_count >= p.overlap)""",
            "claims marked submitted without their label, or labels without theirs": """
                SELECT count(*) FROM annotate_assignment s WHERE s.project_id = %(p)s
                AND (s.status = 'submitted') <> EXISTS (SELECT 1 FROM annotate_annotation a
                    WHERE a.item_id = s.item_id AND a.annotator_id = s.annotator_id)""",
        }
        for what, sql in queries.items():
            (n,) = conn.execute(sql, {"p": project_id}).fetchone() or (0,)
            if n:
                problems.append(f"{n} {what}")
    return problems


def report(title: str, lines: list[str], problems: list[str]) -> int:
    """Print what the drill found; the exit status: 1 on any problem."""
    print(f"\n{title}")
    for line in lines:
        print(f"  {line}")
    if problems:
        print("PROBLEMS:")
        for problem in problems[:50]:
            print(f"  - {problem}")
        return 1
    print("OK: nothing lost, nothing counted twice.")
    return 0
