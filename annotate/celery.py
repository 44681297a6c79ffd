"""The Celery app. Tasks live in each app's tasks.py and only call services."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import worker_init

# Connects annotate.observability's Celery signals: a request's id carried into
# the tasks it queues, failed tasks logged, the worker's lines in the app's format.
from annotate import observability  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotate.settings")

app = Celery("annotate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def yield_to_the_pages(**kwargs: Any) -> None:
    """Lower the worker's priority to settings.WORKER_NICENESS (a prefork
    pool's children inherit it): its work can wait, an annotator should not."""
    from django.conf import settings

    os.nice(max(0, settings.WORKER_NICENESS - os.getpriority(os.PRIO_PROCESS, 0)))
