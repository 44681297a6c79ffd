"""Shared by the benchmarks: a PostgreSQL database of their own, a table printer and
the figures each reports to `make bench`'s table."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/refusal_annotate_bench"


def database_url(default: str = DEFAULT_URL) -> str:
    url = os.environ.get("BENCH_DATABASE_URL", default)
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(f"The benchmarks need PostgreSQL; BENCH_DATABASE_URL={url!r}.")
    return url


def env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        # DEBUG off as in production: with it on, Django keeps every SQL string.
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-secret",
        "DJANGO_SETTINGS_MODULE": "annotate.settings",
        "OPENBLAS_NUM_THREADS": "1",
    }


def ensure_database(url: str) -> None:
    """Create the bench database if it is missing, then migrate it."""
    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    manage("migrate", "--no-input", "-v", "0", url=url)


def fresh_database(url: str) -> None:
    """The bench database dropped (if there) and created again, migrated:
    for a bench whose figures the rows of earlier invocations would move."""
    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    ensure_database(url)


def checkpoint(url: str) -> None:
    """Flush dirty pages first, so no run pays for the previous run's writes."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def manage(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env(url),
        check=True,
        capture_output=True,
        text=True,
    )


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = (
        "| "
        + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
        + " |"
    )
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
        for r in rows
    ]
    return "\n".join([line, sep, *body])


# bench/run.py sets this to a file; each bench appends its goals' figures to
# it, one JSON line each, for the one table `make bench` prints.
FIGURES_ENV = "BENCH_FIGURES"


def figure(name: str, value: str, goal: str, met: bool | None, *, runs: int) -> None:
    """One figure against its goal (met None: no goal, shown for context);
    printed by bench/run.py's table. Does nothing for a bench run by itself."""
    path = os.environ.get(FIGURES_ENV)
    if not path:
        return
    bench = Path(sys.argv[0]).stem
    line: dict[str, object] = {
        "bench": bench,
        "figure": name,
        "value": value,
        "goal": goal,
        "met": met,
    }
    line["runs"] = runs
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
