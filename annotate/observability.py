"""Logs an operator can follow: JSON lines in production, and one request id
on every line a request causes, in the web process and in the Celery tasks it
queues.

The id comes from the request's X-Request-ID when it is a sane token (a proxy
or load balancer in front may set one), or is made here; it goes back on the
response, into a context variable that RequestIdFilter copies onto every log
record, and into the headers of every task the request queues, where the
worker's task_prerun puts it back in the context variable for the task's run.
A task that fails logs a line naming it and the ids it was given.
"""

from __future__ import annotations

import inspect
import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    before_task_publish,
    task_failure,
    task_postrun,
    task_prerun,
)
from django.conf import settings
from django.core.signals import request_finished
from django.dispatch import receiver
from pythonjsonlogger.orjson import OrjsonFormatter

if TYPE_CHECKING:
    # Annotations only: this module is imported while settings load.
    from celery import Task
    from django.http import HttpRequest, HttpResponse

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
# The task message's header; prefixed, so no name Celery uses can clash.
TASK_HEADER = "x_request_id"
# Letters, digits and a little punctuation, as the UUIDs and hex ids proxies
# send: anything else (a newline, a megabyte) is replaced, never logged.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# The task arguments an operator looks a failure up by.
_ID_ARGUMENTS = ("project_id", "item_id", "job_id")
# Probes call every few seconds: a line each would bury the requests.
_QUIET_PATHS = frozenset({"/healthz/", "/readyz/"})

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
JSON_FIELDS = "%(levelname)s %(name)s %(message)s %(request_id)s"

logger = logging.getLogger("annotate.request")
task_logger = logging.getLogger("annotate.tasks")


def log_formatter(*, log_format: str) -> logging.Formatter:
    """The formatter of settings.LOG_FORMAT: "json" (one object per line,
    UTC timestamp, extra= fields as keys) or "text" (for a person)."""
    if log_format == "json":
        # orjson (a dependency already): a third cheaper per line than json.
        return OrjsonFormatter(
            JSON_FIELDS,
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )
    return logging.Formatter(TEXT_FORMAT, defaults={"request_id": "-"})


class RequestIdFilter(logging.Filter):
    """Put the current request id on each record (none outside a request or
    task: the JSON line says null, the text line "-")."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (rid := request_id.get()) is not None:
            record.request_id = rid
        return True


class RequestIdMiddleware:
    """Give each request an id (X-Request-ID in and out) and log one line per
    request: method, path, status and duration (INFO on annotate.request)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        rid = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        # Cleared when the response is closed (below), not on the way out:
        # Django logs a 4xx or 5xx after the last middleware has returned.
        request_id.set(rid)
        start = time.perf_counter()
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = rid
        if request.path_info not in _QUIET_PATHS:
            ms = round((time.perf_counter() - start) * 1000, 2)
            logger.info(
                "%s %s %s %.2fms",
                request.method,
                request.path,
                response.status_code,
                ms,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": ms,
                },
            )
        return response


@receiver(request_finished)
def _request_id_closed(**_: Any) -> None:
    # The server's thread serves another request next, or logs on its own.
    request_id.set(None)


@before_task_publish.connect
def _request_id_to_task(headers: dict[str, Any], **_: Any) -> None:
    # Message headers become attributes of the task's request in the worker.
    if (rid := request_id.get()) is not None:
        headers[TASK_HEADER] = rid


@task_prerun.connect
def _request_id_from_task(task: Task[Any, Any], **_: Any) -> None:
    # An eager task runs inside the request, which has set the id already.
    if not task.request.is_eager:
        request_id.set(getattr(task.request, TASK_HEADER, None))


@task_postrun.connect
def _request_id_cleared(task: Task[Any, Any], **_: Any) -> None:
    # The worker's thread runs the next task next: it must not inherit this id.
    if not task.request.is_eager:
        request_id.set(None)


@task_failure.connect
def _task_failure_logged(
    sender: Task[Any, Any],
    task_id: str,
    exception: BaseException,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    **_: Any,
) -> None:
    """One line per failed task (retries spent or not retried), with the ids
    of what it was working on; Celery's own line carries the traceback."""
    ids = {
        k: v for k, v in _arguments(sender, args, kwargs).items() if k in _ID_ARGUMENTS
    }
    task_logger.error(
        "task %s failed: %s%s",
        sender.name,
        type(exception).__name__,
        "".join(f" {k}={v}" for k, v in ids.items()),
        extra={"task": sender.name, "task_id": task_id, **ids},
    )


def _arguments(
    task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The task's arguments by name, however they were passed."""
    try:
        return dict(inspect.signature(task.run).bind(*args, **kwargs).arguments)
    except TypeError:  # called with arguments its signature refuses
        return dict(kwargs)


@after_setup_logger.connect
@after_setup_task_logger.connect
def _celery_handlers_formatted(logger: logging.Logger, **_: Any) -> None:
    """The worker's and beat's log lines in the web's format, with request ids.

    Celery replaces the handlers Django's LOGGING set up (its own, with
    --logfile and --loglevel); this keeps them and changes their format.
    """
    for handler in logger.handlers:
        handler.addFilter(RequestIdFilter())
        handler.setFormatter(log_formatter(log_format=settings.LOG_FORMAT))
