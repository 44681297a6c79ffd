"""A job whose message the broker lost (a Redis restarted empty, or down when
the job was made) is sent again, so it runs rather than stays queued."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotate.models import JobStatus
from annotate.services.exports import ExportOptions
from annotate.services.jobs import export_job_create, jobs_requeue_lost

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def later(settings, seconds: float):
    return NOW + timedelta(seconds=settings.CELERY_VISIBILITY_TIMEOUT + seconds)


def test_a_job_queued_past_the_visibility_timeout_is_sent_again_and_runs(
    project, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    # In the test's transaction the on-commit send never happens: as if the
    # broker lost the message.
    job = export_job_create(
        project=project, options=ExportOptions(), created_by=None, now=NOW
    )

    early = jobs_requeue_lost(now=later(settings, -1))
    sent = jobs_requeue_lost(now=later(settings, 1))
    job.refresh_from_db()
    again = jobs_requeue_lost(
        now=later(settings, 2 * settings.CELERY_VISIBILITY_TIMEOUT)
    )

    assert (early, sent, again) == (0, 1, 0)  # the last: it ran, nothing queued
    assert job.status == JobStatus.SUCCEEDED


def test_a_job_still_queued_is_sent_again_once_per_timeout(
    project, settings, tmp_path, request
):
    settings.MEDIA_ROOT = tmp_path
    job = export_job_create(
        project=project, options=ExportOptions(), created_by=None, now=NOW
    )
    request.getfixturevalue("unreachable_broker")

    jobs_requeue_lost(now=later(settings, 1))
    job.refresh_from_db()
    first = job.params["requeued_at"]
    jobs_requeue_lost(now=later(settings, 30))
    job.refresh_from_db()
    unchanged = job.params["requeued_at"]
    jobs_requeue_lost(now=later(settings, 2 + settings.CELERY_VISIBILITY_TIMEOUT))
    job.refresh_from_db()

    assert first == unchanged == later(settings, 1).isoformat()
    assert job.params["requeued_at"] != first  # a timeout on: tried again
    assert job.status == JobStatus.QUEUED  # the broker is still down
    assert job.params["fmt"] == "jsonl"  # its own params kept
