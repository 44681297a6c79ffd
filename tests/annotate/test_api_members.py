"""The members API: list, add (a new user's secret once), role, deactivate
and reactivate; a deactivated member's token is refused at once."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from rest_framework.test import APIClient

from annotate.models import Assignment, AssignmentStatus, Membership, Role
from tests import test_permissions as matrix
from tests.factories import UserFactory
from tests.labelling import claim

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(manager):
    client = APIClient()
    client.force_authenticate(manager)
    return client


def members_url(project) -> str:
    return f"/api/projects/{project.pk}/members/"


def test_the_list_is_a_page_of_every_member(api, project, manager, annotator):
    Membership.objects.filter(user=annotator).update(is_active=False)

    r = api.get(members_url(project))

    assert r.status_code == 200
    rows = {m["username"]: m for m in r.json()["results"]}
    assert set(rows) == {"mona", "alice"}
    assert rows["alice"]["is_active"] is False
    assert rows["alice"]["id"] == annotator.pk
    assert r.json()["next"] is None


def test_adding_someone_with_an_account(api, project, outsider):
    r = api.post(
        members_url(project), {"username": "charlie", "role": "reviewer"}, format="json"
    )

    assert r.status_code == 201, r.json()
    assert (r.json()["role"], r.json()["password"]) == ("reviewer", None)
    assert Membership.objects.get(user=outsider, project=project).role == "reviewer"


def test_a_new_user_gets_a_one_time_password_that_logs_in(api, project):
    r = api.post(members_url(project), {"username": "newbie"}, format="json")

    assert r.status_code == 201
    assert "no-cache" in r["Cache-Control"]
    password = r.json()["password"]
    assert User.objects.get(username="newbie").check_password(password)
    assert r.json()["invitation_url"] is None


def test_an_invitation_link_is_the_pages(api, project):
    r = api.post(
        members_url(project),
        {"email": "new@example.org", "credentials": "invitation"},
        format="json",
    )

    assert r.status_code == 201, r.json()
    url = r.json()["invitation_url"]
    assert url.startswith("http://testserver/")
    assert r.json()["password"] is None
    assert APIClient().get(url, follow=True).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "username"),
        ({"username": "alice"}, "username"),  # already a member
        ({"email": "not an email"}, "email"),
        ({"username": "x", "role": "boss"}, "role"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, project, annotator, body, field):
    before = Membership.objects.count()

    r = api.post(members_url(project), body, format="json")

    assert r.status_code == 400, r.json()
    assert field in r.json()["errors"]
    assert Membership.objects.count() == before


def test_role_change_and_the_last_manager(api, project, manager, annotator):
    url = f"{members_url(project)}{annotator.pk}/"

    r = api.patch(url, {"role": "reviewer"}, format="json")
    assert r.status_code == 200
    assert Membership.objects.get(user=annotator).role == Role.REVIEWER

    r = api.patch(
        f"{members_url(project)}{manager.pk}/", {"role": "annotator"}, format="json"
    )
    assert r.status_code == 400
    assert "role" in r.json()["errors"]
    assert Membership.objects.get(user=manager).role == Role.MANAGER


def test_deactivation_releases_claims_and_reactivation_gives_the_project_back(
    api, project, annotator
):
    from tests.factories import ItemFactory

    ItemFactory(project=project)
    assignment = claim(annotator, project)
    url = f"{members_url(project)}{annotator.pk}/"

    r = api.patch(url, {"is_active": False}, format="json")
    assert r.status_code == 200
    assert r.json()["is_active"] is False
    assert Assignment.objects.get(pk=assignment.pk).status == AssignmentStatus.EXPIRED

    r = api.patch(url, {"is_active": True}, format="json")
    assert r.json()["is_active"] is True
    assert Membership.objects.get(user=annotator).is_active


def test_a_member_of_another_project_is_a_404(api, project):
    stranger = UserFactory()

    r = api.patch(
        f"{members_url(project)}{stranger.pk}/", {"role": "reviewer"}, format="json"
    )

    assert r.status_code == 404


def test_a_deactivated_members_token_is_refused_at_once_everywhere(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    world = matrix.build_world()
    manager = APIClient()
    manager.credentials(HTTP_AUTHORIZATION=f"Token {world.keys['manager']}")
    r = manager.patch(
        reverse(
            "api:api-member",
            kwargs={"project_id": world.project, "member_id": world.users["annotator"]},
        ),
        {"is_active": False},
        format="json",
    )
    assert r.status_code == 200

    checked = []
    for name, route in matrix.ROUTES.items():
        if not matrix.is_api(name):
            continue
        for method, by_persona in route.methods.items():
            # The routes the annotator had, beyond the public ones.
            if by_persona["annotator"] != matrix.ALLOWED or by_persona["outsider"] == (
                matrix.ALLOWED
            ):
                continue
            r = matrix.request(
                world, name, method, "annotator", "token", route.kwargs(world)
            )
            assert r.status_code in (401, 404), f"{method} {name}: {r.status_code}"
            checked.append(name)
    assert {"api:api-project", "api:api-claim", "api:api-annotation"} <= set(checked)
    # The list of projects no longer shows it.
    annotator = APIClient()
    annotator.credentials(HTTP_AUTHORIZATION=f"Token {world.keys['annotator']}")
    assert annotator.get("/api/projects/").json()["results"] == []
