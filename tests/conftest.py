"""Shared fixtures: personas (annotator, other_annotator, reviewer, manager, outsider)
and the rules for tests that need real services.

A test that needs PostgreSQL, Redis or Chromium skips on a laptop without them,
saying so, but fails in CI (CI=true), where every service must be there.
"""

from __future__ import annotations

import os

import pytest
from django.db import connection

from tests.factories import MembershipFactory, ProjectFactory, UserFactory

# Playwright's sync API runs an event loop in the test thread; Django's ORM
# refuses to run there unless told the loop is not serving requests.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

IN_CI = os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> None:
    """Skip on a laptop; in CI a missing service is a failure, never a skip."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required, not skipped)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _needs_postgres(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL: set DATABASE_URL=postgres://...")


@pytest.fixture
def project(db):
    return ProjectFactory()


def _member(project, role: str, username: str):
    user = UserFactory(username=username)
    MembershipFactory(user=user, project=project, role=role)
    return user


@pytest.fixture
def annotator(project):
    return _member(project, "annotator", "alice")


@pytest.fixture
def other_annotator(project):
    return _member(project, "annotator", "bob")


@pytest.fixture
def reviewer(project):
    return _member(project, "reviewer", "rita")


@pytest.fixture
def manager(project):
    return _member(project, "manager", "mona")


@pytest.fixture
def outsider(db):
    return UserFactory(username="charlie")
