"""`make bench`: every benchmark in turn, then one table of every figure
against its goal, printed and written to bench/results.md.

`python bench/run.py queue agreement` runs only those; `--quick` (`make
bench-quick`) runs each in its reduced form, in a few minutes in all, and
writes bench/results-quick.md: a check that every bench runs and roughly where
the figures are, not figures to quote. Each bench takes its own options when
run by itself (`python bench/queue.py --help`) and then prints only its own
tables.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

from bench.common import FIGURES_ENV, machine, table  # noqa: E402

BENCHES = ["import", "queue", "agreement", "export", "active_learning", "loop", "load"]


def verdict(met: bool | None) -> str:
    return "—" if met is None else "met" if met else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("benches", nargs="*", help=f"of {', '.join(BENCHES)}")
    parser.add_argument("--quick", action="store_true", help="reduced runs")
    args = parser.parse_args()
    chosen = args.benches or BENCHES
    unknown = sorted(set(chosen) - set(BENCHES))
    if unknown:
        sys.exit(
            f"unknown bench {', '.join(unknown)} (choose from {', '.join(BENCHES)})"
        )
    started = datetime.now(UTC)
    failed = []
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as figures:
        for name in chosen:
            print(f"== {name}", flush=True)
            clock = time.monotonic()
            done = subprocess.run(
                [sys.executable, str(HERE / f"{name}.py")]
                + (["--quick"] if args.quick else []),
                env={**os.environ, FIGURES_ENV: figures.name},
                check=False,
            )
            print(f"== {name}: {time.monotonic() - clock:.0f} s", flush=True)
            if done.returncode:
                failed.append(name)
        rows = [json.loads(line) for line in figures.read().splitlines()]
    title = (
        f"Benchmarks{' (quick)' if args.quick else ''}: {machine()}, "
        f"{started:%Y-%m-%d %H:%M} UTC, {(datetime.now(UTC) - started).seconds} s"
    )
    report = table(
        ["bench", "figure", "value", "goal", "met", "runs"],
        [
            [r["bench"], r["figure"], r["value"], r["goal"], verdict(r["met"])]
            + [str(r["runs"])]
            for r in rows
        ],
    )
    missed = [r for r in rows if r["met"] is False]
    summary = (
        f"{len(rows)} figures, {sum(r['met'] is True for r in rows)} goals met, "
        f"{len(missed)} not met"
        + (f"; benches that failed: {', '.join(failed)}" if failed else "")
        + "."
    )
    print(f"\n{title}\n\n{report}\n\n{summary}")
    out = HERE / ("results-quick.md" if args.quick else "results.md")
    out.write_text(f"# {title}\n\n{report}\n\n{summary}\n", encoding="utf-8")
    print(f"Written to {out.relative_to(HERE.parent)}.")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
