"""An import's uploaded file is deleted when its job ends, imported or
refused: failed imports' files no longer pile up under MEDIA_ROOT."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.utils import timezone

from annotate.models import Job, JobStatus, Transcript
from annotate.services.jobs import import_job_create, job_fail

pytestmark = pytest.mark.django_db

GOOD = b'{"prompt": "hi", "response": "hello"}\n'


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def uploads(settings) -> list[Path]:
    return list((Path(settings.MEDIA_ROOT) / "imports").iterdir())


def start(project, data: bytes, captured, *, run: bool = True) -> Job:
    with captured(execute=run):
        job = import_job_create(
            project=project,
            upload=io.BytesIO(data),
            filename="run.jsonl",
            fmt=None,
            created_by=None,
            now=timezone.now(),
        )
    job.refresh_from_db()
    return job


@pytest.mark.parametrize(
    "data",
    [
        GOOD + b'{"prompt": "a"}\n',  # a bad line: the import is refused
        GOOD + b'{"prompt": "a", "response": "b", "metadata": {"x": 1e400}}\n',
        b"",  # an empty file
        b"\xff\xfe not utf-8\n",
    ],
    ids=["bad-line", "infinite-number", "empty", "not-utf8"],
)
def test_a_failed_import_leaves_no_file(
    project, settings, django_capture_on_commit_callbacks, data
):
    job = start(project, data, django_capture_on_commit_callbacks)

    assert job.status == JobStatus.FAILED
    assert not Transcript.objects.exists()
    assert uploads(settings) == []


def test_a_succeeded_import_leaves_no_file(
    project, settings, django_capture_on_commit_callbacks
):
    job = start(project, GOOD, django_capture_on_commit_callbacks)

    assert job.status == JobStatus.SUCCEEDED
    assert uploads(settings) == []


def test_the_file_waits_for_its_job_and_goes_when_the_task_gives_up(
    project, settings, django_capture_on_commit_callbacks
):
    job = start(project, GOOD, django_capture_on_commit_callbacks, run=False)
    waiting = uploads(settings)

    job_fail(
        job_id=job.pk, message="The database stayed unreachable.", now=timezone.now()
    )

    assert len(waiting) == 1
    assert uploads(settings) == []


def test_a_file_outside_the_uploads_directory_is_never_deleted(
    project, settings, tmp_path, django_capture_on_commit_callbacks
):
    job = start(project, GOOD, django_capture_on_commit_callbacks, run=False)
    elsewhere = tmp_path / "precious.jsonl"
    elsewhere.write_bytes(GOOD)
    Job.objects.filter(pk=job.pk).update(params={**job.params, "path": str(elsewhere)})

    job_fail(job_id=job.pk, message="gave up", now=timezone.now())

    assert elsewhere.exists()
