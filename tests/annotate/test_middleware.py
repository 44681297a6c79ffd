"""DatabaseUnavailableMiddleware: with the database unreachable (for real,
tests.outage), a page, an htmx request and an API request each answer a 503
with Retry-After, in their own form, never a 500."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from annotate.models import Annotation
from annotate.services.queue import item_claim_next
from tests.factories import ItemFactory
from tests.outage import database_unreachable

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
VALID = {
    "request_harm": "harmful",
    "refusal_type": "policy",
    "appropriateness": "appropriate_refusal",
    "acknowledge": "4",
    "explain": "4",
    "redirect": "3",
    "respect": "5",
}


def in_new_thread(request: Callable[[], Any]) -> Any:
    """The request on a thread of its own, so on a connection of its own,
    opened while the database is unreachable."""
    out: list[Any] = []
    with database_unreachable():
        thread = threading.Thread(target=lambda: out.append(request()))
        thread.start()
        thread.join()
    return out[0]


@pytest.fixture
def assignment(project, annotator):
    ItemFactory(project=project)
    return item_claim_next(membership=annotator.memberships.get(), now=timezone.now())


def test_a_page_answers_the_sites_503_page(project, annotator):
    client = Client(raise_request_exception=False)
    client.force_login(annotator)

    r = in_new_thread(lambda: client.get(f"/projects/{project.pk}/label/"))

    assert r.status_code == 503
    assert r["Retry-After"] == "5"
    assert r["Content-Type"].startswith("text/html")
    body = r.content.decode()
    assert "Unavailable for a moment" in body
    assert "css/app." in body  # the site's page, in its style
    assert "Traceback" not in body


def test_an_htmx_submit_answers_503_and_stores_nothing(assignment, annotator):
    client = Client(raise_request_exception=False)
    client.force_login(annotator)
    data = {**VALID, "client_uuid": str(uuid.uuid4())}

    r = in_new_thread(
        lambda: client.post(f"/assignments/{assignment.pk}/submit/", data, headers=HTMX)
    )

    assert r.status_code == 503
    assert r["Retry-After"] == "5"
    assert "try again in a few seconds" in r.content.decode()
    assert not Annotation.objects.exists()
    # Once it is back, the same submit is stored.
    r = client.post(f"/assignments/{assignment.pk}/submit/", data, headers=HTMX)
    assert r.status_code == 200
    assert Annotation.objects.get().client_uuid == uuid.UUID(data["client_uuid"])


def test_an_api_request_answers_the_error_body(assignment, annotator):
    api = APIClient(raise_request_exception=False)
    api.force_authenticate(annotator)
    body = {"values": VALID, "client_uuid": str(uuid.uuid4())}

    r = in_new_thread(
        lambda: api.post(
            f"/api/assignments/{assignment.pk}/annotation/", body, format="json"
        )
    )

    assert r.status_code == 503
    assert r["Retry-After"] == "5"
    assert r["Content-Type"] == "application/json"
    assert json.loads(r.content) == {
        "detail": "The database is unavailable for a moment; try again in a few seconds.",
        "errors": {},
    }
    assert not Annotation.objects.exists()
