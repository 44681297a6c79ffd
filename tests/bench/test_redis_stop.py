"""The broker drill (bench/faults/redis_stop.py --quick) as a test: labelling
goes on while Redis is down, and nothing is lost when it is back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import skip_or_fail
from tests.factories import refusal_v1

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]


def test_submits_succeed_while_redis_is_down_and_every_item_is_rescored_after():
    if shutil.which("redis-server") is None:
        skip_or_fail(
            "the broker drill needs redis-server (apt-get install redis-server)"
        )
    refusal_v1()  # committed: the drill's processes make their project with it
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"

    # Its own port: a drill run by hand beside the suite uses 6393.
    run = subprocess.run(
        [sys.executable, "bench/faults/redis_stop.py", "--quick", "--port", "6394"],
        env={**os.environ, "BENCH_DATABASE_URL": url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "0 failed" in run.stdout
    assert "nothing lost." in run.stdout
