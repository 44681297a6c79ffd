"""An import's uploaded file is deleted when its job ends, imported or
refused: failed imports' files no longer pile up under MEDIA_ROOT."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from annotate import tasks
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


def test_prune_deletes_old_files_no_job_waits_for(
    project, settings, django_capture_on_commit_callbacks
):
    waiting = start(project, GOOD, django_capture_on_commit_callbacks, run=False)
    directory = Path(settings.MEDIA_ROOT) / "imports"
    old, recent = directory / "old.jsonl", directory / "recent.jsonl"
    old.write_bytes(GOOD)
    recent.write_bytes(GOOD)
    day_ago = (timezone.now() - timedelta(hours=25)).timestamp()
    os.utime(old, (day_ago, day_ago))
    os.utime(waiting.params["path"], (day_ago, day_ago))

    removed = tasks.uploads_prune()

    assert removed == 1
    assert sorted(p.name for p in uploads(settings)) == sorted(
        [recent.name, Path(waiting.params["path"]).name]
    )
    assert tasks.uploads_prune() == 0
