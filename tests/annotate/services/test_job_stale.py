"""A job whose worker died for good is failed past its time limit, never
left running, and can be run again as a new job."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from annotate.models import Job, JobKind, JobStatus
from annotate.services.exports import export_paths
from annotate.services.jobs import (
    JOB_RUN_LOCK,
    job_retry,
    jobs_fail_stale,
)

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def running(project, kind=JobKind.EXPORT, *, minutes: float, params=None) -> Job:
    """A job its worker started `minutes` ago."""
    return Job.objects.create(
        project=project,
        kind=kind,
        params=params if params is not None else {"fmt": "jsonl"},
        status=JobStatus.RUNNING,
        created_at=NOW - timedelta(minutes=minutes),
        started_at=NOW - timedelta(minutes=minutes),
    )


def test_a_job_running_past_its_time_limit_is_failed_saying_why(project, settings):
    settings.JOB_TIME_LIMITS = {
        **settings.JOB_TIME_LIMITS,
        "export": timedelta(minutes=30),
    }
    stale = running(project, minutes=31)
    fresh = running(project, minutes=29)

    assert jobs_fail_stale(now=NOW) == 1
    assert jobs_fail_stale(now=NOW) == 0

    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == JobStatus.FAILED
    assert stale.finished_at == NOW
    assert "past its time limit of 30 min" in stale.errors[0]
    assert "worker stopped" in stale.errors[0]
    assert fresh.status == JobStatus.RUNNING


def test_a_stale_exports_half_written_files_are_deleted(project, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    job = running(project, minutes=24 * 60)
    data, _ = export_paths(job)
    data.parent.mkdir(parents=True)
    part = data.with_name(data.name + ".part")
    part.write_bytes(b'{"half": ')

    jobs_fail_stale(now=NOW)

    assert not part.exists()


@pytest.mark.postgres
def test_a_job_a_live_worker_still_runs_is_left_to_end(project):
    """The run lock is held by the worker's session for the whole run."""
    job = running(project, minutes=24 * 60)
    db = connection.settings_dict
    worker = psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=True,
    )
    try:
        worker.execute("SELECT pg_advisory_lock(%s, %s)", [JOB_RUN_LOCK, job.pk])

        assert jobs_fail_stale(now=NOW) == 0
    finally:
        worker.close()
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    assert jobs_fail_stale(now=NOW) == 1  # its worker gone, the lock with it


def test_a_failed_job_runs_again_as_a_new_job_with_its_params(project, manager):
    failed = running(project, minutes=1, params={"fmt": "csv", "kind": "gold"})
    Job.objects.filter(pk=failed.pk).update(status=JobStatus.FAILED)
    failed.refresh_from_db()

    again = job_retry(job=failed, created_by=manager, now=NOW)

    assert again.pk != failed.pk
    assert (again.kind, again.params, again.status) == (
        JobKind.EXPORT,
        {"fmt": "csv", "kind": "gold"},
        JobStatus.QUEUED,
    )
    assert again.created_by == manager
    failed.refresh_from_db()
    assert failed.status == JobStatus.FAILED  # kept, for the record


@pytest.mark.parametrize("status", [JobStatus.RUNNING, JobStatus.SUCCEEDED])
def test_only_a_failed_job_runs_again(project, status):
    job = running(project, minutes=1)
    job.status = status

    with pytest.raises(ValidationError) as e:
        job_retry(job=job, created_by=None, now=NOW)

    assert e.value.code == "not_failed"
    assert Job.objects.count() == 1


def test_a_stale_import_keeps_its_upload_to_run_again(project, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = tmp_path / "imports" / "abc.jsonl"
    upload.parent.mkdir()
    upload.write_text('{"prompt": "Q?", "response": "A."}\n')
    job = running(
        project, JobKind.IMPORT, minutes=24 * 60, params={"path": str(upload)}
    )
    jobs_fail_stale(now=NOW)
    job.refresh_from_db()

    again = job_retry(job=job, created_by=None, now=NOW)

    assert upload.exists()
    assert again.params == {"path": str(upload)}
    upload.unlink()
    with pytest.raises(ValidationError) as e:
        job_retry(job=job, created_by=None, now=NOW)
    assert e.value.code == "missing_file"


def test_a_failed_retrain_runs_again_joining_the_live_one(project):
    failed = running(project, JobKind.RETRAIN, minutes=1, params={})
    Job.objects.filter(pk=failed.pk).update(status=JobStatus.FAILED)
    failed.refresh_from_db()

    first = job_retry(job=failed, created_by=None, now=NOW)
    second = job_retry(job=failed, created_by=None, now=NOW)

    assert first.kind == JobKind.RETRAIN
    assert second.pk == first.pk
