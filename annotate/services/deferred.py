"""The tasks that follow a label, queued so that the label never waits for
them nor fails with them: a broker that is down or slow must not cost an
annotator their submit.

The rescoring is owed in the database (Item.rescore_due, set by the submit
itself), so its task is only a wake-up call: one per process every
RESCORE_DELAY at most, which rescores every item marked meanwhile in one
batch. A publish that fails is logged and dropped; what it was for is still
recorded (items due, labels counted towards a retrain), and the next
successful wake-up or beat's sweep (items-rescore-due, queue-retrain) does
it. Publishing never retries in the request, and the broker's connect
timeout is short (settings.CELERY_BROKER_TRANSPORT_OPTIONS).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from celery import Task
from django.db import transaction
from kombu.exceptions import KombuError

from annotate import tasks
from annotate.celery import app
from annotate.models import Item, Project

log = logging.getLogger(__name__)

# The labels of this long are rescored by one task: short enough that
# disagreement and gold are current within a second, long enough that at
# hundreds of submits a second each task takes a batch.
RESCORE_DELAY = 0.25
# After a failed publish this process tries again no sooner: each try costs
# a request a connect attempt while the broker is down.
RETRY_AFTER = 2.0
# A wake-up already scheduled this much after a commit will see it.
MARGIN = 0.05

_lock = threading.Lock()
_next_run = 0.0  # monotonic time of this process's next scheduled rescoring


def publish(task: Task[Any, Any], countdown: float = 0.0, **kwargs: Any) -> bool:
    """Send `task` now, once, failing fast; False (logged) if the broker
    could not take it."""
    if app.conf.task_always_eager:
        # In-process (dev, tests): no broker to miss, and the task's own
        # errors propagate, as they would from delay().
        task.apply_async(kwargs=kwargs, countdown=countdown)
        return True
    try:
        task.apply_async(kwargs=kwargs, countdown=countdown, retry=False)
    except (KombuError, redis.RedisError, OSError) as e:
        log.warning("task %s not queued, the broker is unreachable: %s", task.name, e)
        return False
    return True


def publish_on_commit(task: Task[Any, Any], **kwargs: Any) -> None:
    """publish() once the current transaction commits."""
    transaction.on_commit(lambda: publish(task, **kwargs))


def rescore_soon() -> None:
    """Once the current transaction commits, make sure a rescoring runs after
    it: this process's one scheduled to run later is enough, else one is
    queued RESCORE_DELAY ahead. Call after marking items rescore_due."""
    transaction.on_commit(_wake)


def _wake() -> None:
    global _next_run
    if app.conf.task_always_eager:
        # Dev and tests: in-process, now.
        tasks.items_rescore_due.apply()
        return
    now = time.monotonic()
    with _lock:
        if _next_run > now + MARGIN:
            return
        # Claimed before publishing, so other threads skip meanwhile.
        _next_run = now + RESCORE_DELAY
    if not publish(tasks.items_rescore_due, countdown=RESCORE_DELAY):
        with _lock:
            _next_run = now + RETRY_AFTER


def rescore_waiting(project: Project) -> int:
    """The project's items owed a rescoring while the broker is unreachable
    (0 while it answers: then they are seconds from done), for the
    manager's warning."""
    due = Item.objects.filter(project=project, rescore_due=True).count()
    return due if due and not broker_reachable() else 0


def broker_reachable() -> bool:
    """Whether the broker answers now (a connect, failing fast)."""
    if app.conf.task_always_eager:
        return True
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
    except (KombuError, redis.RedisError, OSError):
        return False
    return True
