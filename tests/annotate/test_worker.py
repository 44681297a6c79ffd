"""Jobs run by a real Celery worker over Redis, as in production."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from annotate import tasks
from annotate.models import Assignment, Item, Job, JobKind, Membership, Transcript
from annotate.services.queue import item_claim_next
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.celery_worker,
    pytest.mark.postgres,
]


def wait_for(job: Job, seconds: float = 60) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        time.sleep(0.2)
    pytest.fail(f"job {job.pk} still {job.status} after {seconds}s")


def test_the_worker_runs_at_a_lower_priority_than_the_pages(celery_worker):
    # At least WORKER_NICENESS: a niceness it inherited higher stays.
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    theirs = os.getpriority(os.PRIO_PROCESS, celery_worker.pid)
    assert settings.WORKER_NICENESS == 10
    assert theirs == max(ours, 10)


def test_an_uploaded_import_runs_in_the_worker(client, celery_worker):
    project = ProjectFactory()
    manager = UserFactory(username="mona")
    MembershipFactory(user=manager, project=project, role="manager")
    rows = [{"prompt": f"Q{i}?", "response": f"A{i}.", "model": "m"} for i in range(25)]
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    client.force_login(manager)

    r = client.post(
        f"/projects/{project.pk}/import/", {"file": SimpleUploadedFile("t.jsonl", body)}
    )

    job = Job.objects.get(project=project, kind=JobKind.IMPORT)
    assert r.status_code == 302
    job = wait_for(job)
    assert job.status == "succeeded", job.errors
    assert job.result["imported"] == 25
    assert job.started_at is not None
    assert Transcript.objects.filter(project=project).count() == 25


def test_the_periodic_expiry_runs_in_the_worker_and_returns_slots(celery_worker):
    project = ProjectFactory(lease=timedelta(seconds=1))
    item = ItemFactory(project=project)
    membership = MembershipFactory(user=UserFactory(username="ann"), project=project)
    claimed = item_claim_next(
        membership=Membership.objects.select_related("project").get(pk=membership.pk),
        now=timezone.now() - timedelta(seconds=10),
    )
    assert claimed is not None
    schedule = settings.CELERY_BEAT_SCHEDULE["expire-claims"]
    assert schedule["task"] == tasks.assignments_expire.name

    tasks.assignments_expire.delay()

    deadline = time.monotonic() + 60
    while Assignment.objects.get(pk=claimed.pk).status == "live":
        assert time.monotonic() < deadline, "the worker did not expire the claim"
        time.sleep(0.2)
    assert Item.objects.get(pk=item.pk).slots_left == project.overlap


def test_the_periodic_sweep_fails_a_job_whose_worker_died_for_good(celery_worker):
    """No session holds the job's run lock: its worker is gone."""
    then = timezone.now() - timedelta(days=1)
    job = Job.objects.create(
        project=ProjectFactory(),
        kind=JobKind.EXPORT,
        params={"fmt": "jsonl"},
        status="running",
        created_at=then,
        started_at=then,
    )
    schedule = settings.CELERY_BEAT_SCHEDULE["fail-stale-jobs"]
    assert schedule["task"] == tasks.jobs_fail_stale.name

    tasks.jobs_fail_stale.delay()

    job = wait_for(job)
    assert job.status == "failed"
    assert "time limit" in job.errors[0]


def test_agreement_is_computed_by_the_worker_while_the_api_answers_202(celery_worker):
    from rest_framework.test import APIClient

    from tests.annotate.views.test_agreement_page import labelled

    project = ProjectFactory()
    labelled(project)
    reviewer = UserFactory(username="rita")
    MembershipFactory(user=reviewer, project=project, role="reviewer")
    api = APIClient()
    api.force_authenticate(reviewer)
    url = f"/api/projects/{project.pk}/agreement/?resamples=100"

    queued = api.post(url)

    assert queued.status_code == 202
    assert api.get(url).status_code == 404  # not computed yet
    job = wait_for(Job.objects.get(pk=queued.json()["id"]))
    assert job.status == "succeeded", job.errors
    done = api.get(url)
    assert done.status_code == 200
    assert done.json()["job"] == job.pk
    assert done.json()["counts"]["annotations"] == 18
