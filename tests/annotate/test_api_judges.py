"""POST /api/projects/{id}/judgements/: a judge's labels, as import_judgements."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotate.models import Annotation
from tests.factories import ItemFactory
from tests.labelling import labels

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(manager):
    client = APIClient()
    client.force_authenticate(manager)
    return client


@pytest.fixture
def items(project):
    return [
        ItemFactory(project=project, transcript__external_id=f"t-{n}") for n in range(2)
    ]


def url(project) -> str:
    return f"/api/projects/{project.pk}/judgements/"


def test_a_json_body_is_stored_as_the_judges_labels(api, project, items):
    r = api.post(
        url(project),
        {
            "judge": "gpt-judge",
            "judgements": [
                {"id": "t-0", "values": labels("policy")},
                {"id": "t-1", "values": labels("none")},
            ],
        },
        format="json",
    )

    assert r.status_code == 201
    assert r.json() == {"judge": "gpt-judge", "stored": 2, "replaced": 0}
    judged = Annotation.objects.filter(is_human=False)
    assert {a.annotator.username for a in judged} == {"judge-gpt-judge"}
    assert judged.count() == 2


def test_a_file_upload_replaces_the_judges_earlier_labels(api, project, items):
    line = json.dumps({"id": "t-0", "values": labels("policy")})
    for _ in range(2):
        r = api.post(
            url(project),
            {
                "judge": "clf",
                "file": SimpleUploadedFile("j.jsonl", (line + "\n").encode()),
            },
            format="multipart",
        )

    assert r.status_code == 201
    assert r.json() == {"judge": "clf", "stored": 1, "replaced": 1}


def test_one_bad_line_refuses_the_whole_file_naming_the_line(api, project, items):
    body = "\n".join(
        [
            json.dumps({"id": "t-0", "values": labels("policy")}),
            json.dumps({"id": "nope", "values": labels("policy")}),
        ]
    )

    r = api.post(
        url(project),
        {"judge": "clf", "file": SimpleUploadedFile("j.jsonl", body.encode())},
        format="multipart",
    )

    assert r.status_code == 400
    assert r.json()["detail"].startswith("The file was not imported: 1 error")
    assert r.json()["errors"]["file"] == [
        "line 2: id 'nope': no such transcript in this project"
    ]
    assert not Annotation.objects.exists()


def test_values_outside_the_label_set_are_refused_with_the_row(api, project, items):
    r = api.post(
        url(project),
        {
            "judge": "clf",
            "judgements": [{"id": "t-0", "values": {"refusal_type": "nonsense"}}],
        },
        format="json",
    )

    assert r.status_code == 400
    assert r.json()["errors"]["judgements"][0].startswith("line 1: values:")
    assert not Annotation.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"judgements": [{"id": "t-0", "values": {}}]}, "judge"),
        ({"judge": "clf", "judgements": []}, "judgements"),
        ({"judge": "clf", "judgements": [{"id": "t-0"}]}, "judgements[0].values"),
        ({"judge": "no spaces", "judgements": [{"id": "t-0", "values": {}}]}, "judge"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(api, project, items, body, field):
    r = api.post(url(project), body, format="json")

    assert r.status_code == 400
    assert field in r.json()["errors"]


def test_an_upload_without_a_file_names_it(api, project, items):
    r = api.post(url(project), {"judge": "clf"}, format="multipart")

    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["file"]


def test_a_reviewer_may_not_import_judgements(project, reviewer, items):
    client = APIClient()
    client.force_authenticate(reviewer)

    r = client.post(
        url(project),
        {"judge": "clf", "judgements": [{"id": "t-0", "values": labels("policy")}]},
        format="json",
    )

    assert r.status_code == 403
    assert not Annotation.objects.exists()
