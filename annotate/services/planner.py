"""The planner's statistics after a bulk write.

This PostgreSQL runs without autovacuum (and autovacuum, where it runs, may
be minutes behind), so a job that writes many rows ANALYZEs the tables it
wrote before anyone plans against them. The claim does not depend on this
(rawsql.execute_pinned keeps it an index scan whatever the statistics say);
the manager's pages, exports and the assigned stream do.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import connection, models, transaction

# Autovacuum's own rule (50 rows + 10% of the table), capped: an import of
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
            if n >= min(ANALYZE_ROWS, 50 + 0.1 * max(counted.get(t, 0.0), 0.0))
        )
        if chosen:
            quoted = ", ".join(connection.ops.quote_name(t) for t in chosen)
            cursor.execute(f"ANALYZE {quoted}")
