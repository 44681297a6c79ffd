"""bench/load.py's quick form: annotators through the login page and the
labelling screen against gunicorn, a Celery worker and Celery beat, then its
checks from the database (issue 14)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import REDIS_URL, _redis_answers, skip_or_fail
from tests.factories import refusal_v1

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.celery_worker,
    pytest.mark.postgres,
]

ROOT = Path(__file__).resolve().parent.parent
CHECKS = (
    "no item has more labels than overlap",
    "no annotator labelled an item twice",
    "every acknowledged submit stored exactly once",
    "the retrain ran during the run",
)


def test_the_quick_load_test_stores_every_acknowledged_submit_once():
    if not _redis_answers(REDIS_URL):
        skip_or_fail(f"the load test needs Redis at {REDIS_URL}")
    refusal_v1()  # an earlier transactional test's flush removed it
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"

    # In the test database, committed for real: the servers are other
    # processes, and the flush after the test removes what the run wrote.
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load.py"), "--quick"],
        env={**os.environ, "BENCH_DATABASE_URL": url, "BENCH_BROKER_URL": REDIS_URL},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
    )

    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    lines = run.stdout.splitlines()
    for check in CHECKS:
        (line,) = [x for x in lines if x.startswith(f"| {check}")]
        assert line.split("|")[2].strip() == "met", line
    assert "5xx: 0 (goal 0): met" in run.stdout
