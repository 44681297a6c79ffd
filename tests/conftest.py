"""Shared fixtures: personas (annotator, other_annotator, reviewer, manager, outsider)
and the rules for tests that need real services.

A test that needs PostgreSQL, Redis or Chromium skips on a laptop without them,
saying so, but fails in CI (CI=true), where every service must be there.
"""

from __future__ import annotations

import os
import random

import pytest
from django.core.cache import cache
from django.db import connection

from annotate.models import Membership
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, refusal_v1
from tests.labelling import label, new_annotator

# Playwright's sync API runs an event loop in the test thread; Django's ORM
# refuses to run there unless told the loop is not serving requests.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

IN_CI = os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> None:
    """Skip on a laptop; in CI a missing service is a failure, never a skip."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required, not skipped)")
    pytest.skip(reason)


def pytest_terminal_summary(terminalreporter):
    """Say why tests skipped, one line per reason ("8 skipped: needs
    PostgreSQL..."), rather than leave a bare count of s."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        if isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        else:
            reason = str(report.longrepr)
        reasons[reason] = reasons.get(reason, 0) + 1
    if reasons:
        terminalreporter.section("why tests skipped")
        for reason, n in sorted(reasons.items(), key=lambda r: -r[1]):
            terminalreporter.write_line(f"{n} skipped: {reason}")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Put back the data migration's rows: a transactional test's flush removes
    them, and --reuse-db keeps the database so flushed between runs."""
    with django_db_blocker.unblock():
        refusal_v1()


@pytest.fixture(autouse=True)
def _seeded_draws():
    """The claim's sampling draws (exploration, gold questions) use the
    random module: seeded per test, so a test's draws are the same each run
    and a bound that holds holds every time."""
    random.seed(20261202)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The cache holds the API's throttle counts (and axes' none: it counts in
    the database), keyed by token id: ids come again after each test's
    rollback, so one test's writes would throttle the next test's token."""
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _needs_postgres(request):
    if (
        request.node.get_closest_marker("postgres")
        and connection.vendor != "postgresql"
    ):
        skip_or_fail("needs PostgreSQL: set DATABASE_URL=postgres://...")


@pytest.fixture
def project(db):
    return ProjectFactory()


def _member(project, role: str, username: str):
    user = UserFactory(username=username)
    MembershipFactory(user=user, project=project, role=role)
    return user


@pytest.fixture
def annotator(project):
    return _member(project, "annotator", "alice")


@pytest.fixture
def other_annotator(project):
    return _member(project, "annotator", "bob")


@pytest.fixture
def reviewer(project):
    return _member(project, "reviewer", "rita")


@pytest.fixture
def manager(project):
    return _member(project, "manager", "mona")


@pytest.fixture
def labelled(django_capture_on_commit_callbacks):
    """Label a project's one item by new annotators, running the queued
    rescoring as each submit would on commit; returns the annotators."""

    def run(project, *refusal_types: str):
        users = []
        for refusal_type in refusal_types:
            user = new_annotator(project, f"ann{Membership.objects.count()}")
            with django_capture_on_commit_callbacks(execute=True):
                label(user, project, refusal_type)
            users.append(user)
        return users

    return run


@pytest.fixture
def reviewer_of(db):
    """A reviewer (rita) of the given project."""

    def make(project):
        return _member(project, "reviewer", "rita")

    return make


@pytest.fixture
def outsider(db):
    return UserFactory(username="charlie")


CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium: Playwright cannot download its own browser here."""
    if not os.path.exists(CHROMIUM):
        skip_or_fail(f"needs Chromium at {CHROMIUM} (apt-get install -y chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


REDIS_URL = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _forget_connections(app) -> None:
    """Drop the app's cached connection and producer pools so a new broker_url takes effect."""
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def celery_worker(tmp_path):
    """A real Celery worker process on Redis, reading the test database.

    Needs PostgreSQL (the worker is another process, so the test database must
    be one it can open) and Redis. Tests using it must commit for real
    (django_db(transaction=True)), so the worker sees what they wrote.
    """
    import subprocess
    import sys
    import time

    import redis

    from annotate.celery import app

    if connection.vendor != "postgresql":
        skip_or_fail(
            "a real Celery worker needs PostgreSQL: set DATABASE_URL=postgres://..."
        )
    if not _redis_answers(REDIS_URL):
        skip_or_fail(f"a real Celery worker needs Redis at {REDIS_URL}")
    db = connection.settings_dict
    db_url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CELERY_BROKER_URL": REDIS_URL,
        "DEBUG": "true",
        "OPENBLAS_NUM_THREADS": "1",
    }
    redis.Redis.from_url(REDIS_URL).flushdb()  # no stale tasks from an earlier run
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "annotate",
            "worker",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
            f"--logfile={log}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    old = {k: app.conf[k] for k in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=REDIS_URL, task_always_eager=False)
    _forget_connections(app)
    try:
        # "ready." is logged once the worker consumes; a pidbox ping can hang
        # on the Redis transport, so the log is the signal.
        deadline = time.monotonic() + 60
        while "ready." not in (log.read_text() if log.exists() else ""):
            if worker.poll() is not None or time.monotonic() > deadline:
                out = log.read_text() if log.exists() else "(no log)"
                pytest.fail(f"the Celery worker did not start:\n{out[-3000:]}")
            time.sleep(0.1)
        yield worker
    finally:
        app.conf.update(old)
        _forget_connections(app)
        worker.terminate()
        worker.wait(timeout=30)


@pytest.fixture
def unreachable_broker():
    """Celery pointed at a port nothing listens on, not eager: every publish
    meets a refused connection, as when Redis is down."""
    from annotate.celery import app

    old = {k: app.conf[k] for k in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url="redis://127.0.0.1:9/0", task_always_eager=False)
    _forget_connections(app)
    try:
        yield
    finally:
        app.conf.update(old)
        _forget_connections(app)
