"""The transcripts API: the browser's filters, each item's state (blind to
the caller's own items), one transcript; imports sent as the body."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from annotate.models import Job, JobKind, Transcript
from tests.factories import ItemFactory, ProjectFactory, TranscriptFactory
from tests.labelling import label


@pytest.fixture
def api():
    return APIClient()


def url(project) -> str:
    return f"/api/projects/{project.pk}/transcripts/"


@pytest.mark.django_db
def test_the_browsers_filters_as_query_parameters(api, project, reviewer):
    wanted = ItemFactory(
        project=project,
        transcript=TranscriptFactory(
            project=project, source_model="model-b", metadata={"lang": "fr"}
        ),
    )
    ItemFactory(project=project)
    api.force_authenticate(reviewer)

    by_model = api.get(url(project), {"source_model": "model-b"}).json()
    by_key = api.get(url(project), {"metadata_key": "lang", "metadata_value": "fr"})
    unlabelled = api.get(url(project), {"status": "unlabelled"}).json()

    assert [t["id"] for t in by_model["results"]] == [wanted.pk]
    assert [t["id"] for t in by_key.json()["results"]] == [wanted.pk]
    assert len(unlabelled["results"]) == 2
    assert unlabelled["results"][0]["item"]["status"] == "unlabelled"
    assert unlabelled["next"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "done"}, "status"),
        ({"metadata_value": "fr"}, "metadata_key"),
        ({"text": "x" * 501}, "text"),
    ],
)
def test_bad_filters_are_a_400_naming_them(api, project, reviewer, query, field):
    api.force_authenticate(reviewer)

    r = api.get(url(project), query)

    assert r.status_code == 400
    assert field in r.json()["errors"]


@pytest.mark.django_db
def test_a_page_size_that_is_no_number_is_no_500(api, project, reviewer):
    ItemFactory(project=project)
    api.force_authenticate(reviewer)

    r = api.get(url(project), {"page_size": "²"})

    assert r.status_code == 200
    assert len(r.json()["results"]) == 1


@pytest.mark.django_db
def test_counts_and_gold_and_nothing_of_an_item_i_label(api, project, reviewer):
    ItemFactory.create_batch(3, project=project)
    mine = label(reviewer, project, "policy").item
    api.force_authenticate(reviewer)

    rows = {t["id"]: t["item"] for t in api.get(url(project)).json()["results"]}

    assert rows[mine.pk] == {
        "seen": True,
        "status": None,
        "annotations_count": None,
        "overlap": 3,
        "gold": None,
        "adjudicated": None,
    }
    others = [row for pk, row in rows.items() if pk != mine.pk]
    assert [row["annotations_count"] for row in others] == [0, 0]
    detail = api.get(f"{url(project)}{mine.pk}/").json()
    assert detail["item"]["seen"] is True
    assert detail["item"]["annotations_count"] is None


@pytest.mark.django_db
def test_the_manager_sees_counts_but_no_annotator(api, project, manager, annotator):
    item = ItemFactory(project=project)
    label(annotator, project, "policy")
    api.force_authenticate(manager)

    r = api.get(f"{url(project)}{item.pk}/")

    assert r.status_code == 200
    assert r.json()["item"]["annotations_count"] == 1
    assert r.json()["item"]["status"] == "in_progress"
    assert r.json()["messages"][0]["role"] == "user"
    assert annotator.username not in r.content.decode()


@pytest.mark.django_db
def test_annotators_may_not_browse_and_other_projects_transcripts_are_404(
    api, project, annotator, reviewer
):
    elsewhere = ItemFactory(project=ProjectFactory())
    api.force_authenticate(annotator)
    assert api.get(url(project)).status_code == 403
    api.force_authenticate(reviewer)
    assert api.get(f"{url(project)}{elsewhere.pk}/").status_code == 404


# Imports as the body -------------------------------------------------------

ROWS = [{"prompt": f"Q{i}?", "response": f"A{i}."} for i in range(3)]


def imports(project) -> str:
    return f"/api/projects/{project.pk}/imports/"


@pytest.mark.django_db(transaction=True)
def test_a_json_array_body_is_imported_as_a_job(api, project, manager):
    api.force_authenticate(manager)

    r = api.post(imports(project), ROWS, format="json")

    assert r.status_code == 202, r.json()
    assert r.json()["status"] == "succeeded", r.json()
    assert r.json()["result"]["imported"] == 3
    assert Job.objects.get(kind=JobKind.IMPORT).params["filename"] == "body.json"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("media_type", ["application/x-ndjson", "application/jsonl"])
def test_a_json_lines_body_is_imported(api, project, manager, media_type):
    api.force_authenticate(manager)
    body = "\n".join(json.dumps(r) for r in ROWS) + "\n"

    r = api.post(imports(project), body, content_type=media_type)

    assert r.status_code == 202
    assert r.json()["result"]["imported"] == 3
    assert Transcript.objects.filter(project=project).count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_bad_line_fails_the_whole_body(api, project, manager):
    api.force_authenticate(manager)
    lines = [json.dumps(r) for r in ROWS]
    lines[1] = "{not json"

    r = api.post(
        imports(project), "\n".join(lines), content_type="application/x-ndjson"
    )

    assert r.json()["status"] == "failed"
    assert "line 2" in r.json()["errors"][0]
    assert not Transcript.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_empty_body_is_a_400(api, project, manager):
    api.force_authenticate(manager)

    r = api.post(imports(project), "", content_type="application/json")

    assert r.status_code == 400
    assert "body" in r.json()["errors"]
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_body_import_is_for_managers(api, project, reviewer):
    api.force_authenticate(reviewer)

    r = api.post(imports(project), ROWS, format="json")

    assert r.status_code == 403
    assert not Job.objects.exists()
