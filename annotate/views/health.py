"""Probes for the container, a load balancer and an operator: /healthz/ (the
process answers) and /readyz/ (it can serve: database, broker, migrations).

Both are public and exempt from the HTTPS redirect (settings), and neither
says more than which check failed; the reason goes to the log.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET
from kombu import Connection
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)

# Seconds the broker check waits; the database's is its connect_timeout (settings).
BROKER_TIMEOUT = 2


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. No query, so a database outage does not
    get healthy web processes restarted; readiness is /readyz/."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when every check says ok, else 503 naming the failures."""
    checks = {"database": _database()}
    # Unapplied migrations are only known from the database's own table.
    checks["migrations"] = (
        _migrations(connection) if checks["database"] == "ok" else "unknown"
    )
    checks["broker"] = _broker()
    ready = all(v in {"ok", "eager"} for v in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.warning("readyz: the database is unreachable", exc_info=True)
        return "unreachable"
    return "ok"


def _migrations(db: BaseDatabaseWrapper) -> str:
    unapplied = unapplied_migrations(db)
    if unapplied:
        logger.warning(
            "readyz: %d unapplied migrations, first %s",
            len(unapplied),
            unapplied[0],
            extra={"unapplied": unapplied},
        )
        return f"{len(unapplied)} unapplied"
    return "ok"


def unapplied_migrations(db: BaseDatabaseWrapper) -> list[str]:
    """The migrations `manage.py migrate` would apply to db, as app.name."""
    executor = MigrationExecutor(db)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def _broker() -> str:
    # Eager tasks run in the web process: there is no broker to reach.
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager"
    try:
        with Connection(
            settings.CELERY_BROKER_URL,
            connect_timeout=BROKER_TIMEOUT,
            transport_options={"socket_timeout": BROKER_TIMEOUT},
        ) as broker:
            broker.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT)
    except (BrokerError, OSError):
        logger.warning("readyz: the broker is unreachable", exc_info=True)
        return "unreachable"
    return "ok"
