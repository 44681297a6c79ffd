"""The label and decision imports over the API: a file or the body, 201 with counts, 400 naming lines."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from annotate.models import Annotation, Decision
from tests.factories import ItemFactory
from tests.labelling import labels

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def items(project):
    return [
        ItemFactory(project=project, transcript__external_id=f"t-{n}") for n in range(2)
    ]


def lines(*records: object) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


LABELS = [
    {"id": "t-0", "annotator": "dora", "values": labels("policy")},
    {"id": "t-1", "annotator": "dora", "values": labels("capability")},
]


def test_a_manager_uploads_labels(api, project, items, manager):
    api.force_authenticate(manager)

    r = api.post(
        f"/api/projects/{project.pk}/annotations/import/",
        {"file": SimpleUploadedFile("labels.jsonl", lines(*LABELS))},
        format="multipart",
    )

    assert r.status_code == 201, r.json()
    assert r.json() == {"stored": 2, "items": 2, "annotators_created": ["dora"]}
    assert Annotation.objects.count() == 2


def test_labels_come_as_a_json_lines_or_json_body_too(api, project, items, manager):
    api.force_authenticate(manager)
    url = f"/api/projects/{project.pk}/annotations/import/"

    first = api.post(url, lines(LABELS[0]), content_type="application/x-ndjson")
    second = api.post(url, [LABELS[1]], format="json")

    assert (first.status_code, second.status_code) == (201, 201)
    assert Annotation.objects.count() == 2


def test_a_bad_line_is_a_400_naming_it_and_nothing_is_stored(
    api, project, items, manager
):
    api.force_authenticate(manager)
    bad = {"id": "t-1", "annotator": "dora", "values": {"refusal_type": "nope"}}

    r = api.post(
        f"/api/projects/{project.pk}/annotations/import/",
        lines(LABELS[0], bad),
        content_type="application/x-ndjson",
    )

    assert r.status_code == 400
    body = r.json()
    assert body["detail"].startswith("The file was not imported: 1 error")
    assert body["errors"]["file"][0].startswith("line 2, values: ")
    assert not Annotation.objects.exists()


def test_no_file_is_a_400_naming_the_field(api, project, manager):
    api.force_authenticate(manager)

    r = api.post(
        f"/api/projects/{project.pk}/annotations/import/", {}, format="multipart"
    )

    assert r.status_code == 400
    assert "file" in r.json()["errors"]


def test_a_reviewer_may_import_decisions_but_not_labels(api, project, items, reviewer):
    api.force_authenticate(reviewer)

    labels_r = api.post(
        f"/api/projects/{project.pk}/annotations/import/", LABELS, format="json"
    )
    decisions_r = api.post(
        f"/api/projects/{project.pk}/decisions/import/",
        [{"id": "t-0", "values": labels("policy"), "reason": "clear"}],
        format="json",
    )

    assert labels_r.status_code == 403
    assert decisions_r.status_code == 201, decisions_r.json()
    assert decisions_r.json() == {"stored": 1}
    assert Decision.objects.get().reviewer == reviewer


def test_an_annotator_may_not_import_decisions(api, project, items, annotator):
    api.force_authenticate(annotator)

    r = api.post(
        f"/api/projects/{project.pk}/decisions/import/",
        [{"id": "t-0", "values": labels("policy"), "reason": "clear"}],
        format="json",
    )

    assert r.status_code == 403
    assert not Decision.objects.exists()


def test_a_bad_decision_is_a_400_naming_its_line(api, project, items, reviewer):
    api.force_authenticate(reviewer)

    r = api.post(
        f"/api/projects/{project.pk}/decisions/import/",
        [{"id": "t-0", "values": labels("policy")}],
        format="json",
    )

    assert r.status_code == 400
    assert r.json()["errors"]["file"] == ["line 1, reason: missing: say why"]


def test_the_commands_import_labels_then_decisions(project, items, reviewer, tmp_path):
    labels_file = tmp_path / "labels.jsonl"
    labels_file.write_bytes(lines(*LABELS))
    decisions_file = tmp_path / "decisions.jsonl"
    decisions_file.write_bytes(
        lines({"id": "t-0", "values": labels("policy"), "reason": "clear"})
    )

    call_command("import_annotations", "--project", project.name, str(labels_file))
    call_command(
        "import_decisions",
        "--project",
        str(project.pk),
        "--reviewer",
        "rita",
        str(decisions_file),
    )

    assert Annotation.objects.count() == 2
    assert Decision.objects.get().reviewer == reviewer


def test_the_command_lists_the_bad_lines(project, items, tmp_path):
    bad = tmp_path / "labels.jsonl"
    bad.write_bytes(lines(LABELS[0], {"id": "t-9", "annotator": "dora", "values": {}}))

    with pytest.raises(CommandError, match=r"line 2, id: 't-9': no such transcript"):
        call_command("import_annotations", "--project", project.name, str(bad))
    assert not Annotation.objects.exists()


def test_decisions_need_a_reviewer_of_the_project(project, items, annotator, tmp_path):
    f = tmp_path / "decisions.jsonl"
    f.write_bytes(lines({"id": "t-0", "values": labels("policy"), "reason": "x"}))

    with pytest.raises(CommandError, match="--reviewer"):
        call_command(
            "import_decisions", "--project", project.name, "--reviewer", "alice", str(f)
        )
