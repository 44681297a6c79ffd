from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from annotate.models import Job, JobKind, Transcript

# transaction=True: queued jobs run (eagerly) when the view's transaction commits.
pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HX-Request": "true"}


def upload(name: str, body: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body, content_type="application/octet-stream")


def good_file() -> bytes:
    rows = [
        {"id": f"r{n}", "model": "m", "prompt": f"Q{n}?", "response": f"A{n}."}
        for n in range(3)
    ]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_a_manager_uploads_a_file_and_lands_on_the_finished_job(
    client, project, manager
):
    client.force_login(manager)

    r = client.post(
        f"/projects/{project.pk}/import/",
        {"file": upload("t.jsonl", good_file())},
        follow=True,
    )

    job = Job.objects.get(project=project, kind=JobKind.IMPORT)
    assert r.redirect_chain[-1][0] == f"/jobs/{job.pk}/"
    assert job.status == "succeeded"
    assert job.result["imported"] == 3
    assertContains(r, "Imported <strong>3</strong>")
    assert Transcript.objects.filter(project=project).count() == 3


def test_a_bad_file_shows_every_error_and_imports_nothing(client, project, manager):
    body = good_file() + b'{"prompt": "x"}\n'
    client.force_login(manager)

    r = client.post(
        f"/projects/{project.pk}/import/",
        {"file": upload("t.jsonl", body)},
        follow=True,
    )

    assertContains(r, "Nothing was imported")
    assertContains(r, "line 4")
    assertContains(r, "<strong>Failed</strong>: 1 error in line 4</p>", html=False)
    assertNotContains(r, "Failed</strong>: Importing")
    assert not Transcript.objects.exists()


def test_the_import_form_needs_a_file(client, project, manager):
    client.force_login(manager)

    r = client.post(f"/projects/{project.pk}/import/", {})

    assert r.status_code == 200
    assertContains(r, "This field is required")
    assert not Job.objects.exists()


def test_htmx_polling_gets_only_the_status_fragment(client, project, manager):
    client.force_login(manager)
    client.post(
        f"/projects/{project.pk}/import/", {"file": upload("t.jsonl", good_file())}
    )
    job = Job.objects.get(kind=JobKind.IMPORT)

    r = client.get(f"/jobs/{job.pk}/", headers=HTMX)

    assertTemplateUsed(r, "job-status")
    assert b"<html" not in r.content
    assertContains(r, 'id="job-status"')
    # A finished job stops the polling.
    assert b"hx-trigger" not in r.content


@pytest.mark.parametrize("role_fixture", ["annotator", "reviewer"])
def test_import_is_403_below_manager(client, project, role_fixture, request):
    client.force_login(request.getfixturevalue(role_fixture))

    assert client.get(f"/projects/{project.pk}/import/").status_code == 403
    r = client.post(
        f"/projects/{project.pk}/import/", {"file": upload("t.jsonl", good_file())}
    )
    assert r.status_code == 403
    assert not Transcript.objects.exists()


def test_import_and_jobs_are_404_for_outsiders(client, project, manager, outsider):
    client.force_login(manager)
    client.post(
        f"/projects/{project.pk}/import/", {"file": upload("t.jsonl", good_file())}
    )
    job = Job.objects.get(kind=JobKind.IMPORT)
    client.force_login(outsider)

    assert client.get(f"/projects/{project.pk}/import/").status_code == 404
    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    assert client.get("/jobs/999999/").status_code == 404


def test_transcript_text_in_errors_is_escaped(client, project, manager):
    body = b'{"messages": [{"role": "<script>alert(1)</script>", "content": "x"}]}\n'
    client.force_login(manager)

    r = client.post(
        f"/projects/{project.pk}/import/",
        {"file": upload("t.jsonl", body)},
        follow=True,
    )

    assert b"<script>alert(1)</script>" not in r.content
    assertContains(r, "&lt;script&gt;")


def test_the_job_page_says_why_each_duplicate_was_skipped(client, project, manager):
    client.force_login(manager)
    body = (
        good_file()
        + json.dumps(
            {"id": "r1", "model": "m", "prompt": "Q?", "response": "A."}
        ).encode()
        + b"\n"
    )

    r = client.post(
        f"/projects/{project.pk}/import/",
        {"file": upload("t.jsonl", body)},
        follow=True,
    )

    assertContains(r, "skipped <strong>1</strong> duplicates")
    assertContains(r, "Line 4 (r1): repeated id r1 (line 2)")


def test_a_retrain_on_demand_is_for_managers(
    client, project, manager, reviewer, annotator, outsider
):
    url = f"/projects/{project.pk}/queue/retrain/"
    client.force_login(outsider)
    assert client.post(url).status_code == 404
    for member in (annotator, reviewer):
        client.force_login(member)
        assertContains(client.post(url), "needs the manager role", status_code=403)
    assert not Job.objects.filter(kind=JobKind.RETRAIN).exists()
    client.force_login(manager)

    r = client.post(url)

    job = Job.objects.get(kind=JobKind.RETRAIN)
    assert r.status_code == 302
    assert r["Location"] == f"/jobs/{job.pk}/"
    assert client.get(url).status_code == 405
