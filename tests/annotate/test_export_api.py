"""Gold export through the API and the page: a job, then the files to download."""

from __future__ import annotations

import csv
import io

import orjson
import pytest
from pytest_django.asserts import assertContains
from rest_framework.test import APIClient

from annotate.models import Job
from tests.factories import ItemFactory

# transaction=True: the export job runs (eagerly) when the request commits.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def labelled_project(project, labelled):
    ItemFactory.create_batch(2, project=project)
    labelled(project, "policy", "policy", "policy")
    labelled(project, "scope", "scope", "capability")
    return project


def test_the_api_exports_and_serves_the_files(labelled_project, reviewer):
    api = APIClient()
    api.force_authenticate(reviewer)

    r = api.post(
        f"/api/projects/{labelled_project.pk}/exports/",
        {"format": "jsonl", "annotations": True},
        format="json",
    )

    assert r.status_code == 202
    job = r.json()
    assert r["Location"] == f"/api/jobs/{job['id']}/"
    assert job["status"] == "succeeded"
    assert job["result"]["rows"] == 2
    data = api.get(f"/api/jobs/{job['id']}/download/data/")
    manifest = api.get(f"/api/jobs/{job['id']}/download/manifest/")
    rows = [orjson.loads(line) for line in data.getvalue().splitlines()]
    assert [r["gold"]["refusal_type"]["value"] for r in rows] == ["policy", "scope"]
    assert all(len(r["annotations"]) == 3 for r in rows)
    assert orjson.loads(manifest.getvalue())["counts"]["rows"] == 2
    assert 'filename="' in data["Content-Disposition"]


@pytest.fixture
def tied_project(labelled_project, labelled):
    """labelled_project and a third item its three labels split three ways."""
    ItemFactory(project=labelled_project)
    labelled(labelled_project, "policy", "scope", "capability")
    return labelled_project


def test_the_api_leaves_unresolved_items_out_unless_asked(tied_project, reviewer):
    api = APIClient()
    api.force_authenticate(reviewer)
    url = f"/api/projects/{tied_project.pk}/exports/"

    default = api.post(url, {}, format="json").json()
    included = api.post(url, {"include_unresolved": True}, format="json").json()

    assert default["result"]["rows"] == 2
    assert default["result"]["left_out_unresolved"] == 1
    assert default["result"]["key_unresolved"] == 0
    assert included["result"]["rows"] == 3
    assert included["result"]["key_unresolved"] == 1
    assert included["result"]["left_out_unresolved"] is None
    data = api.get(f"/api/jobs/{included['id']}/download/data/")
    rows = [orjson.loads(line) for line in data.getvalue().splitlines()]
    assert [r["key_resolved"] for r in rows] == [True, True, False]
    manifest = api.get(f"/api/jobs/{default['id']}/download/manifest/")
    assert orjson.loads(manifest.getvalue())["counts"]["left_out_unresolved"] == 1


def test_the_page_has_the_include_unresolved_box_and_passes_it_on(
    client, tied_project, reviewer
):
    client.force_login(reviewer)

    page = client.get(f"/projects/{tied_project.pk}/export/")
    client.post(
        f"/projects/{tied_project.pk}/export/",
        {
            "format": "csv",
            "train": "0.8",
            "validation": "0.1",
            "test": "0.1",
            "include_unresolved": "on",
        },
    )
    job = Job.objects.get(kind="export")
    download = client.get(f"/jobs/{job.pk}/download/data/")

    assertContains(page, "Include items whose key field is unresolved")
    assertContains(page, 'name="include_unresolved"')
    assert job.params["include_unresolved"] is True
    assert job.result["rows"] == 3
    rows = csv.DictReader(io.StringIO(download.getvalue().decode(), newline=""))
    assert [r["key_resolved"] for r in rows] == ["true", "true", "false"]


def test_bad_options_are_400_with_field_messages(labelled_project, reviewer):
    api = APIClient()
    api.force_authenticate(reviewer)

    fmt = api.post(
        f"/api/projects/{labelled_project.pk}/exports/",
        {"format": "xml"},
        format="json",
    )
    ratios = api.post(
        f"/api/projects/{labelled_project.pk}/exports/",
        {"ratios": [0.5, 0.5, 0.5]},
        format="json",
    )

    assert fmt.status_code == 400
    assert "format" in fmt.json()["errors"]
    assert ratios.status_code == 400
    assert "ratios" in ratios.json()["errors"]
    assert not Job.objects.filter(kind="export").exists()


def test_annotators_get_403_outsiders_404_and_no_file_for_them(
    labelled_project, reviewer, annotator, outsider
):
    api = APIClient()
    api.force_authenticate(reviewer)
    job = api.post(f"/api/projects/{labelled_project.pk}/exports/", {}, format="json")
    job_id = job.json()["id"]

    api.force_authenticate(annotator)
    assert (
        api.post(f"/api/projects/{labelled_project.pk}/exports/", {}).status_code == 403
    )
    assert api.get(f"/api/jobs/{job_id}/download/data/").status_code == 403
    api.force_authenticate(outsider)
    assert api.get(f"/api/jobs/{job_id}/download/data/").status_code == 404
    api.force_authenticate(reviewer)
    assert api.get(f"/api/jobs/{job_id}/download/other/").status_code == 404


def test_the_page_starts_an_export_and_links_the_files(
    client, labelled_project, reviewer
):
    client.force_login(reviewer)

    page = client.get(f"/projects/{labelled_project.pk}/export/")
    r = client.post(
        f"/projects/{labelled_project.pk}/export/",
        {"format": "csv", "train": "0.8", "validation": "0.1", "test": "0.1"},
    )
    job = Job.objects.get(kind="export")
    detail = client.get(r["Location"])
    download = client.get(f"/jobs/{job.pk}/download/data/")

    assertContains(page, "Export gold")
    assert r["Location"] == f"/jobs/{job.pk}/"
    assertContains(detail, "Exported <strong>2</strong> gold rows")
    assertContains(detail, f"/jobs/{job.pk}/download/manifest/")
    assert download.getvalue().startswith(b"id,transcript_id")


def test_the_page_says_when_the_split_does_not_add_up(
    client, labelled_project, reviewer
):
    client.force_login(reviewer)

    r = client.post(
        f"/projects/{labelled_project.pk}/export/",
        {"format": "jsonl", "train": "0.8", "validation": "0.3", "test": "0.1"},
    )

    assertContains(r, "must add up to 1")
    assert not Job.objects.exists()
