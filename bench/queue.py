"""The claim queue under load: server-side latency of next item and of submit.

For each queue size N (10k, 100k, 1M items, overlap 3) and each number C of
concurrent annotators (1, 8, 32), C client threads, each its own annotator
with an API token and its own HTTP connection, loop claim -> submit against
gunicorn on loopback, for `--loops` loops in all or `--seconds`, whichever
comes first. The latency is the server's own, from the `Server-Timing:
app;dur=` header every response carries (no client or network noise); the
client's round trip is reported next to it, because it also holds the time a
request waited for a free worker, which the server-side figure cannot see.
Goal (issue 3): p99 next item <= 50 ms at 1M items and 32 annotators,
p50 <= 10 ms, and 1M within 1.5x of 10k.

Data: one project per N ("bench-queue-<N>") in the PostgreSQL bench database,
made with INSERT ... SELECT generate_series (1M rows in well under a minute
rather than an import's several) and kept for the next run. Before every
(N, C) cell the queue is reset to fresh (the cell's claims, labels and
counters are removed), vacuumed and checkpointed, so cells do not pay for
each other's writes and reruns measure the same thing. A fresh queue is the
claim query's best case: its cost grows with the items an annotator has
labelled that are still open at the head of the queue (`--explain` prints
the plan after the last cell).

The machine is shared: before each cell the bench waits (`--quiet`) for the
other tenants' CPU load to drop, and the table shows their share during the
cell next to this bench's own CPU time per loop, so a noisy cell shows.

Server: gunicorn `--workers 2 --threads 1` (sync workers), CONN_MAX_AGE=600
so each worker keeps its database connection (a new one costs ~13 ms of CPU
here, MACHINE.md). Why: a claim or a submit is CPU-bound here (the table's
CPU ms/loop is about its wall time), so one process per core is all the 2
cores can run. Measured at 10k items and 32 annotators (one run each): 2 x 1
53 loops/s, claim p50 16 ms; 3 x 1 37 loops/s, 34 ms; 2 x 4 (gthread) 32
loops/s, 87 ms: extra processes only take turns on the cores with
PostgreSQL, and threads in one process share its GIL, so their Server-Timing
counts the wait for the GIL and the other threads' work.
With sync workers a request waiting for a free worker waits in the listen
queue, outside Server-Timing, which is why the client's round trip is shown
too. (Sync workers close the connection after each response; the client
reconnects, which costs little next to a request. `--workers/--threads` to
compare.)

Client: stdlib http.client on threads: no dependency, and it costs little CPU
next to the server's (the client shares the 2 cores with gunicorn and
PostgreSQL).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/queue.py`, this file's directory is sys.path[0], and
# this module would shadow the standard library's `queue` (which logging,
# concurrent.futures and Django import): drop the directory before any import.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse  # noqa: E402
import http.client  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

from bench.common import (  # noqa: E402
    checkpoint,
    database_url,
    ensure_database,
    figure,
    machine,
    table,
)
from bench.stack import (  # noqa: E402
    bench_pids,
    celery_worker,
    gunicorn,
    server_env,
    ticks_of,
    total_ticks,
    wait_quiet,
)

ANNOTATORS = 32
OVERLAP = 3
VALUES = {
    "request_harm": "benign",
    "refusal_type": "none",
    "appropriateness": "appropriate_compliance",
}


# Data: projects, items, annotators (in this process, through the ORM).


def django_setup(url: str) -> None:
    os.environ.update(server_env(url))
    import django

    django.setup()


def project_ensure(size: int) -> int:
    """The id of the project of `size` items, loading it if missing or partial."""
    from django.db import connection, transaction
    from django.utils import timezone

    from annotate.models import Item, Project, Transcript
    from annotate.services.projects import (
        label_set_version_get,
        project_create,
    )

    name = f"bench-queue-{size}"
    project = Project.objects.filter(name=name).first()
    if project is not None and project.items_total == size:
        return project.pk
    started = time.perf_counter()
    with transaction.atomic():
        if project is None:
            project = project_create(
                now=timezone.now(),
                name=name,
                label_set_version=label_set_version_get(name="refusal-v1"),
                overlap=OVERLAP,
            )
        else:  # left partial by hand: start over
            Item.objects.filter(project=project).delete()
            Transcript.objects.filter(project=project).delete()
        with connection.cursor() as cursor:
            # A short two-turn conversation: the claim reads and returns it,
            # so it has the shape of a real one; content_hash only has to be
            # unique within the project.
            cursor.execute(
                "INSERT INTO annotate_transcript (project_id, messages_json, "
                "source_model, dataset, external_id, prompt_group, metadata, "
                "content_hash, created_at) "
                'SELECT %s, \'[{"role":"user","content":"Question \' || g || '
                '\'?"},{"role":"assistant","content":"I cannot help with that."}]\', '
                "'', '', '', '', '{}', lpad(to_hex(g), 64, '0'), now() "
                "FROM generate_series(1, %s) AS g",
                [project.pk, size],
            )
            # Random priorities: claims then walk the queue index in an order
            # unrelated to the heap's, as an active-learning queue does.
            cursor.execute(
                "INSERT INTO annotate_item (project_id, transcript_id, priority, "
                "slots_left, annotations_count, skips_count) "
                "SELECT project_id, id, random(), %s, 0, 0 FROM annotate_transcript "
                "WHERE project_id = %s",
                [OVERLAP, project.pk],
            )
        Project.objects.filter(pk=project.pk).update(
            items_total=size, items_complete=0, annotations_total=0
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE annotate_transcript")
        cursor.execute("VACUUM ANALYZE annotate_item")
    print(
        f"  loaded {name}: {size:,} items in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return project.pk


def annotators_ensure(
    project_ids: list[int], count: int = ANNOTATORS, password: str | None = None
) -> list[str]:
    """`count` annotators, members of every bench project; their API tokens.

    With `password`, every one of them logs in with it (the load test logs in
    through the login page).
    """
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.utils import timezone

    from annotate.models import Project, Role
    from annotate.services.members import membership_ensure
    from annotate.services.tokens import api_token_create, api_tokens_revoke

    tokens = []
    for i in range(count):
        # Created here with no usable password: membership_ensure would hash a
        # random one, ~0.3 s each.
        user, created = User.objects.get_or_create(username=f"bench-queue-{i:02d}")
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        for project in Project.objects.filter(pk__in=project_ids):
            membership_ensure(
                actor=None,
                now=timezone.now(),
                project=project,
                username=user.username,
                role=Role.ANNOTATOR,
            )
        # Only a key's hash is kept: each run revokes the last run's token
        # and makes a new one.
        now = timezone.now()
        api_tokens_revoke(user=user, by=user, now=now)
        tokens.append(api_token_create(user=user, name="bench", now=now)[1])
    if password is not None:
        # One hash for all (settings.PASSWORD_HASHERS' first); the
        # server still checks each login at full cost.
        User.objects.filter(
            username__in=[f"bench-queue-{i:02d}" for i in range(count)]
        ).update(password=make_password(password))
    return tokens


def queue_reset(project_id: int) -> None:
    """Back to a fresh queue: no claims, no labels, counters at zero.

    Only the items the last cell touched are rewritten. Vacuumed so the next
    cell does not walk the dead index entries the last one left, and
    checkpointed so it does not pay for flushing its pages.
    """
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE annotate_item SET slots_left = %s, annotations_count = 0, "
            "skips_count = 0 WHERE transcript_id IN "
            "(SELECT item_id FROM annotate_assignment WHERE project_id = %s)",
            [OVERLAP, project_id],
        )
        # The gold the rescoring task kept for them too: left, it would pile up
        # dead rows run after run, and later runs would pay for them.
        for table in ("annotate_annotation", "annotate_gold"):
            cursor.execute(
                f"DELETE FROM {table} WHERE item_id IN "  # noqa: S608 - fixed table names
                "(SELECT item_id FROM annotate_assignment WHERE project_id = %s)",
                [project_id],
            )
        cursor.execute(
            "DELETE FROM annotate_assignment WHERE project_id = %s", [project_id]
        )
        cursor.execute(
            "UPDATE annotate_project SET items_complete = 0, annotations_total = 0 "
            "WHERE id = %s",
            [project_id],
        )
        cursor.execute(
            "UPDATE annotate_membership SET annotations_count = 0, skips_count = 0, "
            "today = NULL, today_count = 0 WHERE project_id = %s",
            [project_id],
        )
    with connection.cursor() as cursor:
        for name in (
            "annotate_item",
            "annotate_assignment",
            "annotate_annotation",
            "annotate_gold",
            # One row each, rewritten at every submit: a run leaves thousands
            # of dead versions that the next would walk (autovacuum is off).
            "annotate_project",
            "annotate_membership",
            "annotate_apitoken",
        ):
            cursor.execute(f"VACUUM ANALYZE {name}")


def explain_claim(project_id: int, username: str) -> str:
    """EXPLAIN ANALYZE of the claim's item query, as the service sends it."""
    from django.contrib.auth.models import User
    from django.db import transaction

    from annotate.rawsql import (
        NEXT_ITEM_LOCK,
        NEXT_ITEM_SQL,
        execute_pinned,
        for_update,
        prepared_cursor,
    )

    user = User.objects.get(username=username)
    sql = for_update(NEXT_ITEM_SQL, NEXT_ITEM_LOCK)
    # In a transaction rolled back: FOR UPDATE takes its lock for real. The
    # strategy's stream (audit false), pinned as the service pins it.
    with transaction.atomic(), prepared_cursor() as cursor:
        execute_pinned(
            cursor, f"EXPLAIN (ANALYZE, BUFFERS) {sql}", [project_id, user.pk, False]
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return plan


# Server.


# Load.


@dataclass
class Samples:
    claim: list[float] = field(default_factory=list)  # Server-Timing, ms
    submit: list[float] = field(default_factory=list)
    claim_rtt: list[float] = field(default_factory=list)  # client round trip, ms
    submit_rtt: list[float] = field(default_factory=list)
    loops: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def extend(self, other: Samples) -> None:
        self.claim += other.claim
        self.submit += other.submit
        self.claim_rtt += other.claim_rtt
        self.submit_rtt += other.submit_rtt
        self.loops += other.loops
        self.errors += other.errors


class Client:
    """One annotator on one keep-alive connection."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
        }

    def post(self, path: str, body: bytes) -> tuple[int, bytes, float, float]:
        """(status, body, server ms, round-trip ms)."""
        start = time.perf_counter()
        try:
            self.conn.request("POST", path, body=body, headers=self.headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            # The server dropped an idle connection: both calls are safe to
            # repeat (a live claim comes back; the same client_uuid is one label).
            self.conn.close()
            start = time.perf_counter()
            self.conn.request("POST", path, body=body, headers=self.headers)
            response = self.conn.getresponse()
        data = response.read()
        rtt = (time.perf_counter() - start) * 1000
        timing = response.getheader("Server-Timing", "")
        server = float(timing.rpartition("dur=")[2] or "nan")
        return response.status, data, server, rtt


def run_cell(
    port: int, project_id: int, tokens: list[str], loops: int, seconds: float
) -> Samples:
    """`len(tokens)` annotators loop claim -> submit until `loops` in all or `seconds`."""
    tickets = itertools.count()  # next() on it is atomic under the GIL
    start = threading.Barrier(len(tokens) + 1)
    results = [Samples() for _ in tokens]
    deadline = [0.0]

    def work(token: str, out: Samples) -> None:
        client = Client(port, token)
        start.wait()
        try:
            while next(tickets) < loops and time.perf_counter() < deadline[0]:
                status, body, server, rtt = client.post(
                    f"/api/projects/{project_id}/claim/", b""
                )
                if status == 204:  # queue empty for this annotator
                    return
                if status != 200:
                    out.errors.append(f"claim {status}: {body[:200]!r}")
                    return
                out.claim.append(server)
                out.claim_rtt.append(rtt)
                payload = json.dumps(
                    {"values": VALUES, "client_uuid": str(uuid.uuid4()), "seconds": 1}
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
        except Exception as e:  # noqa: BLE001 - reported with the cell's results
            out.errors.append(repr(e))
        finally:
            client.conn.close()

    threads = [
        threading.Thread(target=work, args=(t, r), daemon=True)
        for t, r in zip(tokens, results, strict=True)
    ]
    for t in threads:
        t.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for t in threads:
        t.join()
    total = Samples(seconds=time.perf_counter() - began)
    for r in results:
        total.extend(r)
    return total


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile: p99 of 1000 samples is the 10th worst."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# Report.


def fmt(ms: float) -> str:
    return f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="items per project"
    )
    parser.add_argument("--concurrency", default="1,8,32", help="concurrent annotators")
    parser.add_argument(
        "--loops", type=int, default=1000, help="claim+submit loops per cell, in all"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="time cap per cell")
    parser.add_argument(
        "--quiet",
        type=float,
        default=60.0,
        help="seconds to wait before each cell for other load to fall below 15%%",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print EXPLAIN ANALYZE of the claim query at the largest size",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="10,000 and 100,000 items, 32 annotators, 300 loops a cell",
    )
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.concurrency, args.loops = "10000,100000", "32", 300
        args.seconds, args.quiet = 10.0, 5.0
    sizes = [int(s) for s in args.sizes.split(",")]
    levels = [int(c) for c in args.concurrency.split(",")]
    if max(levels) > ANNOTATORS:
        sys.exit(f"--concurrency is at most {ANNOTATORS} (one annotator per client)")

    began = time.perf_counter()
    url = database_url()
    ensure_database(url)
    django_setup(url)
    projects = {n: project_ensure(n) for n in sizes}
    tokens = annotators_ensure(list(projects.values()))

    from django.db import connection

    rows: list[list[str]] = []
    cells: dict[tuple[int, int], Samples] = {}
    failures: list[str] = []
    with (
        celery_worker(url) as worker,
        gunicorn(url, args.workers, args.threads) as (port, server),
    ):
        for n in sizes:
            # Unmeasured warm-up: every worker opens its database connection,
            # runs its code paths once, and the project's queue head, catalog
            # entries and plans are cached before its first cell.
            queue_reset(projects[n])
            run_cell(port, projects[n], tokens[:8], 100, 10)
            for c in levels:
                queue_reset(projects[n])
                connection.close()  # no idle bench connection holding a snapshot
                checkpoint(url)
                wait_quiet(15.0, args.quiet)
                pids = bench_pids(server, url) | {worker}
                ours_before = ticks_of(pids)
                busy_before, total_before = total_ticks()
                s = run_cell(port, projects[n], tokens[:c], args.loops, args.seconds)
                busy_after, total_after = total_ticks()
                ours_after = ticks_of(pids | bench_pids(server, url))
                ours = sum(t - ours_before.get(p, 0) for p, t in ours_after.items())
                # Other tenants' share of the cores during the cell.
                other = (
                    100
                    * max(0, busy_after - busy_before - ours)
                    / max(1, total_after - total_before)
                )
                tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
                cells[n, c] = s
                failures += [f"N={n} C={c}: {e}" for e in s.errors[:3]]
                rows.append(
                    [
                        f"{n:,}",
                        str(c),
                        str(s.loops),
                        f"{s.loops / s.seconds:.0f}",
                        fmt(pct(s.claim, 0.5)),
                        fmt(pct(s.claim, 0.99)),
                        fmt(pct(s.submit, 0.5)),
                        fmt(pct(s.submit, 0.99)),
                        f"{fmt(pct(s.claim_rtt, 0.5))} / {fmt(pct(s.claim_rtt, 0.99))}",
                        f"{ours * tick_ms / s.loops:.1f}",
                        f"{other:.0f}%",
                    ]
                    if s.loops
                    else [f"{n:,}", str(c), "0", *["-"] * 6, f"{other:.0f}%"]
                )
                print(f"  N={n:,} C={c}: {s.loops} loops", flush=True)
        plan = (
            explain_claim(projects[sizes[-1]], "bench-queue-00") if args.explain else ""
        )

    print(
        f"queue: claim + submit over HTTP (gunicorn {args.workers} workers x "
        f"{args.threads} threads, CONN_MAX_AGE=600), overlap {OVERLAP}, "
        f"1 run per cell of up to {args.loops} loops or {args.seconds:.0f} s; "
        f"{machine()}"
    )
    print(
        "Server-Timing ms (the goal's measure); client round trip adds waiting "
        "for a free worker. CPU ms/loop: gunicorn, its PostgreSQL backends and the "
        "client, per claim+submit. Other load: other tenants' share of the 2 cores "
        "during the cell (this machine is shared)."
    )
    print(
        table(
            [
                "items",
                "annotators",
                "loops",
                "loops/s",
                "claim p50 ms",
                "claim p99 ms",
                "submit p50 ms",
                "submit p99 ms",
                "client claim p50 / p99 ms",
                "CPU ms/loop",
                "other load",
            ],
            rows,
        )
    )
    ratios: list[list[str]] = []
    small, large = sizes[0], sizes[-1]
    if large != small:
        for c in levels:
            a, b = cells[small, c], cells[large, c]
            if a.loops and b.loops:
                ratios.append(
                    [
                        str(c),
                        *(
                            f"{pct(getattr(b, kind), q) / pct(getattr(a, kind), q):.2f}x"
                            for kind in ("claim", "submit")
                            for q in (0.5, 0.99)
                        ),
                    ]
                )
        print(f"{large:,} items against {small:,} (goal <= 1.5x):")
        if (small, ANNOTATORS) in cells and (large, ANNOTATORS) in cells:
            a, b = cells[small, ANNOTATORS], cells[large, ANNOTATORS]
            if a.loops and b.loops:
                worst = max(pct(b.claim, q) / pct(a.claim, q) for q in (0.5, 0.99))
                figure(
                    f"claim at {large:,} against {small:,} items, {ANNOTATORS} "
                    "annotators (p50, p99: the higher ratio)",
                    f"{worst:.2f}x",
                    "<= 1.5x",
                    worst <= 1.5,
                    runs=1,
                )
        print(
            table(
                [
                    "annotators",
                    "claim p50",
                    "claim p99",
                    "submit p50",
                    "submit p99",
                ],
                ratios,
            )
        )
    if (large, ANNOTATORS) in cells and cells[large, ANNOTATORS].loops:
        s = cells[large, ANNOTATORS]
        p50, p99 = pct(s.claim, 0.5), pct(s.claim, 0.99)
        verdict = "met" if p50 <= 10 and p99 <= 50 else "NOT met"
        print(
            f"Goal at {large:,} items, {ANNOTATORS} annotators: claim p50 "
            f"{fmt(p50)} ms (<= 10), p99 {fmt(p99)} ms (<= 50): {verdict}."
        )
        where = f"at {large:,} items, {ANNOTATORS} annotators (Server-Timing)"
        figure(f"claim p50 ms {where}", fmt(p50), "<= 10", p50 <= 10, runs=1)
        figure(f"claim p99 ms {where}", fmt(p99), "<= 50", p99 <= 50, runs=1)
    if plan:
        print(f"Claim query at {large:,} items, after the last cell:\n{plan}")
    print(f"Run time {time.perf_counter() - began:.0f} s.")
    if failures:
        print("Errors:\n" + "\n".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
