from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.utils import timezone

from annotate.models import Membership, Role
from annotate.services.members import membership_add

pytestmark = pytest.mark.django_db


def test_a_new_user_is_created_with_a_password_that_works(project):
    added = membership_add(
        now=timezone.now(), project=project, username="dana", role=Role.REVIEWER
    )

    assert added.created_user
    assert added.password
    assert authenticate(username="dana", password=added.password) is not None
    assert added.membership.role == "reviewer"


def test_adding_again_changes_the_role_and_creates_no_user(project, annotator):
    added = membership_add(
        now=timezone.now(),
        project=project,
        username=annotator.username,
        role=Role.MANAGER,
    )

    assert not added.created_user
    assert added.password is None
    assert Membership.objects.get(user=annotator, project=project).role == "manager"
    assert Membership.objects.filter(user=annotator).count() == 1


def test_a_retired_member_is_reactivated(project, annotator):
    Membership.objects.filter(user=annotator).update(is_active=False)

    membership_add(
        now=timezone.now(),
        project=project,
        username=annotator.username,
        role=Role.ANNOTATOR,
    )

    assert Membership.objects.get(user=annotator).is_active
