"""The Celery app. Tasks live in each app's tasks.py and only call services."""

from __future__ import annotations

import os

from celery import Celery

# Connects annotate.observability's Celery signals: a request's id carried into
# the tasks it queues, failed tasks logged, the worker's lines in the app's format.
from annotate import observability  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotate.settings")

app = Celery("annotate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
