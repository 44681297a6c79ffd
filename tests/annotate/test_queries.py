"""Reads of the managers' workspace: who manages, which label sets one sees."""

from __future__ import annotations

import pytest
from django.utils import timezone

from annotate.queries import label_sets_visible_to, manages_projects
from labelsets.services import labelset_load
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def private(name: str, owner):
    version, _ = labelset_load(
        now=timezone.now(),
        created_by=owner,
        data={
            "name": name,
            "fields": [{"name": "ok", "kind": "single", "options": [{"value": "y"}]}],
        },
    )
    return version


def names(user) -> set[str]:
    return set(label_sets_visible_to(user).values_list("name", flat=True))


def test_managers_and_staff_manage_and_nobody_else(
    annotator, reviewer, manager, outsider
):
    assert manages_projects(manager)
    assert manages_projects(UserFactory(username="sam", is_staff=True))
    assert not any(manages_projects(u) for u in (annotator, reviewer, outsider))


def test_a_retired_manager_manages_nothing(project):
    user = UserFactory(username="old")
    MembershipFactory(user=user, project=project, role="manager", is_active=False)

    assert not manages_projects(user)


def test_label_sets_are_seen_by_their_uploader_their_projects_and_staff(
    project, manager, annotator, outsider
):
    mine = private("mine", manager)
    private("theirs", UserFactory(username="zed"))
    ProjectFactory(label_set_version=mine)

    assert names(manager) == {"refusal-v1", "mine"}
    # Through the project they are in; the shared ones are for managers only.
    assert names(annotator) == {"refusal-v1"}
    assert names(outsider) == set()
    staff = UserFactory(username="sam", is_staff=True)
    assert names(staff) == {"refusal-v1", "mine", "theirs"}


def test_a_project_that_uses_a_label_set_shows_it_to_its_members(annotator):
    theirs = private("theirs", UserFactory(username="zed"))
    using = ProjectFactory(label_set_version=theirs)
    MembershipFactory(user=annotator, project=using)

    assert "theirs" in names(annotator)


def test_every_manager_sees_the_installations_own_label_sets(db):
    boss = UserFactory(username="boss")
    theirs = private("theirs", boss)
    MembershipFactory(
        user=boss, project=ProjectFactory(label_set_version=theirs), role="manager"
    )

    assert names(boss) == {"refusal-v1", "theirs"}
