"""Labelling a project through the services, as the screens do: for tests."""

from __future__ import annotations

import uuid

from django.db import connection
from django.utils import timezone

from annotate.models import Membership
from annotate.services.queue import annotation_submit, item_claim_next
from tests.factories import MembershipFactory, UserFactory

NOW = timezone.now()


def submit_writes() -> int:
    """The queries of a submit's writes (the annotation, the claim's status,
    the item, member and project counters): one statement on PostgreSQL
    (rawsql.SUBMIT_SQL), five on SQLite."""
    return 1 if connection.vendor == "postgresql" else 5


def pin_statements() -> int:
    """The statements a claim's plan settings add, sent with its query in one
    round trip (rawsql.execute_pinned): three on PostgreSQL, none on SQLite."""
    return 3 if connection.vendor == "postgresql" else 0


def labels(refusal_type: str) -> dict[str, object]:
    """Valid refusal-v1 labels for a harmful request: a refusal with its
    ratings, or (for "none") a harmful compliance."""
    if refusal_type == "none":
        return {
            "request_harm": "harmful",
            "refusal_type": "none",
            "appropriateness": "under_refusal",
        }
    return {
        "request_harm": "harmful",
        "refusal_type": refusal_type,
        "appropriateness": "appropriate_refusal",
        "acknowledge": 4,
        "explain": 4,
        "redirect": 3,
        "respect": 5,
    }


def member(user, project) -> Membership:
    return Membership.objects.select_related("project__label_set_version").get(
        user=user, project=project
    )


def new_annotator(project, name: str):
    user = UserFactory(username=name)
    MembershipFactory(user=user, project=project)
    return user


def claim(user, project):
    return item_claim_next(membership=member(user, project), now=NOW)


def submit(assignment, values, client_uuid=None):
    annotation, _ = annotation_submit(
        assignment=assignment,
        values=values,
        client_uuid=client_uuid or uuid.uuid4(),
        seconds=3.0,
        now=NOW,
    )
    return annotation


def label(user, project, refusal_type: str):
    """Claim the project's next item as `user` and label it."""
    assignment = claim(user, project)
    assert assignment is not None
    return submit(assignment, labels(refusal_type))
