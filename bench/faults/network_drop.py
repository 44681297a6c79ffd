"""Drill: the network drops between a submit and its response, and the client
retries (issue 14).

Sets up a private PostgreSQL cluster (port 5448), a project and gunicorn on
it (bench.stack), and a TCP proxy in this script between the clients and
gunicorn. The proxy forwards every request, but the first time it sees a
submit (an API `/annotation/` or an HTML `/submit/` body it has not seen) it
forwards it and then closes the connection without the response: half the
time after gunicorn has answered (the label is stored, the client cannot
know), half the time at once (the retry races the first request on the
server). The clients then do what a browser's retry does: reconnect and
send the same body, the same client_uuid.

Two kinds of client: `--api` annotators through the API (claim -> submit),
and `--html` annotators that log in through the page and submit the
labelling form with htmx headers, as label.js sends it on Enter (the form
keeps its client_uuid until a new item is swapped in). Each makes
`--submits` submits.

Then it checks: every submit acknowledged; one label per client_uuid, the
one the API answered with; the retry answered with the stored label (API:
200 and the first request's id, unless the first never reached the
database); and the counters equal the rows they count. Prints what it
found; exits 1 on any problem.

    python bench/faults/network_drop.py [--quick]

`--quick` (~1 min, for CI: tests/test_fault_drills.py): 3 + 3 annotators,
15 submits each. Needs root (pg_createcluster) and Redis (db 6).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import argparse  # noqa: E402
import http.client  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from http.cookies import SimpleCookie  # noqa: E402
from urllib.parse import urlencode  # noqa: E402

from bench.faults.submits import (  # noqa: E402
    VALUES,
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

CLUSTER = "reqfaults_drop"
PORT = 5448
PASSWORD = "drill-password-not-secret"  # noqa: S105 - a throwaway cluster's users


def read_message(sock: socket.socket, buffer: bytearray) -> bytes | None:
    """One HTTP/1.1 message (headers, then a Content-Length body) from
    `sock`; None when the peer closed first. Both sides here send
    Content-Length: http.client for its bodies, Django for its responses."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    head, _, _ = bytes(buffer).partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    size = len(head) + 4 + (int(match.group(1)) if match else 0)
    while len(buffer) < size:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    message = bytes(buffer[:size])
    del buffer[:size]
    return message


class DroppingProxy:
    """Loopback TCP to gunicorn, one request at a time per connection; the
    first time a submit's body goes through, its response is dropped."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.seen: set[bytes] = set()
        self.lock = threading.Lock()
        self.dropped_after = 0  # after gunicorn answered
        self.dropped_before = 0  # at once, the request still in gunicorn
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self.relay, args=(client,), daemon=True).start()

    def drop_now(self, request: bytes) -> str | None:
        """'after' or 'before' for a submit not seen before, else None."""
        line = request.split(b"\r\n", 1)[0]
        if not re.match(rb"POST \S*/(annotation|submit)/ ", line):
            return None
        body = request.partition(b"\r\n\r\n")[2]
        with self.lock:
            if body in self.seen:
                return None
            self.seen.add(body)
            if (self.dropped_after + self.dropped_before) % 2 == 0:
                self.dropped_after += 1
                return "after"
            self.dropped_before += 1
            return "before"

    def relay(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream))
        from_client, from_server = bytearray(), bytearray()
        try:
            while (request := read_message(client, from_client)) is not None:
                upstream.sendall(request)
                drop = self.drop_now(request)
                if drop == "before":
                    return
                response = read_message(upstream, from_server)
                if response is None or drop == "after":
                    return
                client.sendall(response)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self.listener.close()


class PageAnnotator:
    """An annotator in a browser: logs in through the page, then submits the
    labelling form with htmx's headers; on a lost connection it sends the
    same form again (same client_uuid), as Enter after label.js's message
    does."""

    def __init__(self, port: int, username: str, log: Log) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}
        self.log = log
        self.username = username

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None, **headers: str
    ) -> tuple[int, str]:
        headers = {
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            **headers,
        }
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body, headers)
            response = self.conn.getresponse()
            text = response.read().decode()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.log.dropped += 1
            return 0, ""
        for value in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(value).items():
                self.cookies[name] = morsel.value
        key = f"page {'submit' if path.endswith('/submit/') else method} {response.status}"
        self.log.statuses[key] = self.log.statuses.get(key, 0) + 1
        if response.status >= 500 or "Traceback" in text:
            self.log.problems.append(f"{path}: {response.status} {text[:120]!r}")
        return response.status, text

    def log_in(self) -> None:
        _, page = self.request("GET", "/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        form = {
            "username": self.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": token.group(1) if token else "",
        }
        status, _ = self.request("POST", "/login/", form)
        if status != 302:
            raise RuntimeError(f"{self.username} could not log in: {status}")

    def loop(self, project_id: int, submits: int) -> None:
        self.log_in()
        _, panel = self.request("GET", f"/projects/{project_id}/label/")
        for _ in range(submits):
            assignment = re.search(r'data-assignment="(\d+)"', panel)
            client_uuid = re.search(r'name="client_uuid" value="([0-9a-f-]+)"', panel)
            if assignment is None or client_uuid is None:
                return  # the queue is empty
            form = {**VALUES, "client_uuid": client_uuid.group(1), "seconds": "1.000"}
            htmx = {"HX-Request": "true", "X-CSRFToken": self.cookies["csrftoken"]}
            path = f"/assignments/{assignment.group(1)}/submit/"
            for _ in range(10):
                status, panel = self.request("POST", path, form, **htmx)
                if status != 0:
                    break
                time.sleep(0.2)
            if status != 200 or 'id="error-summary"' in panel:
                self.log.problems.append(f"{path} answered {status}: {panel[:200]!r}")
                self.log.unacknowledged.add(form["client_uuid"])
                return
            self.log.acknowledged[form["client_uuid"]] = None  # the page shows no id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--api", type=int, default=8)
    parser.add_argument("--html", type=int, default=8)
    parser.add_argument("--submits", type=int, default=50)
    args = parser.parse_args()
    if args.quick:
        args.api, args.html, args.submits = 3, 3, 15

    drill_env()
    from bench.stack import gunicorn

    log_path = Path(tempfile.mkdtemp()) / "gunicorn.log"
    with private_cluster(CLUSTER, PORT) as url:
        project_id, tokens = project_with_annotators(url, 2_000, args.api + args.html)
        from django.contrib.auth.models import User

        names = [f"bench-queue-{i:02d}" for i in range(args.api, args.api + args.html)]
        for user in User.objects.filter(username__in=names):
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
        broker_flush()
        with gunicorn(url, workers=2, threads=4, log=log_path) as (port, _):
            proxy = DroppingProxy(port)
            logs = [Log() for _ in range(args.api + args.html)]
            threads = [
                threading.Thread(
                    target=Annotator(proxy.port, token, logs[i]).loop,
                    args=(project_id, Run(), args.submits),
                )
                for i, token in enumerate(tokens[: args.api])
            ] + [
                threading.Thread(
                    target=PageAnnotator(proxy.port, name, logs[args.api + i]).loop,
                    args=(project_id, args.submits),
                )
                for i, name in enumerate(names)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            proxy.close()
        log = Log()
        for one in logs:
            log.extend(one)
        problems = log.problems + check_database(url, project_id, log)
        expected = (args.api + args.html) * args.submits
        if len(log.acknowledged) != expected:
            problems.append(
                f"{len(log.acknowledged)} submits acknowledged of {expected}"
            )
        if "Traceback" in log_path.read_text():
            problems.append(f"a traceback in the server's log ({log_path})")
        broker_flush()
    statuses = ", ".join(f"{k}: {n}" for k, n in sorted(log.statuses.items()))
    return report(
        "Network drop drill",
        [
            f"{args.api} API and {args.html} page annotators, {args.submits} submits each",
            f"responses dropped: {proxy.dropped_after} after the server answered, "
            f"{proxy.dropped_before} while it worked; "
            f"connections the clients saw lost: {log.dropped}",
            f"answers: {statuses}",
            f"submits acknowledged: {len(log.acknowledged)}",
        ],
        problems,
    )


if __name__ == "__main__":
    sys.exit(main())
