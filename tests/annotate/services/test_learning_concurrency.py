"""The active-learning queue's jobs under concurrency, on PostgreSQL: requests
for a retrain at once queue one job; a job run twice trains once."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from annotate.models import Job, JobKind, JobStatus, QueueModel
from annotate.services.jobs import job_run
from annotate.services.learning import queue_job_create
from tests.annotate.test_worker_learning import label
from tests.conftest import REDIS_URL, _forget_connections, _redis_answers, skip_or_fail
from tests.factories import ItemFactory, ProjectFactory, chat

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

CALLERS = 8


def at_once(n: int, work: Callable[[], Any]) -> list[Any]:
    """Run `work` in n threads released together, each on its own database
    connection (closed at its end); its results, or the first error raised."""
    start = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            results.append(work())
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread is still running"
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def redis_broker() -> Iterator[Any]:
    """Tasks go to Redis (not run eagerly) and nobody consumes them: the
    test sees what was queued. Yields the Redis client."""
    import redis

    from annotate.celery import app

    if not _redis_answers(REDIS_URL):
        skip_or_fail(f"needs Redis at {REDIS_URL}")
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    old = {k: app.conf[k] for k in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=REDIS_URL, task_always_eager=False)
    _forget_connections(app)
    try:
        yield client
    finally:
        app.conf.update(old)
        _forget_connections(app)
        client.flushdb()


def queued_tasks(client: Any) -> list[tuple[str, Any]]:
    """(task name, kwargs) of each message waiting in Celery's default queue."""
    found = []
    for raw in client.lrange("celery", 0, -1):
        message = json.loads(raw)
        _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], kwargs))
    return found


def test_retrain_requests_at_once_queue_one_job_and_one_task(redis_broker):
    project = ProjectFactory()

    jobs = at_once(
        CALLERS,
        lambda: queue_job_create(
            project=project, kind=JobKind.RETRAIN, created_by=None, now=timezone.now()
        ),
    )

    stored = list(Job.objects.filter(project=project).values_list("pk", "kind"))
    assert stored == [(jobs[0].pk, JobKind.RETRAIN)]
    assert {j.pk for j in jobs} == {jobs[0].pk}
    assert len(jobs) == CALLERS
    assert queued_tasks(redis_broker) == [
        ("annotate.tasks.job_run", {"job_id": jobs[0].pk})
    ]


@pytest.fixture
def retrain_job() -> Job:
    """A project with 40 labels in two classes and a queued retrain (its
    task not sent: the test runs the job)."""
    project = ProjectFactory(overlap=1, queue_settings={"exploration": 0.0})
    for _ in range(20):
        ItemFactory(project=project, transcript__messages=chat("refused"))
        ItemFactory(project=project, transcript__messages=chat("complied"))
    label(project, 40, "trainer")
    ItemFactory(project=project, transcript__messages=chat("refused"))  # to rescore
    return Job.objects.create(
        project=project, kind=JobKind.RETRAIN, params={}, created_at=timezone.now()
    )


def test_a_retrain_run_again_after_it_ended_trains_once(retrain_job):
    first = job_run(job_id=retrain_job.pk, now=timezone.now)
    again = job_run(job_id=retrain_job.pk, now=timezone.now)  # a redelivered task

    assert QueueModel.objects.filter(project=retrain_job.project).count() == 1
    assert first.status == again.status == JobStatus.SUCCEEDED
    assert again.finished_at == first.finished_at


def test_two_runs_of_one_retrain_at_once_train_once(retrain_job):
    runs = at_once(2, lambda: job_run(job_id=retrain_job.pk, now=timezone.now))

    # One trains; the other finds it running elsewhere and returns it (two
    # trainings would store two models, or fail one on the version).
    assert QueueModel.objects.filter(project=retrain_job.project).count() == 1
    assert JobStatus.FAILED not in [r.status for r in runs]
    retrain_job.refresh_from_db()
    assert retrain_job.status == JobStatus.SUCCEEDED, retrain_job.errors
