"""The fault drills of bench/faults/, reduced (--quick), so CI runs them:
each starts real Celery workers, kills them mid-job and checks from the
database and the files that nothing was lost, doubled or left running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import REDIS_URL, _redis_answers, skip_or_fail

pytestmark = [pytest.mark.celery_worker, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("drill", ["worker_kill", "worker_gone"])
def test_the_drill_finds_nothing_lost_and_nothing_stuck(drill):
    if not _redis_answers(REDIS_URL):
        skip_or_fail(f"the drills need Redis at {REDIS_URL}")
    db = connection.settings_dict
    # A database of the drills' own beside the suite's: their data stay
    # between runs, and the suite's flushes never meet their workers.
    url = (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}"
        f"/{db['NAME']}_drills"
    )

    r = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "faults" / f"{drill}.py"), "--quick"],
        env={**os.environ, "DRILL_DATABASE_URL": url, "DRILL_BROKER_URL": REDIS_URL},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    assert "LOST" not in r.stdout
    assert f"{drill}: nothing lost, nothing stuck" in r.stdout
