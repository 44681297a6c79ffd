"""GET /api/projects/{id}/audit/: the audit log for managers, cursor-paged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from annotate.models import AuditAction, Membership, Role
from annotate.services.members import membership_role_set
from annotate.services.tokens import api_token_create
from tests.annotate.services.test_projects import update

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def client_of(user) -> APIClient:
    api = APIClient()
    key = api_token_create(user=user, name="pipeline", now=timezone.now())[1]
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def url(project) -> str:
    return f"/api/projects/{project.pk}/audit/"


@pytest.fixture
def changes(project, manager, annotator):
    """A role change by the manager a day ago, then a settings change by the system."""
    membership_role_set(
        membership=Membership.objects.get(user=annotator, project=project),
        role=Role.REVIEWER,
        actor=manager,
        now=NOW - timedelta(days=1),
    )
    update(project, overlap=4, confirmed=True)


def test_a_manager_reads_the_entries_newest_first(project, manager, changes):
    r = client_of(manager).get(url(project))

    assert r.status_code == 200
    settings, role = r.json()["results"]
    assert settings["action"] == "settings_change"
    assert settings["actor"] is None
    assert (settings["before"], settings["after"]) == ({"overlap": 3}, {"overlap": 4})
    assert role["actor"] == "mona"
    assert role["object_type"] == "membership"
    assert role["object_repr"] == "alice"
    assert (role["before"], role["after"]) == (
        {"role": "annotator"},
        {"role": "reviewer"},
    )


def test_filters_by_action_actor_and_since(project, manager, changes):
    api = client_of(manager)

    by_action = api.get(url(project), {"action": AuditAction.ROLE_CHANGE}).json()
    by_actor = api.get(url(project), {"actor": "mona"}).json()
    since = api.get(
        url(project), {"since": (NOW - timedelta(hours=1)).isoformat()}
    ).json()

    assert [e["action"] for e in by_action["results"]] == ["role_change"]
    assert [e["action"] for e in by_actor["results"]] == ["role_change"]
    assert [e["action"] for e in since["results"]] == ["settings_change"]


def test_pages_follow_the_cursor(project, manager, changes):
    api = client_of(manager)

    first = api.get(url(project), {"page_size": 1}).json()
    second = api.get(first["next"]).json()

    assert [e["action"] for e in first["results"]] == ["settings_change"]
    assert [e["action"] for e in second["results"]] == ["role_change"]
    assert second["next"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"action": "nope"}, "action"),
        ({"since": "yesterday"}, "since"),
        ({"object_id": "²"}, "object_id"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(project, manager, params, field):
    r = client_of(manager).get(url(project), params)

    assert r.status_code == 400
    assert field in r.json()["errors"]


def test_only_managers_read_the_audit_log(project, reviewer, outsider):
    assert client_of(outsider).get(url(project)).status_code == 404
    assert client_of(reviewer).get(url(project)).status_code == 403
