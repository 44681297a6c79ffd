"""The label sets API: the ones the caller sees, with their versions; new
versions checked as the upload page and the command check them."""

from __future__ import annotations

import copy

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from labelsets.models import LabelSet, LabelSetVersion
from tests.annotate.views.test_manager_labelsets import TINY
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def test_the_list_holds_the_label_sets_of_my_projects(api, annotator, outsider):
    LabelSet.objects.create(name="private", created_by=UserFactory())
    api.force_authenticate(annotator)

    r = api.get("/api/label-sets/")

    assert r.status_code == 200
    assert [
        (s["name"], [v["number"] for v in s["versions"]]) for s in r.json()["results"]
    ] == [("refusal-v1", [1])]
    api.force_authenticate(outsider)
    assert api.get("/api/label-sets/").json()["results"] == []


def test_staff_see_every_label_set(api):
    LabelSet.objects.create(name="private", created_by=UserFactory())
    api.force_authenticate(UserFactory(is_staff=True))

    names = {s["name"] for s in api.get("/api/label-sets/").json()["results"]}

    assert {"refusal-v1", "private"} <= names


def test_the_detail_has_the_versions_and_is_a_404_to_outsiders(
    api, annotator, outsider
):
    api.force_authenticate(annotator)

    r = api.get("/api/label-sets/refusal-v1/")

    assert r.status_code == 200
    assert r.json()["versions"][0]["number"] == 1
    assert r.json()["may_add_version"] is False
    api.force_authenticate(outsider)
    assert api.get("/api/label-sets/refusal-v1/").status_code == 404


def test_a_manager_uploads_a_new_label_set_as_json_then_a_version(api, manager):
    api.force_authenticate(manager)

    r = api.post("/api/label-sets/tiny/versions/", TINY, format="json")

    assert r.status_code == 201, r.json()
    assert r.json() == {"name": "tiny", "number": 1, "created": True}
    again = api.post("/api/label-sets/tiny/versions/", TINY, format="json")
    assert (again.status_code, again.json()["created"]) == (200, False)
    changed = copy.deepcopy(TINY)
    changed["fields"][1]["options"].append({"value": "rude"})
    r = api.post("/api/label-sets/tiny/versions/", changed, format="json")
    assert r.json()["number"] == 2
    assert LabelSetVersion.objects.filter(label_set__name="tiny").count() == 2


def test_a_yaml_file_upload(api, manager):
    api.force_authenticate(manager)
    upload = SimpleUploadedFile("tiny.yaml", yaml.safe_dump(TINY).encode())

    r = api.post("/api/label-sets/tiny/versions/", {"file": upload})

    assert r.status_code == 201, r.json()
    assert LabelSet.objects.get(name="tiny").created_by == manager


def test_schema_errors_name_the_key_path(api, manager):
    api.force_authenticate(manager)
    bad = copy.deepcopy(TINY)
    bad["fields"][0]["options"][0]["hotkey"] = "too long"

    r = api.post("/api/label-sets/tiny/versions/", bad, format="json")

    assert r.status_code == 400
    assert any(
        path.startswith("fields[0].options[0]") for path in r.json()["errors"]
    ), r.json()
    assert not LabelSet.objects.filter(name="tiny").exists()


@pytest.mark.parametrize(
    ("upload", "field"),
    [
        (SimpleUploadedFile("t.yaml", b"\xff\xfe"), "file"),
        (SimpleUploadedFile("t.txt", b"name: tiny"), "file"),
        (SimpleUploadedFile("t.yaml", b"a: [unclosed"), "file"),
    ],
)
def test_a_bad_file_is_a_400_on_file(api, manager, upload, field):
    api.force_authenticate(manager)

    r = api.post("/api/label-sets/tiny/versions/", {"file": upload})

    assert r.status_code == 400
    assert field in r.json()["errors"]


def test_the_url_and_the_data_must_name_the_same_label_set(api, manager):
    api.force_authenticate(manager)

    r = api.post("/api/label-sets/other/versions/", TINY, format="json")

    assert r.status_code == 400
    assert "name" in r.json()["errors"]


def test_only_staff_add_versions_to_the_installations_label_set(api, manager):
    api.force_authenticate(manager)
    data = {**TINY, "name": "refusal-v1"}

    r = api.post("/api/label-sets/refusal-v1/versions/", data, format="json")

    assert r.status_code == 400
    assert "only the user who uploaded it" in r.json()["errors"]["name"][0]
    assert LabelSetVersion.objects.filter(label_set__name="refusal-v1").count() == 1


def test_an_annotator_cannot_upload(api, annotator):
    api.force_authenticate(annotator)

    r = api.post("/api/label-sets/tiny/versions/", TINY, format="json")

    assert r.status_code == 403
    assert not LabelSet.objects.filter(name="tiny").exists()


def test_an_annotator_is_refused_before_the_file_is_read(api, annotator):
    api.force_authenticate(annotator)
    upload = SimpleUploadedFile("t.yaml", b"a: [unclosed")

    r = api.post("/api/label-sets/tiny/versions/", {"file": upload})

    assert r.status_code == 403
