"""A page's session and user, read by annotate.sessions and
annotate.authentication.ModelBackend: the same answers as Django's own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.utils import timezone

pytestmark = pytest.mark.django_db


def logged_in(client, user, project) -> str:
    r = client.post("/login/", {"username": user.username, "password": "pw-for-tests"})
    assert r.status_code == 302
    assert client.get(f"/projects/{project.pk}/label/").status_code == 200
    key: str = client.session.session_key
    return key


def test_a_login_holds_across_pages_as_its_user(client, annotator, project):
    key = logged_in(client, annotator, project)

    r = client.get("/profile/")

    assert r.status_code == 200
    assert r.context["user"] == annotator
    assert client.session.session_key == key
    assert client.session[SESSION_KEY] == str(annotator.pk)


def test_an_expired_session_is_a_visitor_sent_to_log_in(client, annotator, project):
    key = logged_in(client, annotator, project)
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    r = client.get(f"/projects/{project.pk}/label/")

    assert r.status_code == 302
    assert r["Location"].startswith("/login/")


def test_an_unknown_session_key_is_a_visitor(client, annotator, project):
    logged_in(client, annotator, project)
    client.cookies["sessionid"] = "x" * 32

    assert client.get("/profile/").status_code == 302


@pytest.mark.parametrize("change", ["deactivated", "deleted"])
def test_a_deactivated_or_deleted_user_is_logged_out(
    client, annotator, project, change
):
    logged_in(client, annotator, project)
    if change == "deleted":
        annotator.delete()
    else:
        annotator.is_active = False
        annotator.save(update_fields=["is_active"])

    r = client.get(f"/projects/{project.pk}/label/")

    assert r.status_code == 302
    assert r["Location"].startswith("/login/")
