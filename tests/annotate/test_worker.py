"""Jobs run by a real Celery worker over Redis, as in production."""

from __future__ import annotations

import json
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotate.models import Job, Transcript
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

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

    job = Job.objects.get(project=project)
    assert r.status_code == 302
    job = wait_for(job)
    assert job.status == "succeeded", job.errors
    assert job.result["imported"] == 25
    assert job.started_at is not None
    assert Transcript.objects.filter(project=project).count() == 25
