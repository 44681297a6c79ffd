"""Cursor pages stay true while rows are inserted between two pages: every
row there at the start comes exactly once, in order (an offset page would
repeat a row, or skip one, when a row lands before it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from annotate.models import Role
from tests.factories import ItemFactory, MembershipFactory, UserFactory
from tests.labelling import label

pytestmark = pytest.mark.django_db


def walk(
    api: APIClient, url: str, insert: Callable[[], None], page_size: int = 3
) -> list[Any]:
    """The ids of every page of `url`, inserting rows before each next page."""
    seen: list[Any] = []
    body = api.get(url, {"page_size": page_size}).json()
    while True:
        seen += [row["id"] for row in body["results"]]
        if body["next"] is None:
            return seen
        insert()
        body = api.get(body["next"]).json()


def test_transcripts_oldest_first_take_the_new_ones_at_the_end(project, reviewer):
    items = [ItemFactory(project=project) for _ in range(8)]
    api = APIClient()
    api.force_authenticate(reviewer)
    added: list[int] = []

    def insert() -> None:
        added.append(ItemFactory(project=project).pk)

    seen = walk(api, f"/api/projects/{project.pk}/transcripts/", insert)

    before = [i.pk for i in items]
    assert len(seen) == len(set(seen))
    assert seen[: len(before)] == before
    assert set(seen[len(before) :]) <= set(added)


def test_labels_newest_first_never_repeat_while_new_ones_arrive(project, manager):
    annotators = [
        MembershipFactory(project=project, user=UserFactory(), role=Role.ANNOTATOR).user
        for _ in range(9)
    ]
    for _ in range(3):
        ItemFactory(project=project)
    first = [label(a, project, "policy") for a in annotators[:7]]
    api = APIClient()
    api.force_authenticate(manager)
    late = iter(annotators[7:])

    def insert() -> None:
        # A new label lands at the head of a newest-first list, before the
        # cursor: it must not push an old one onto the next page again.
        annotator = next(late, None)
        if annotator is not None:
            label(annotator, project, "none")

    seen = walk(api, f"/api/projects/{project.pk}/annotations/", insert, page_size=2)

    assert seen == sorted((a.pk for a in first), reverse=True)


def test_members_pages_hold_each_member_once(project, manager):
    for _ in range(6):
        MembershipFactory(project=project, user=UserFactory())
    api = APIClient()
    api.force_authenticate(manager)
    at_start = api.get(f"/api/projects/{project.pk}/members/", {"page_size": 100})
    ids = [m["id"] for m in at_start.json()["results"]]

    def insert() -> None:
        MembershipFactory(project=project, user=UserFactory())

    seen = walk(api, f"/api/projects/{project.pk}/members/", insert)

    assert len(seen) == len(set(seen))
    assert seen[: len(ids)] == ids
