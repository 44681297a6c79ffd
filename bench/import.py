"""Import throughput: a 100k-transcript JSONL through `manage.py import_transcripts`.

Each run imports the file into a new project of a PostgreSQL bench database
(`<BENCH_DATABASE_URL>_import`, created new by each invocation), in
its own process, measuring wall time and the process's peak RSS.
Goal (issue 2): >= 10,000 rows/s and peak RSS < 300 MB.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as `python bench/import.py`, this file's directory is sys.path[0], and
# bench/queue.py would shadow the standard library's `queue` (which psycopg
# imports): drop the directory before any import that could reach it.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

from bench.common import (  # noqa: E402
    ROOT,
    checkpoint,
    database_url,
    env,
    figure,
    fresh_database,
    machine,
    manage,
    median,
    table,
)

# manage.py in this process, reporting its own peak RSS (ru_maxrss, in KB on Linux).
MEASURED = """
import resource, runpy, sys
sys.argv = ["manage.py", *sys.argv[1:]]
try:
    runpy.run_path("manage.py", run_name="__main__")
finally:
    print("PEAK_RSS_KB=%d" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""

TOPICS = [
    "chemistry",
    "history",
    "fiction",
    "security",
    "medicine",
    "finance",
    "travel",
]


def write_file(path: Path, rows: int, seed: int = 7) -> None:
    """Realistic sizes: a system prompt, a question and a 100-300 word answer."""
    rng = random.Random(seed)
    words = [
        "the",
        "model",
        "declines",
        "because",
        "policy",
        "safety",
        "context",
        "user",
        "request",
        "help",
        "explain",
    ]
    with path.open("w", encoding="utf-8") as f:
        for n in range(rows):
            topic = rng.choice(TOPICS)
            answer = " ".join(rng.choice(words) for _ in range(rng.randint(100, 300)))
            record = {
                "id": f"bench-{n}",
                "model": f"model-{n % 3}",
                "prompt_group": f"pg-{n // 3}",
                "dataset": "bench",
                "system": "You are a helpful assistant.",
                "prompt": f"Question {n} about {topic}: how does it work?",
                "response": answer,
                "metadata": {"category": topic},
            }
            f.write(json.dumps(record) + "\n")


def run_once(path: Path, url: str, project: str) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one import in a fresh process."""
    manage("create_project", project, "--overlap", "3", url=url)
    checkpoint(url)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", MEASURED, "import_transcripts", project, str(path)],
        env=env(url),
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    seconds = time.perf_counter() - start
    peak_kb = int(done.stderr.rsplit("PEAK_RSS_KB=", 1)[1].split()[0])
    return seconds, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="30,000 rows, 1 run")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.runs = 30_000, 1
    # Its own database, new each time: the projects of earlier invocations
    # would otherwise pile up (a grown database took main from 10,617 to
    # 7,495 rows/s).
    url = database_url() + "_import"
    fresh_database(url)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jsonl"
        write_file(path, args.rows)
        size_mb = path.stat().st_size / 2**20
        stamp = int(time.time())
        results = [
            run_once(path, url, f"bench-import-{stamp}-{i}") for i in range(args.runs)
        ]
    secs = [s for s, _ in results]
    rss = [m for _, m in results]
    rate = args.rows / median(secs)
    print(
        f"import: {args.rows} rows ({size_mb:.0f} MB JSONL), {args.runs} runs, {machine()}"
    )
    print(
        table(
            ["metric", "median", "min", "max", "goal"],
            [
                [
                    "rows/s",
                    f"{rate:,.0f}",
                    f"{args.rows / max(secs):,.0f}",
                    f"{args.rows / min(secs):,.0f}",
                    ">= 10,000",
                ],
                [
                    "seconds",
                    f"{median(secs):.2f}",
                    f"{min(secs):.2f}",
                    f"{max(secs):.2f}",
                    "",
                ],
                [
                    "peak RSS MB",
                    f"{median(rss):.0f}",
                    f"{min(rss):.0f}",
                    f"{max(rss):.0f}",
                    "< 300",
                ],
            ],
        )
    )
    figure(
        f"import of {args.rows:,} transcripts, rows/s (median)",
        f"{rate:,.0f}",
        ">= 10,000",
        rate >= 10_000,
        runs=args.runs,
    )
    figure(
        "import peak RSS MB (highest run)",
        f"{max(rss):.0f}",
        "< 300",
        max(rss) < 300,
        runs=args.runs,
    )


if __name__ == "__main__":
    main()
