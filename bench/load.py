"""The load test: many annotators through the labelling screen at once,
against the production stack, and afterwards the database's account of it.

Each simulated annotator logs in through the login page (GET the form, its
CSRF token, POST the credentials: django-axes checks each one), opens the
labelling screen, then loops until `--seconds` are up:

  claim   GET /projects/<id>/label/ as htmx (HX-Request: true), the item
          panel the screen's Continue link fetches: the annotator's claim;
  think   `--think` s;
  submit  POST /assignments/<id>/submit/ as htmx, with the CSRF token from
          the page's hx-headers and the form's client_uuid and labels.

A submit's response already carries the next item, claimed by the server;
the claim that follows gets that live claim back, as a reloaded tab does. So
each loop makes one claim and two claim requests: more work than a browser's
loop, none less.

The stack is production's: gunicorn with annotate/gunicorn_conf.py's workers
and threads (bench/stack.py), persistent database connections, a Celery
worker taking the rescoring each submit queues and the retrain every
retrain_every labels, and Celery beat on settings' schedule. TLS ends at a
proxy in production, so the server trusts X-Forwarded-Proto
(BEHIND_TLS_PROXY) and each client sends it as the proxy would, with the
Origin and Referer a browser sends (Django checks them on HTTPS).

Data: bench/queue.py's project of `--items` items (overlap 3) and its
annotators, given a password, in a database of its own (OWN_URL) unless
BENCH_DATABASE_URL names one; the queue is reset before each run.

Then it checks, from the database: no item has more labels than overlap plus
the extra labels its project may grant (extra_labels_max); no annotator
labelled an item twice; every submit answered 2xx with the next item (the
client keeps its client_uuid) is stored exactly once; and the retrain ran,
none failing. It exits non-zero if one fails, or on any 5xx or failed request.

Client: stdlib http.client on threads, one connection per annotator, as
bench/queue.py: no dependency (locust would bring gevent and its own web
stack), and next to the server its CPU is small. The threads are spread
over `--clients` (4) processes: in one process, 64 threads queued for its
GIL, which added to the latencies they measured what no annotator's own
browser adds (client-seen p99 less the server's own was 10-13 ms there,
about 5 ms on four). It shares the 2 cores with the stack, and the table
shows the box's load during the run, the clients' CPU counted as ours.

`--runs` (3) runs, each on a fresh queue with the stack started afresh; the
figures bench/run.py gets are their medians (the label checks must hold in
every run). `--quick`: 1 run, 16 annotators, 20 s, think 0.2 s, 10k items
(the test suite's form, tests/test_bench_load.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/load.py`, this file's directory is sys.path[0], where
# bench/queue.py would shadow the standard library's `queue`.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse  # noqa: E402
import http.client  # noqa: E402
import itertools  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from http.cookies import SimpleCookie  # noqa: E402
from urllib.parse import urlencode  # noqa: E402

from bench.common import (  # noqa: E402
    DEFAULT_URL,
    checkpoint,
    database_url,
    ensure_database,
    figure,
    machine,
    table,
)
from bench.queue import (  # noqa: E402
    VALUES,
    annotators_ensure,
    django_setup,
    fmt,
    pct,
    project_ensure,
    queue_reset,
)
from bench.stack import (  # noqa: E402
    bench_pids,
    celery_beat,
    celery_worker,
    gunicorn,
    ticks_of,
    total_ticks,
    wait_quiet,
)

PASSWORD = "bench-load-password"  # noqa: S105 - bench users on a loopback server
# A database of its own unless BENCH_DATABASE_URL says otherwise: in the one
# the other benches share, beat's retrain sweep (queue_retrain_due) retrained
# their model-ranked projects too, a million items among them, on the run's
# one worker (seen in make bench: the cores 79% busy, p99s of 130-380 ms).
OWN_URL = f"{DEFAULT_URL}_load"
GOAL_P99_MS = 50.0
ENDPOINTS = ("login", "page", "claim", "submit")

CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
CSRF_HEADER = re.compile(rb'"X-CSRFToken": "([^"]+)"')
ASSIGNMENT = re.compile(rb'data-assignment="(\d+)"')
CLIENT_UUID = re.compile(rb'name="client_uuid" value="([0-9a-f-]+)"')


@dataclass
class Sample:
    began: float  # perf_counter at the request's start
    ms: float  # client-seen round trip
    server_ms: float  # the server's own (Server-Timing), nan if absent
    status: int


@dataclass
class Log:
    """One annotator's record, merged after the run."""

    samples: dict[str, list[Sample]] = field(
        default_factory=lambda: {e: [] for e in ENDPOINTS}
    )
    acknowledged: list[str] = field(default_factory=list)  # client_uuids
    rejected: int = 0  # a 200 submit that re-rendered the form with errors
    logged_in_at: float = 0.0
    errors: list[str] = field(default_factory=list)


class Browser:
    """One annotator's browser: a keep-alive connection and a cookie jar."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.origin = f"https://127.0.0.1:{port}"
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, Sample]:
        body = urlencode(form).encode() if form is not None else None
        sent = {
            "X-Forwarded-Proto": "https",  # what the TLS proxy adds
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            **(headers or {}),
        }
        if body is not None:
            sent |= {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": self.origin,
            }
        start = time.perf_counter()
        try:
            try:
                self.conn.request(method, path, body=body, headers=sent)
                response = self.conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionError):
                # The server closed the idle connection first: every request
                # here is safe to repeat (a submit by its client_uuid).
                self.conn.close()
                start = time.perf_counter()
                self.conn.request(method, path, body=body, headers=sent)
                response = self.conn.getresponse()
            data = response.read()
        except TimeoutError:
            # No answer in time: status 0, counted at the time waited, and a
            # new connection for the next request (this one may still answer).
            self.conn.close()
            ms = (time.perf_counter() - start) * 1000
            return 0, b"", Sample(start, ms, float("nan"), 0)
        ms = (time.perf_counter() - start) * 1000
        for header in response.msg.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        timing = response.getheader("Server-Timing", "")
        server = float(timing.rpartition("dur=")[2] or "nan")
        return response.status, data, Sample(start, ms, server, response.status)


def annotate(
    port: int,
    project_id: int,
    username: str,
    *,
    delay: float,
    deadline: float,
    think: float,
    tickets: itertools.count[int],
    loops: int,
    out: Log,
) -> None:
    """One annotator's session: log in, open the screen, claim/think/submit."""
    time.sleep(delay)
    browser = Browser(port)
    screen = f"/projects/{project_id}/label/"
    try:
        status, body, form_sample = browser.request("GET", f"/login/?next={screen}")
        token = CSRF_INPUT.search(body)
        if status != 200 or token is None:
            out.errors.append(f"login form {status}")
            return
        status, body, post = browser.request(
            "POST",
            "/login/",
            form={
                "csrfmiddlewaretoken": token.group(1).decode(),
                "username": username,
                "password": PASSWORD,
                "next": screen,
            },
            headers={"Referer": f"{browser.origin}/login/"},
        )
        # The whole login as the annotator waits for it: the form and the POST.
        post.ms += form_sample.ms
        post.began = form_sample.began
        out.samples["login"].append(post)
        if status != 302 or "sessionid" not in browser.cookies:
            out.errors.append(f"login {status}: {body[:200]!r}")
            return
        status, body, sample = browser.request("GET", screen)
        out.samples["page"].append(sample)
        header = CSRF_HEADER.search(body)
        if status != 200 or header is None:
            out.errors.append(f"labelling page {status}")
            return
        out.logged_in_at = time.perf_counter()
        htmx = {
            "HX-Request": "true",
            "HX-Current-URL": f"{browser.origin}{screen}",
            "HX-Target": "item-panel",
            "X-CSRFToken": header.group(1).decode(),
        }
        while time.perf_counter() < deadline and next(tickets) < loops:
            status, body, sample = browser.request("GET", screen, headers=htmx)
            out.samples["claim"].append(sample)
            if status != 200:
                out.errors.append(f"claim {status}: {body[:200]!r}")
                time.sleep(think)  # as a person would wait before trying again
                continue
            assignment, client_uuid = ASSIGNMENT.search(body), CLIENT_UUID.search(body)
            if assignment is None or client_uuid is None:
                out.errors.append(f"claim served no item: {body[:200]!r}")
                return
            time.sleep(think)
            sent_uuid = client_uuid.group(1).decode()
            status, body, sample = browser.request(
                "POST",
                f"/assignments/{assignment.group(1).decode()}/submit/",
                form={
                    **VALUES,
                    "client_uuid": sent_uuid,
                    "seconds": f"{think:.1f}",
                },
                headers={**htmx, "Referer": f"{browser.origin}{screen}"},
            )
            out.samples["submit"].append(sample)
            if status != 200:
                out.errors.append(f"submit {status}: {body[:200]!r}")
            elif b'id="error-summary"' in body:
                out.rejected += 1  # not stored: the form came back with errors
            else:
                out.acknowledged.append(sent_uuid)
    except (OSError, http.client.HTTPException) as e:
        out.errors.append(f"{username}: {e!r}")
    finally:
        browser.conn.close()


def run(
    port: int,
    project_id: int,
    usernames: list[str],
    *,
    seconds: float,
    think: float,
    ramp: float,
    loops: int,
    clients: int,
) -> tuple[list[Log], float, float]:
    """All annotators at once, logging in spread over `ramp` s, on `clients`
    processes; their logs, the run's wall time and the clients' CPU seconds."""
    began = time.perf_counter()
    deadline = began + seconds
    # Interleaved, so that each process's logins spread over the whole ramp.
    delays = {name: ramp * i / len(usernames) for i, name in enumerate(usernames)}
    groups = [usernames[i::clients] for i in range(clients)]
    # Forked: the children run only this module's client, no Django.
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        results = pool.starmap(
            annotators,
            [
                (port, project_id, [(n, delays[n]) for n in group], deadline, think)
                + (-(-loops // clients),)
                for group in groups
                if group
            ],
        )
    logs = [log for group_logs, _ in results for log in group_logs]
    return logs, time.perf_counter() - began, sum(cpu for _, cpu in results)


def annotators(
    port: int,
    project_id: int,
    who: list[tuple[str, float]],
    deadline: float,
    think: float,
    loops: int,
) -> tuple[list[Log], float]:
    """One client process's annotators, a thread each; their logs and the
    process's CPU seconds."""
    tickets = itertools.count()  # next() on it is atomic under the GIL
    logs = [Log() for _ in who]
    threads = [
        threading.Thread(
            target=annotate,
            args=(port, project_id, name),
            kwargs={
                "delay": delay,
                "deadline": deadline,
                "think": think,
                "tickets": tickets,
                "loops": loops,
                "out": log,
            },
            daemon=True,
        )
        for (name, delay), log in zip(who, logs, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return logs, time.process_time()


# Afterwards: the database's account.


@dataclass
class Check:
    what: str
    met: bool
    found: str


def checks(project_id: int, acknowledged: list[str]) -> list[Check]:
    from django.db import connection

    from annotate.models import Annotation, Project

    project = Project.objects.get(pk=project_id)
    bound = project.overlap + project.extra_labels_max
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), coalesce(max(n), 0) FROM (SELECT count(*) AS n "
            "FROM annotate_annotation a JOIN annotate_item i ON i.transcript_id = a.item_id "
            "WHERE i.project_id = %s GROUP BY a.item_id HAVING count(*) > %s) AS over",
            [project_id, bound],
        )
        over, worst = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM annotate_annotation a "
            "JOIN annotate_item i ON i.transcript_id = a.item_id WHERE i.project_id = %s "
            "GROUP BY a.item_id, a.annotator_id HAVING count(*) > 1) AS twice",
            [project_id],
        )
        (twice,) = cursor.fetchone()
    stored: dict[str, int] = {}
    for value in Annotation.objects.filter(item__project_id=project_id).values_list(
        "client_uuid", flat=True
    ):
        stored[str(value)] = stored.get(str(value), 0) + 1
    acked = set(acknowledged)
    missing = sum(1 for u in acked if u not in stored)
    duplicated = sum(1 for u in acked if stored.get(u, 0) > 1)
    unacked = len(set(stored) - acked)
    return [
        Check(
            f"no item has more labels than overlap + extra ({bound})",
            over == 0,
            f"{over} over (most {worst})",
        ),
        Check(
            "no annotator labelled an item twice",
            twice == 0,
            f"{twice} (annotator, item) pairs twice",
        ),
        Check(
            "every acknowledged submit stored exactly once",
            missing == 0 and duplicated == 0 and len(acked) > 0,
            f"{len(acked)} acknowledged, {missing} missing, {duplicated} stored twice; "
            f"{unacked} stored unacknowledged",
        ),
    ]


def retrain_check(project_id: int, since: datetime, submits: int) -> Check:
    """The retrain ran on its trigger (every retrain_every labels) and none failed."""
    from annotate.models import Job, JobKind, JobStatus
    from annotate.services.learning import QueueSettings

    jobs = Job.objects.filter(
        project_id=project_id, kind=JobKind.RETRAIN, created_at__gte=since
    )
    done = jobs.filter(status=JobStatus.SUCCEEDED).count()
    failed = jobs.filter(status=JobStatus.FAILED).count()
    # Twice the trigger: the first retrain has had time to run.
    expected = submits >= 2 * QueueSettings.retrain_every
    return Check(
        "the retrain ran during the run, none failed",
        failed == 0 and (done > 0 or not expected),
        f"{done} finished, {failed} failed",
    )


def jobs_forget(project_id: int) -> None:
    """Drop the project's unfinished jobs: the worker empties the broker as
    it starts, so their messages are gone and they would never run, and a
    retrain still "queued" would be joined by every new one (none would run)."""
    from annotate.models import Job, JobStatus

    Job.objects.filter(
        project_id=project_id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).delete()


def row(label: str, samples: list[Sample]) -> list[str]:
    ms = [s.ms for s in samples]
    own = [s.server_ms for s in samples if s.server_ms == s.server_ms]  # not nan
    return [
        label,
        str(len(ms)),
        *(fmt(pct(ms, q)) if ms else "-" for q in (0.5, 0.95, 0.99)),
        fmt(pct(own, 0.99)) if own else "-",
        str(sum(1 for s in samples if s.status >= 500)),
    ]


@dataclass
class Outcome:
    """One run's figures, for the medians over runs."""

    submits_per_s: float
    p99: dict[str, float]
    five: int
    errors: list[str]
    found: list[Check]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--annotators", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=180.0, help="run time")
    parser.add_argument(
        "--think", type=float, default=2.0, help="s between claim and submit"
    )
    parser.add_argument(
        "--ramp", type=float, default=30.0, help="s over which the logins are spread"
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument(
        "--loops", type=int, default=50_000, help="claim+submit loops at most, in all"
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="runs, each on a fresh queue and stack"
    )
    parser.add_argument(
        "--clients",
        type=int,
        default=4,
        help="client processes the annotators' threads are spread over",
    )
    parser.add_argument(
        "--quiet",
        type=float,
        default=60.0,
        help="s to wait at most for other load to fall below 15%% before each run",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 run, 16 annotators, 20 s, think 0.2 s, ramp 2 s, 10k items",
    )
    args = parser.parse_args()
    if args.quick:
        args.annotators, args.seconds, args.think = 16, 20.0, 0.2
        args.ramp, args.items, args.quiet, args.runs = 2.0, 10_000, 0.0, 1

    url = database_url(OWN_URL)
    ensure_database(url)
    # Production sits behind a TLS proxy: trust its X-Forwarded-Proto (the
    # stack's processes take os.environ), rather than redirect to HTTPS.
    os.environ["BEHIND_TLS_PROXY"] = "true"
    django_setup(url)
    project_id = project_ensure(args.items)
    annotators_ensure([project_id], count=args.annotators, password=PASSWORD)
    outcomes = [
        one_run(args, url, project_id, number=n) for n in range(1, args.runs + 1)
    ]

    where = f"{args.annotators} annotators, think {args.think:g} s"
    runs = len(outcomes)
    p99 = {
        e: statistics.median(o.p99[e] for o in outcomes)
        for e in ("claim", "submit")
        if all(e in o.p99 for o in outcomes)
    }
    if runs > 1:
        print(
            f"Over the {runs} runs (medians): "
            f"{statistics.median(o.submits_per_s for o in outcomes):.1f} submits/s, "
            + ", ".join(
                f"{e} p99 {fmt(v)} ms ({' / '.join(fmt(o.p99[e]) for o in outcomes)})"
                for e, v in p99.items()
            )
            + "."
        )
    figure(
        f"load test submits/s, {where}",
        f"{statistics.median(o.submits_per_s for o in outcomes):.1f}",
        "",
        None,
        runs=runs,
    )
    for endpoint, value in p99.items():
        figure(
            f"load test client-seen {endpoint} p99 ms, {where}",
            fmt(value),
            f"<= {GOAL_P99_MS:.0f}",
            value <= GOAL_P99_MS,
            runs=runs,
        )
    five = sum(o.five for o in outcomes)
    figure(f"load test 5xx, {where}", str(five), "0", five == 0, runs=runs)
    for i, c in enumerate(outcomes[0].found):
        each = [o.found[i] for o in outcomes]
        # A run that broke it, else the last run's account.
        shown = next((c for c in each if not c.met), each[-1])
        figure(
            f"load test: {c.what}",
            shown.found,
            "holds",
            all(c.met for c in each),
            runs=runs,
        )
    failed = any(
        o.errors or o.five or not all(c.met for c in o.found) for o in outcomes
    )
    if failed:
        sys.exit(1)


def one_run(
    args: argparse.Namespace, url: str, project_id: int, *, number: int
) -> Outcome:
    """One run on a fresh queue and stack; prints its tables."""
    from django.db import connection
    from django.utils import timezone

    from annotate import gunicorn_conf

    workers = int(gunicorn_conf.workers)
    threads = int(getattr(gunicorn_conf, "threads", 1))
    usernames = [f"bench-queue-{i:02d}" for i in range(args.annotators)]
    queue_reset(project_id)
    jobs_forget(project_id)
    connection.close()  # no idle bench connection holding a snapshot
    checkpoint(url)
    since = timezone.now()
    with (
        celery_worker(url) as worker,
        celery_beat(url) as beat,
        gunicorn(url, workers, threads) as (port, server),
    ):
        wait_quiet(15.0, args.quiet)
        pids = bench_pids(server, url) | {worker, beat}
        ours0 = ticks_of(pids)
        busy0, total0 = total_ticks()
        logs, wall, client_cpu = run(
            port,
            project_id,
            usernames,
            seconds=args.seconds,
            think=args.think,
            ramp=args.ramp,
            loops=args.loops,
            clients=args.clients,
        )
        busy1, total1 = total_ticks()
        ours1 = ticks_of(pids | bench_pids(server, url))

    samples = {e: [s for log in logs for s in log.samples[e]] for e in ENDPOINTS}
    acknowledged = [u for log in logs for u in log.acknowledged]
    errors = [e for log in logs for e in log.errors]
    rejected = sum(log.rejected for log in logs)
    all_in = max((log.logged_in_at for log in logs), default=0.0)
    five = sum(1 for e in ENDPOINTS for s in samples[e] if s.status >= 500)
    unanswered = sum(1 for e in ENDPOINTS for s in samples[e] if s.status == 0)

    rows = [row(name, samples[name]) for name in ENDPOINTS]
    # Claims and submits again once every annotator is in: the logins'
    # password hashing (Argon2id, about 0.2 s of CPU each) is over.
    rows += [
        row(f"{name}, after the logins", [s for s in samples[name] if s.began > all_in])
        for name in ("claim", "submit")
    ]
    p99 = {
        e: pct([s.ms for s in samples[e]], 0.99)
        for e in ("claim", "submit")
        if samples[e]
    }
    verdict = "met" if len(p99) == 2 and max(p99.values()) <= GOAL_P99_MS else "NOT met"
    ours = sum(t - ours0.get(p, 0) for p, t in ours1.items())
    ours += round(client_cpu * os.sysconf("SC_CLK_TCK"))  # the client processes'
    box = 100 * (busy1 - busy0) / max(1, total1 - total0)
    # Other tenants' share of the cores during the run (this machine is shared).
    other = 100 * max(0, busy1 - busy0 - ours) / max(1, total1 - total0)

    print(
        f"load: {args.annotators} annotators through the labelling screen (htmx), "
        f"think {args.think:g} s, {args.seconds:.0f} s, logins over {args.ramp:g} s; "
        f"{args.items:,} items, overlap 3; gunicorn {workers} workers x {threads} "
        f"threads, Celery worker and beat; run {number} of {args.runs}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {machine()}"
    )
    print(
        f"Throughput: {len(acknowledged) / wall:.1f} submits/s ({len(acknowledged)} "
        f"acknowledged in {wall:.0f} s); the cores {box:.0f}% busy, {other:.0f}% of "
        f"them other tenants'."
    )
    print(
        "Client-seen ms (login: the form and the POST); server p99 from Server-Timing."
    )
    print(
        table(
            [
                "endpoint",
                "requests",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "server p99 ms",
                "5xx",
            ],
            rows,
        )
    )
    print(
        f"Goal claim and submit p99 <= {GOAL_P99_MS:.0f} ms: {verdict} "
        f"(claim {fmt(p99.get('claim', float('nan')))}, submit "
        f"{fmt(p99.get('submit', float('nan')))}). 5xx: {five} (goal 0): "
        f"{'met' if five == 0 else 'NOT met'}. Submits re-rendered with errors: {rejected}. "
        f"No answer within 30 s: {unanswered}."
    )
    found = [
        *checks(project_id, acknowledged),
        retrain_check(project_id, since, len(acknowledged)),
    ]
    print(
        table(
            ["check (from the database)", "result", "found"],
            [[c.what, "met" if c.met else "NOT met", c.found] for c in found],
        )
    )
    if errors:
        print(f"Failed requests ({len(errors)}), the first:\n" + "\n".join(errors[:5]))
    return Outcome(
        submits_per_s=len(acknowledged) / wall,
        p99=p99,
        five=five,
        errors=errors,
        found=found,
    )


if __name__ == "__main__":
    main()
