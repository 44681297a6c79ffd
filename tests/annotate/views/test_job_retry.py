"""The job page and the API after a worker died for good: the job shows
failed past its time limit, and whoever may start such a job runs it again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains
from rest_framework.test import APIClient

from annotate.models import Job, JobKind, JobStatus

pytestmark = pytest.mark.django_db


def abandoned(project, kind=JobKind.RETRAIN) -> Job:
    """A job its worker started a day ago and never finished."""
    then = timezone.now() - timedelta(days=1)
    return Job.objects.create(
        project=project,
        kind=kind,
        params={},
        status=JobStatus.RUNNING,
        created_at=then,
        started_at=then,
    )


def test_the_page_shows_an_abandoned_job_failed_with_a_button_to_run_it_again(
    client, project, manager
):
    job = abandoned(project)
    client.force_login(manager)

    r = client.get(f"/jobs/{job.pk}/")

    assertContains(r, "Failed")
    assertContains(r, "past its time limit")
    assertContains(r, f'action="/jobs/{job.pk}/retry/"')
    assertContains(r, '<button type="submit">Run it again</button>', html=True)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED


def test_running_it_again_makes_a_new_job_and_shows_its_page(client, project, manager):
    job = abandoned(project)
    client.force_login(manager)
    client.get(f"/jobs/{job.pk}/")

    r = client.post(f"/jobs/{job.pk}/retry/")

    again = Job.objects.exclude(pk=job.pk).get()
    assert (again.kind, again.created_by) == (JobKind.RETRAIN, manager)
    assert r.status_code == 302
    assert r["Location"] == f"/jobs/{again.pk}/"


def test_a_reviewer_sees_a_failed_retrain_but_may_not_run_it_again(
    client, project, reviewer
):
    """Retrains are started by managers, so only they run one again."""
    job = abandoned(project)
    client.force_login(reviewer)

    page = client.get(f"/jobs/{job.pk}/")
    r = client.post(f"/jobs/{job.pk}/retry/")

    assertContains(page, "Failed")
    assertNotContains(page, "Run it again")
    assert r.status_code == 403
    assert Job.objects.count() == 1


def test_a_job_that_did_not_fail_is_not_run_again(client, project, manager):
    job = abandoned(project)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
    client.force_login(manager)

    r = client.post(f"/jobs/{job.pk}/retry/", follow=True)

    assertContains(r, "Only a failed job can be run again.")
    assert Job.objects.count() == 1


def test_the_api_shows_it_failed_and_runs_it_again(project, manager):
    job = abandoned(project, JobKind.EXPORT)
    Job.objects.filter(pk=job.pk).update(params={"fmt": "jsonl"})
    api = APIClient()
    api.force_authenticate(manager)

    polled = api.get(f"/api/jobs/{job.pk}/")
    r = api.post(f"/api/jobs/{job.pk}/retry/")
    refused = api.post(f"/api/jobs/{r.json()['id']}/retry/")

    assert polled.json()["status"] == "failed"
    assert r.status_code == 202
    assert r["Location"] == f"/api/jobs/{r.json()['id']}/"
    assert r.json()["kind"] == "export"
    assert Job.objects.get(pk=r.json()["id"]).params == {"fmt": "jsonl"}
    assert refused.status_code == 400
