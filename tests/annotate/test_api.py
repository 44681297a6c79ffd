from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate.models import Transcript
from tests.factories import ProjectFactory

# transaction=True: queued jobs run (eagerly) when the view's transaction commits.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api():
    return APIClient()


def jsonl_file(n: int = 2, bad_line: int | None = None) -> SimpleUploadedFile:
    lines = [json.dumps({"prompt": f"Q{i}?", "response": f"A{i}."}) for i in range(n)]
    if bad_line:
        lines[bad_line - 1] = "{not json"
    return SimpleUploadedFile("t.jsonl", ("\n".join(lines) + "\n").encode())


def test_projects_lists_only_mine_with_my_role(api, project, reviewer):
    ProjectFactory(name="Hidden")
    api.force_authenticate(reviewer)

    r = api.get("/api/projects/")

    assert r.status_code == 200
    assert [(p["name"], p["role"]) for p in r.json()["results"]] == [
        (project.name, "reviewer")
    ]
    assert r.json()["results"][0]["label_set"] == "refusal-v1"


def test_token_authentication_works(api, project, annotator):
    token = Token.objects.create(user=annotator)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    assert api.get(f"/api/projects/{project.pk}/").json()["id"] == project.pk


def test_anonymous_gets_401_or_403_with_the_error_body(api, project):
    r = api.get("/api/projects/")

    assert r.status_code in (401, 403)
    assert set(r.json()) == {"detail", "errors"}


def test_an_outsider_gets_404(api, project, outsider):
    api.force_authenticate(outsider)

    r = api.get(f"/api/projects/{project.pk}/")

    assert r.status_code == 404
    assert r.json() == {"detail": "Not found.", "errors": {}}


def test_import_runs_as_a_job_and_reports_the_summary(api, project, manager):
    api.force_authenticate(manager)

    r = api.post(
        f"/api/projects/{project.pk}/imports/",
        {"file": jsonl_file(3)},
        format="multipart",
    )

    assert r.status_code == 202
    body = r.json()
    assert r["Location"] == f"/api/jobs/{body['id']}/"
    assert body["status"] == "succeeded"
    assert body["result"]["imported"] == 3
    assert api.get(r["Location"]).json()["status"] == "succeeded"


def test_a_bad_import_fails_the_job_with_the_line(api, project, manager):
    api.force_authenticate(manager)

    r = api.post(
        f"/api/projects/{project.pk}/imports/",
        {"file": jsonl_file(10, bad_line=7)},
        format="multipart",
    )

    body = r.json()
    assert body["status"] == "failed"
    assert "line 7" in body["errors"][0]
    assert not Transcript.objects.exists()


def test_import_without_a_file_is_400_naming_the_field(api, project, manager):
    api.force_authenticate(manager)

    r = api.post(f"/api/projects/{project.pk}/imports/", {}, format="multipart")

    assert r.status_code == 400
    assert "file" in r.json()["errors"]


def test_import_with_an_unknown_format_is_400_naming_the_field(api, project, manager):
    api.force_authenticate(manager)

    r = api.post(
        f"/api/projects/{project.pk}/imports/",
        {"file": jsonl_file(), "format": "xml"},
        format="multipart",
    )

    assert r.status_code == 400
    assert "format" in r.json()["errors"]


def test_import_is_403_for_annotators_and_404_for_outsiders(
    api, project, annotator, outsider
):
    api.force_authenticate(annotator)
    assert (
        api.post(
            f"/api/projects/{project.pk}/imports/", {"file": jsonl_file()}
        ).status_code
        == 403
    )
    api.force_authenticate(outsider)
    assert (
        api.post(
            f"/api/projects/{project.pk}/imports/", {"file": jsonl_file()}
        ).status_code
        == 404
    )
    assert not Transcript.objects.exists()
