"""What a process loads before it does anything: every management command's
system checks import the URLconf, so its imports are paid by each import,
export and job command, in time and in memory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# scikit-learn brings scipy, pandas and pyarrow: about 2 s and 150 MB here.
HEAVY = ("sklearn", "scipy", "pandas", "pyarrow")


def test_the_urlconf_loads_no_scientific_stack() -> None:
    code = (
        "import sys, django; django.setup(); import annotate.urls; "
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "annotate.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == []
