"""`make bench`: every benchmark in turn, each printing its table.

`python bench/run.py queue agreement` runs only those; each bench takes its
own options when run by itself (`python bench/queue.py --help`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["import", "queue", "agreement", "export", "active_learning"]

if __name__ == "__main__":
    chosen = sys.argv[1:] or BENCHES
    unknown = sorted(set(chosen) - set(BENCHES))
    if unknown:
        sys.exit(
            f"unknown bench {', '.join(unknown)} (choose from {', '.join(BENCHES)})"
        )
    for name in chosen:
        print(f"== {name}", flush=True)
        subprocess.run([sys.executable, str(HERE / f"{name}.py")], check=True)
