"""The planner's statistics after a bulk write, and autovacuum's work where
the server does none.

This PostgreSQL runs without autovacuum (and autovacuum, where it runs, may
be minutes behind), so a job that writes many rows ANALYZEs the tables it
wrote before anyone plans against them. The claim does not depend on this
(rawsql.execute_pinned keeps it an index scan whatever the statistics say);
the manager's pages, exports and the assigned stream do.

The labelling loop's other statements are prepared, and a prepared
statement keeps the generic plan it made until its tables' statistics
change. Made on an empty claims table (a new install, a new day's first
claims), that plan reads the whole table for one claim by its id; with no
ANALYZE it kept doing so while the table grew (seen in bench/load.py: a few
full scans a loop, 560,000 rows a second by the end, the pages' p99 doubling
over 3 minutes). So beat's `tables-maintain` does what autovacuum would,
on the app's tables, when the server's autovacuum is off.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import connection, models, transaction

# Autovacuum's default thresholds (autovacuum_vacuum_threshold and _scale_factor,
# autovacuum_analyze_threshold and _scale_factor).
VACUUM_BASE, VACUUM_SHARE = 50, 0.2
ANALYZE_BASE, ANALYZE_SHARE = 50, 0.1

# After a job, autovacuum's analyze rule, capped: an import of
# 10,000 items into a table of millions is a new project the statistics have
# never seen, and the claim was seen taking 390 ms on such statistics. A
# smaller one costs little if misplanned, and ANALYZE (a sample of 30,000
# rows: about 0.4 s per table of a million items here) would not be cheap
# against it.
ANALYZE_ROWS = 10_000


def tables_analyze(*, written: Mapping[type[models.Model], int]) -> None:
    """ANALYZE the tables of `written` (model -> rows the job wrote) that
    changed enough, once the current transaction commits (at once outside
    one); PostgreSQL only.

    After the commit, so the job's transaction holds no ANALYZE lock and
    sends no extra query. A failure is logged, never raised (robust): the
    job's work is committed by then, and stale statistics only slow things
    down.
    """
    if connection.vendor != "postgresql":
        return
    tables = {m._meta.db_table: n for m, n in written.items() if n > 0}
    if tables:
        transaction.on_commit(lambda: _analyze(tables), robust=True)


def _analyze(written: dict[str, int]) -> None:
    with connection.cursor() as cursor:
        # reltuples: the rows at the last ANALYZE (-1: never analysed).
        cursor.execute(
            "SELECT relname, reltuples FROM pg_class WHERE oid = ANY(%s::regclass[])",
            [list(written)],
        )
        counted = dict(cursor.fetchall())
        chosen = sorted(
            t
            for t, n in written.items()
            if n
            >= min(
                ANALYZE_ROWS,
                ANALYZE_BASE + ANALYZE_SHARE * max(counted.get(t, 0.0), 0.0),
            )
        )
        if chosen:
            quoted = ", ".join(connection.ops.quote_name(t) for t in chosen)
            cursor.execute(f"ANALYZE {quoted}")


def tables_due(
    stats: Iterable[tuple[str, int, int, float]],
) -> list[tuple[str, bool, bool]]:
    """From (table, dead rows, rows changed since its ANALYZE, rows counted
    at its last ANALYZE: -1 never), the tables past autovacuum's thresholds
    as (table, vacuum, analyze), in name order."""
    due = []
    for table, dead, changed, counted in sorted(stats):
        rows = max(counted, 0.0)
        vacuum = dead > VACUUM_BASE + VACUUM_SHARE * rows
        analyze = changed > ANALYZE_BASE + ANALYZE_SHARE * rows
        if vacuum or analyze:
            due.append((table, vacuum, analyze))
    return due


def tables_maintain() -> list[str]:
    """VACUUM and ANALYZE the app's tables that autovacuum would, when the
    server's autovacuum is off (PostgreSQL only; a no-op otherwise). Returns
    the statements run. SKIP_LOCKED: a table another maintenance holds is
    left for the next run, not waited for."""
    if connection.vendor != "postgresql":
        return []
    tables = connection.introspection.django_table_names(only_existing=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('autovacuum') = 'on'")
        if cursor.fetchone()[0]:
            return []
        cursor.execute(
            "SELECT s.relname, s.n_dead_tup, s.n_mod_since_analyze, c.reltuples "
            "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
            "WHERE s.schemaname = current_schema() AND s.relname = ANY(%s)",
            [tables],
        )
        ran = []
        for table, vacuum, analyze in tables_due(cursor.fetchall()):
            name = connection.ops.quote_name(table)
            if vacuum:
                options = "SKIP_LOCKED, ANALYZE" if analyze else "SKIP_LOCKED"
                statement = f"VACUUM ({options}) {name}"
            else:
                statement = f"ANALYZE (SKIP_LOCKED) {name}"
            cursor.execute(statement)
            ran.append(statement)
    return ran
