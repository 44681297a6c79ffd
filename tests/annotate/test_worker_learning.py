"""The active-learning queue's retrain and rescore, run by a real Celery worker
over Redis (not eager), as in production."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from annotate.models import Item, Job, JobKind, JobStatus, Project, QueueModel
from annotate.services.learning import queue_job_create
from tests.annotate.test_worker import wait_for
from tests.factories import ItemFactory, ProjectFactory, chat
from tests.labelling import claim, labels, new_annotator, submit

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.celery_worker,
    pytest.mark.postgres,
]


def label(project: Project, n: int, name: str) -> None:
    """One annotator labels the project's next n items as what they are: a
    refusal "policy", an answer "none"."""
    user = new_annotator(project, name)
    for _ in range(n):
        assignment = claim(user, project)
        assert assignment is not None
        text = assignment.item.transcript.messages_json
        assert "all of" not in text, "a hedged item was served for training"
        submit(assignment, labels("policy" if "sorry" in text else "none"))


def wait_for_job(project: Project, kind: JobKind, seconds: float = 25) -> Job:
    """The project's job of `kind` once one exists (the worker creates it)."""
    deadline = time.monotonic() + seconds
    while (job := Job.objects.filter(project=project, kind=kind).first()) is None:
        if time.monotonic() > deadline:
            pytest.fail(f"no {kind} job for project {project.pk} after {seconds}s")
        time.sleep(0.2)
    return job


def test_a_retrain_queued_from_the_project_page_trains_and_rescores_in_the_worker(
    celery_worker,
):
    project = ProjectFactory(overlap=1, queue_settings={"exploration": 0.0})
    # 40 labels in two classes for each target field: 20 refusals, 20 answers.
    for _ in range(20):
        ItemFactory(project=project, transcript__messages=chat("refused"))
        ItemFactory(project=project, transcript__messages=chat("complied"))
    label(project, 40, "trainer")
    # The pool the model then ranks: clear cases and hedged ones.
    clear = [ItemFactory(project=project, transcript__messages=chat("refused")).pk]
    clear += [ItemFactory(project=project, transcript__messages=chat("complied")).pk]
    clear += [ItemFactory(project=project, transcript__messages=chat("refused")).pk]
    unsure = [ItemFactory(project=project, transcript__messages=chat("hedged")).pk]
    unsure += [ItemFactory(project=project, transcript__messages=chat("hedged")).pk]
    assert set(
        Item.objects.filter(project=project, slots_left__gt=0).values_list(
            "priority", flat=True
        )
    ) == {0.0}
    project.refresh_from_db()
    assert project.annotations_total == 40

    # What the project page's "Retrain now" does (views.manager.queue_retrain).
    job = queue_job_create(
        project=project, kind=JobKind.RETRAIN, created_by=None, now=timezone.now()
    )

    job = wait_for(job, seconds=25)
    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert job.started_at is not None
    model = QueueModel.objects.get(project=project)
    assert (model.version, model.heuristic, model.labels_used) == (1, False, 40)
    assert model.artefact is not None
    assert set(model.fields) == {"refusal_type", "appropriateness"}
    assert model.fields["refusal_type"]["classes"] == ["none", "policy"]
    assert model.fields["appropriateness"]["classes"] == [
        "appropriate_refusal",
        "under_refusal",
    ]
    assert {f["n_train"] for f in model.fields.values()} == {40}
    assert model.macro_f1 is not None
    assert model.macro_f1 > 0.9
    assert (job.result["model"], job.result["heuristic"]) == (1, False)
    # The rescore ran with the new model: every open item got a priority,
    # the hedged responses above every clear one.
    assert job.result["items_scored"] == model.items_scored == 5
    priority = dict(
        Item.objects.filter(project=project, slots_left__gt=0).values_list(
            "pk", "priority"
        )
    )
    assert all(p > 0 for p in priority.values())
    assert min(priority[i] for i in unsure) > max(priority[i] for i in clear)


def worker_caught_up() -> None:
    """Wait until the worker has run every task queued so far: it takes them
    in order, one at a time, so a job queued now ends after them."""
    other = ProjectFactory(queue_strategy="sequential")
    job = queue_job_create(
        project=other, kind=JobKind.RESCORE, created_by=None, now=timezone.now()
    )
    assert wait_for(job, seconds=25).status == JobStatus.SUCCEEDED, job.errors


def test_every_nth_label_queues_a_retrain_that_the_worker_trains(celery_worker):
    project = ProjectFactory(
        overlap=1,
        queue_settings={"retrain_every": 6, "min_labels": 6, "exploration": 0.0},
    )
    for _ in range(3):
        ItemFactory(project=project, transcript__messages=chat("refused"))
        ItemFactory(project=project, transcript__messages=chat("complied"))
    pool = ItemFactory(project=project, transcript__messages=chat("hedged"))
    label(project, 5, "sixer")
    worker_caught_up()
    assert not Job.objects.filter(project=project).exists()

    # The sixth label queues tasks.queue_retrain on its commit; the worker
    # queues the retrain job and runs it.
    label(project, 1, "sixth")

    job = wait_for(wait_for_job(project, JobKind.RETRAIN), seconds=25)
    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert job.created_by is None  # queued by the task, not by a person
    assert Job.objects.filter(project=project, kind=JobKind.RETRAIN).count() == 1
    model = QueueModel.objects.get(project=project)
    assert (model.heuristic, model.labels_used) == (False, 6)
    assert {f["n_train"] for f in model.fields.values()} == {6}
    assert model.items_scored == 1
    assert Item.objects.get(pk=pool.pk).priority > 0
