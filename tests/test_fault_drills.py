"""The request-side fault drills (bench/faults/), run in their --quick form:
PostgreSQL crashed and started again under submits, and responses dropped
between a submit and its answer. Each exits 0 only when nothing was lost
or counted twice; its output is shown when it fails.

Each drill makes a PostgreSQL cluster of its own (pg_createcluster, root),
never touching the suite's database; marked postgres so that it runs where
the suite has PostgreSQL (CI) and not in the SQLite leg of the matrix.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _redis_answers, skip_or_fail

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/6")


@pytest.mark.parametrize("drill", ["postgres_restart", "network_drop"])
def test_the_drill_loses_nothing(drill):
    if shutil.which("pg_createcluster") is None or os.geteuid() != 0:
        skip_or_fail("the drills need pg_createcluster, run as root")
    if not _redis_answers(BROKER_URL):
        skip_or_fail(f"the drills need Redis at {BROKER_URL}")

    r = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "faults" / f"{drill}.py"), "--quick"],
        cwd=ROOT,
        env={**os.environ, "BENCH_BROKER_URL": BROKER_URL},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    output = r.stdout[-4000:] + r.stderr[-4000:]
    assert r.returncode == 0, output
    assert "OK: nothing lost, nothing counted twice." in r.stdout, output
