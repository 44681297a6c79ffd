"""Health and operations: /healthz/ and /readyz/, request ids in the logs of
requests and of the tasks they queue, task failures logged with their ids."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from annotate import tasks
from annotate.models import Job, JobKind
from annotate.observability import RequestIdFilter, log_formatter, request_id
from annotate.views.health import unapplied_migrations
from tests.conftest import REDIS_URL, _redis_answers, skip_or_fail
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

ROWS = "".join(
    json.dumps({"prompt": f"Q{i}?", "response": f"A{i}.", "model": "m"}) + "\n"
    for i in range(3)
).encode()


def closed_port() -> int:
    """A local port nothing listens on: bound by the system, then let go."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def json_log(caplog):
    """The app's JSON lines at INFO, as production writes them: read() parses them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log_formatter(log_format="json"))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    caplog.set_level(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def manager_of_a_project():
    project = ProjectFactory()
    manager = UserFactory(username="mona")
    MembershipFactory(user=manager, project=project, role="manager")
    return project, manager


# No database mark: pytest-django refuses any query, or even a connection.
def test_healthz_answers_without_the_database(client):
    r = client.get("/healthz/")

    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


@pytest.mark.django_db
def test_healthz_runs_no_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/healthz/").status_code == 200


def test_with_the_database_down_healthz_is_ok_and_readyz_names_the_database():
    """A process of its own, its DATABASE_URL on a port nothing listens on."""
    code = (
        "import django, json, time; django.setup(); "
        "from django.test import Client; c = Client(HTTP_HOST='127.0.0.1'); "
        # /healthz/ first: the first request of a process imports every view.
        "live = c.get('/healthz/'); "
        "t = time.monotonic(); ready = c.get('/readyz/'); t = time.monotonic() - t; "
        "print(json.dumps([live.status_code, ready.status_code, ready.json(), t]))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "annotate.settings",
        "DEBUG": "true",
        "DATABASE_URL": f"postgres://nobody@127.0.0.1:{closed_port()}/none",
        "LOG_LEVEL": "CRITICAL",
    }
    env.pop("CELERY_BROKER_URL", None)
    r = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert r.returncode == 0, r.stderr
    live, ready, body, seconds = json.loads(r.stdout)
    assert live == 200
    assert ready == 503
    assert body == {
        "status": "unavailable",
        "checks": {
            "database": "unreachable",
            "migrations": "unknown",
            "broker": "eager",
        },
    }
    assert seconds < 3


@pytest.mark.django_db
def test_readyz_is_ok_when_the_database_is_migrated_and_tasks_run_eagerly(client):
    r = client.get("/readyz/")

    assert r.status_code == 200
    assert r.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "broker": "eager"},
    }


@pytest.mark.django_db
def test_readyz_reaches_a_real_broker(client, settings):
    if not _redis_answers(REDIS_URL):
        skip_or_fail(f"needs Redis at {REDIS_URL}")
    settings.CELERY_BROKER_URL = REDIS_URL
    settings.CELERY_TASK_ALWAYS_EAGER = False

    r = client.get("/readyz/")

    assert r.status_code == 200
    assert r.json()["checks"]["broker"] == "ok"


@pytest.mark.django_db
def test_readyz_names_the_broker_when_it_is_unreachable(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    start = time.monotonic()

    r = client.get("/readyz/")

    assert time.monotonic() - start < 3
    assert r.status_code == 503
    assert r.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "migrations": "ok", "broker": "unreachable"},
    }


@pytest.mark.django_db
def test_readyz_names_the_migrations_when_one_is_unapplied(client):
    # The newest annotate migration marked unapplied, in the test's transaction
    # (rolled back after it): the real executor's plan then holds it.
    leaf = max(
        name
        for app, name in MigrationLoader(connection).graph.leaf_nodes()
        if app == "annotate"
    )
    MigrationRecorder(connection).record_unapplied("annotate", leaf)

    r = client.get("/readyz/")

    assert r.status_code == 503
    assert r.json()["checks"] == {
        "database": "ok",
        "migrations": "1 unapplied",
        "broker": "eager",
    }
    assert unapplied_migrations(connection) == [f"annotate.{leaf}"]


@pytest.mark.django_db
def test_the_probes_answer_over_plain_http_when_https_is_enforced(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz/").status_code == 200
    assert client.get("/readyz/").status_code == 200
    assert client.get("/login/").status_code == 301


def test_a_request_keeps_a_sane_request_id_and_replaces_any_other(client):
    given = client.get("/healthz/", HTTP_X_REQUEST_ID="lb-4f2a.9:x_1")
    made = client.get("/healthz/")
    refused = [
        client.get("/healthz/", HTTP_X_REQUEST_ID=bad)["X-Request-ID"]
        for bad in ("a b", "x" * 129, "é", "<script>")
    ]

    assert given["X-Request-ID"] == "lb-4f2a.9:x_1"
    assert len(made["X-Request-ID"]) == 32
    assert all(len(rid) == 32 and rid.isalnum() for rid in refused)
    assert len({made["X-Request-ID"], *refused}) == 5


@pytest.mark.django_db
def test_a_json_log_line_of_a_request_carries_its_request_id(client, json_log):
    client.get("/login/", HTTP_X_REQUEST_ID="req-42")

    [line] = [r for r in json_log() if r["logger"] == "annotate.request"]
    assert line["request_id"] == "req-42"
    assert line["level"] == "INFO"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/login/", 200)
    assert line["duration_ms"] > 0
    assert line["time"].endswith("+00:00")


@pytest.mark.django_db
def test_django_s_line_for_a_failed_request_carries_its_request_id(client, json_log):
    # Django logs a 4xx after the middleware has returned: the id must outlive it.
    client.get("/no-such-page/", HTTP_X_REQUEST_ID="req-404")

    [line] = [r for r in json_log() if r["logger"] == "django.request"]
    assert line["request_id"] == "req-404"
    assert "/no-such-page/" in line["message"]


def test_the_probes_log_no_request_line(client, json_log):
    client.get("/healthz/")

    assert [r for r in json_log() if r["logger"] == "annotate.request"] == []


def test_lines_outside_a_request_have_no_request_id(client, json_log):
    client.get("/healthz/", HTTP_X_REQUEST_ID="req-done")
    logging.getLogger("annotate.test").warning("later")

    [line] = json_log()
    assert line["request_id"] is None


@pytest.mark.django_db(transaction=True)
def test_a_task_queued_in_a_request_logs_with_its_request_id(client, json_log):
    """Eager, as in development: the import's job runs inside the request,
    committed for real so that it is queued (on commit) in the view."""
    project, manager = manager_of_a_project()
    client.force_login(manager)

    r = client.post(
        f"/projects/{project.pk}/import/",
        {"file": SimpleUploadedFile("t.jsonl", ROWS)},
        HTTP_X_REQUEST_ID="req-import",
    )

    assert r.status_code == 302
    lines = json_log()
    ran = [r for r in lines if "annotate.tasks.job_run" in r["message"]]
    [request] = [r for r in lines if r["logger"] == "annotate.request"]
    assert ran
    assert {r["request_id"] for r in ran} == {"req-import"}
    # The eager task neither cleared nor replaced the request's id.
    assert request["request_id"] == "req-import"


@pytest.mark.django_db
def test_a_failing_task_logs_its_name_ids_and_request_id(json_log):
    # throw=False runs it as a worker does: eager calls (delay, with
    # CELERY_TASK_EAGER_PROPAGATES) raise to their caller instead.
    token = request_id.set("req-fail")
    try:
        tasks.queue_retrain.apply(args=(0,), throw=False)
    finally:
        request_id.reset(token)

    [line] = [r for r in json_log() if r["logger"] == "annotate.tasks"]
    assert line["level"] == "ERROR"
    assert line["task"] == "annotate.tasks.queue_retrain"
    assert line["project_id"] == 0
    assert line["request_id"] == "req-fail"
    assert line["task_id"]
    assert line["message"] == (
        "task annotate.tasks.queue_retrain failed: DoesNotExist project_id=0"
    )


def log_a_line(**env: str) -> subprocess.CompletedProcess[str]:
    """A warning logged by a process started with these settings."""
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('annotate.x').warning('hello', extra={'item_id': 7})"
    )
    base = {k: v for k, v in os.environ.items() if k != "LOG_FORMAT"}
    base.update({"DJANGO_SETTINGS_MODULE": "annotate.settings", "DEBUG": "true"})
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_logs_json_lines_and_development_text():
    production = log_a_line(DEBUG="false", SECRET_KEY="x" * 50)
    development = log_a_line()

    assert production.returncode == 0, production.stderr
    [line] = production.stderr.splitlines()
    assert json.loads(line) | {"time": ""} == {
        "level": "WARNING",
        "logger": "annotate.x",
        "message": "hello",
        "request_id": None,
        "item_id": 7,
        "time": "",
    }
    assert development.stderr.strip().endswith("WARNING [-] annotate.x: hello")


def test_an_unknown_log_format_stops_the_start_naming_it():
    r = log_a_line(LOG_FORMAT="xml")

    assert r.returncode != 0
    assert "LOG_FORMAT='xml' must be json or text" in r.stderr


@pytest.mark.django_db(transaction=True)
@pytest.mark.celery_worker
@pytest.mark.postgres
def test_a_worker_s_lines_carry_the_request_id_of_the_request_that_queued_them(
    client, celery_worker, tmp_path
):
    """One worker for three cases, as it takes seconds to start: a job queued
    by a request, a task queued outside any, and a task that fails."""
    project, manager = manager_of_a_project()
    client.force_login(manager)

    client.post(
        f"/projects/{project.pk}/import/",
        {"file": SimpleUploadedFile("t.jsonl", ROWS)},
        HTTP_X_REQUEST_ID="req-worker",
    )
    # Queued with no request around it: its lines must not inherit the last id.
    tasks.assignments_expire.delay()
    token = request_id.set("req-broken")
    try:
        tasks.queue_retrain.delay(project_id=0)
    finally:
        request_id.reset(token)

    log = worker_log(tmp_path, "queue_retrain", "raised")
    assert Job.objects.get(project=project, kind=JobKind.IMPORT).status == "succeeded"
    ran = [line for line in log if "job_run" in line and "succeeded" in line]
    assert ran
    assert all("req-worker" in line for line in ran)
    expired = [line for line in log if "assignments_expire" in line]
    assert expired
    assert not [line for line in expired if "req-" in line]
    [failed] = [line for line in log if "failed: DoesNotExist" in line]
    assert (
        "task annotate.tasks.queue_retrain failed: DoesNotExist project_id=0" in failed
    )
    assert "req-broken" in failed


def worker_log(tmp_path, *words: str, seconds: float = 60) -> list[str]:
    """The worker's log lines (tests/conftest.py's celery_worker writes
    them) once one holds every word."""
    path = tmp_path / "worker.log"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        lines: list[str] = path.read_text().splitlines()
        if any(all(w in line for w in words) for line in lines):
            return lines
        time.sleep(0.2)
    pytest.fail(f"no worker line with {words}:\n" + path.read_text()[-3000:])
