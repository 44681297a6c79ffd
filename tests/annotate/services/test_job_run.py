"""Every job ends, succeeded or failed, whatever its work raises."""

from __future__ import annotations

import pytest
from django.utils import timezone

from annotate.models import Job, JobKind, JobStatus
from annotate.services import jobs
from annotate.services.jobs import _failure_summary, job_fail, job_run

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def queued(project, kind=JobKind.CALIBRATION) -> Job:
    return Job.objects.create(project=project, kind=kind, params={}, created_at=NOW)


def test_a_job_whose_work_raises_anything_ends_failed_with_the_error(
    project, monkeypatch
):
    def broken(job, now):
        raise OverflowError("int too big to convert")

    monkeypatch.setitem(jobs._JOB_RUNNERS, JobKind.CALIBRATION, broken)
    job = queued(project)

    job_run(job_id=job.pk, now=timezone.now)

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.errors == ["OverflowError: int too big to convert"]
    assert job.result == {"message": "The job stopped on an unexpected error."}
    assert job.finished_at is not None


def test_a_job_the_task_gave_up_on_is_failed_and_a_finished_one_stays(project):
    stuck = queued(project)
    Job.objects.filter(pk=stuck.pk).update(status=JobStatus.RUNNING)
    done = queued(project)
    Job.objects.filter(pk=done.pk).update(status=JobStatus.SUCCEEDED)

    job_fail(job_id=stuck.pk, message="The database stayed unreachable.", now=NOW)
    job_fail(job_id=done.pk, message="The database stayed unreachable.", now=NOW)

    stuck.refresh_from_db()
    done.refresh_from_db()
    assert (stuck.status, stuck.errors) == (
        JobStatus.FAILED,
        ["The database stayed unreachable."],
    )
    assert done.status == JobStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("errors", "total", "summary"),
    [
        (["line 2: invalid JSON"], 1, "1 error in line 2"),
        (
            ["line 2, prompt: missing", "line 9: x", "line 5: y"],
            3,
            "3 errors in lines 2, 5 and 9",
        ),
        (
            [f"line {n}: x" for n in range(1, 8)],
            60,
            "60 errors in lines 1, 2, 3, 4, 5 and more",
        ),
        (["The file is empty."], 1, "1 error"),
    ],
)
def test_a_failed_jobs_header_counts_its_errors_and_names_their_lines(
    errors, total, summary
):
    assert _failure_summary(errors, total) == summary
