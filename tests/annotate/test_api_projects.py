"""The projects API: a cursor page, create, change settings (409 until a
change acting on items is confirmed), archive and unarchive."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotate.models import Membership, Project, Role
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def test_the_list_is_a_cursor_page(api, manager):
    for _ in range(3):
        MembershipFactory(user=manager, project=ProjectFactory(), role=Role.ANNOTATOR)
    api.force_authenticate(manager)

    first = api.get("/api/projects/", {"page_size": 2}).json()
    second = api.get(first["next"]).json()

    names = [p["name"] for p in first["results"] + second["results"]]
    assert len(names) == 4 == len(set(names))
    assert second["next"] is None


def test_a_manager_creates_a_project_and_manages_it(api, manager):
    api.force_authenticate(manager)

    r = api.post(
        "/api/projects/",
        {"name": "New one", "label_set": "refusal-v1", "overlap": 2, "blind": True},
        format="json",
    )

    assert r.status_code == 201, r.json()
    body = r.json()
    project = Project.objects.get(name="New one")
    assert body["id"] == project.pk
    assert (body["role"], body["overlap"], body["label_set_version"]) == (
        "manager",
        2,
        1,
    )
    assert project.queue_settings["blind"] is True
    assert Membership.objects.get(project=project, user=manager).role == Role.MANAGER


def test_an_annotator_cannot_create_a_project(api, annotator):
    api.force_authenticate(annotator)

    r = api.post("/api/projects/", {"name": "X", "label_set": "refusal-v1"})

    assert r.status_code == 403
    assert not Project.objects.filter(name="X").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "label_set": "refusal-v1"}, "name"),
        ({"name": "A", "label_set": "nope"}, "label_set"),
        ({"name": "A", "label_set": "refusal-v1", "label_set_version": 9}, "label_set"),
        (
            {"name": "A", "label_set": "refusal-v1", "label_set_version": "²"},
            "label_set_version",
        ),
        ({"name": "A", "label_set": "refusal-v1", "overlap": "²"}, "overlap"),
        ({"name": "A", "label_set": "refusal-v1", "overlap": 0}, "overlap"),
        (
            {"name": "A", "label_set": "refusal-v1", "prelabels": True, "blind": True},
            "prelabels",
        ),
    ],
)
def test_bad_settings_are_a_400_naming_the_field(api, manager, body, field):
    api.force_authenticate(manager)

    r = api.post("/api/projects/", body, format="json")

    assert r.status_code == 400, r.json()
    assert field in r.json()["errors"]
    assert not Project.objects.filter(name="A").exists()


def test_a_duplicate_name_is_the_services_400(api, manager, project):
    api.force_authenticate(manager)

    r = api.post(
        "/api/projects/",
        {"name": project.name, "label_set": "refusal-v1"},
        format="json",
    )

    assert r.status_code == 400
    assert "already exists" in r.json()["errors"]["name"][0]


def test_patch_changes_only_the_settings_sent(api, manager, project):
    api.force_authenticate(manager)

    r = api.patch(
        f"/api/projects/{project.pk}/", {"guidelines": "Be kind."}, format="json"
    )

    assert r.status_code == 200, r.json()
    project.refresh_from_db()
    assert (project.guidelines, project.overlap) == ("Be kind.", 3)


def test_a_change_with_consequences_is_a_409_until_confirmed(api, manager, project):
    ItemFactory(project=project, annotations_count=1)
    api.force_authenticate(manager)
    url = f"/api/projects/{project.pk}/"

    r = api.patch(url, {"overlap": 1}, format="json")

    assert r.status_code == 409
    assert "completes 1 items" in r.json()["errors"]["confirm"][0]
    project.refresh_from_db()
    assert project.overlap == 3

    r = api.patch(url, {"overlap": 1, "confirm": True}, format="json")

    assert r.status_code == 200
    assert r.json()["overlap"] == 1


def test_a_reviewer_cannot_change_settings(api, reviewer, project):
    api.force_authenticate(reviewer)

    r = api.patch(f"/api/projects/{project.pk}/", {"overlap": 5}, format="json")

    assert r.status_code == 403
    project.refresh_from_db()
    assert project.overlap == 3


def test_archive_and_unarchive(api, manager, project):
    api.force_authenticate(manager)

    r = api.post(f"/api/projects/{project.pk}/archive/")
    assert r.status_code == 200
    assert r.json()["archived_at"] is not None
    assert (
        api.patch(
            f"/api/projects/{project.pk}/", {"overlap": 5}, format="json"
        ).status_code
        == 400
    )

    r = api.post(f"/api/projects/{project.pk}/unarchive/")
    assert r.status_code == 200
    assert r.json()["archived_at"] is None
