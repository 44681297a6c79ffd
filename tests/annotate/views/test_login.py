"""Login throttling (django-axes): a username and address locked out after
LOGIN_FAILURE_LIMIT wrong passwords, told when to try again."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.contrib.auth.hashers import check_password, make_password
from django.core.management import call_command
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def fail(client: Client, n: int, username: str = "alice") -> None:
    for _ in range(n):
        client.post("/login/", {"username": username, "password": "wrong"})


def test_a_wrong_password_shows_the_login_form_again(client, annotator):
    r = client.post("/login/", {"username": "alice", "password": "wrong"})

    assert r.status_code == 200
    assert "Please enter a correct username and password" in r.text


def test_five_failures_lock_the_username_out_with_the_time_to_try_again(
    client, annotator, settings
):
    fail(client, settings.AXES_FAILURE_LIMIT - 1)

    r = client.post("/login/", {"username": "alice", "password": "wrong"})
    right = client.post("/login/", {"username": "alice", "password": "pw-for-tests"})

    assert settings.AXES_FAILURE_LIMIT == 5
    assert r.status_code == 429
    assert "Too many wrong passwords" in r.text
    assert "paused for 15 minutes" in r.text
    assert "Try again after" in r.text
    # Locked out even with the right password.
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_lockout_holds_one_address_and_username_only(client, annotator, reviewer):
    fail(client, 5)

    elsewhere = Client(REMOTE_ADDR="203.0.113.9").post(
        "/login/", {"username": "alice", "password": "pw-for-tests"}
    )
    other_user = client.post(
        "/login/", {"username": "rita", "password": "pw-for-tests"}
    )

    assert elsewhere.status_code == 302
    assert other_user.status_code == 302


def test_a_forged_forwarded_for_header_is_not_a_new_address(annotator):
    for n in range(5):
        Client(HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").post(
            "/login/", {"username": "alice", "password": "wrong"}
        )

    r = Client(HTTP_X_FORWARDED_FOR="198.51.100.77").post(
        "/login/", {"username": "alice", "password": "pw-for-tests"}
    )

    assert r.status_code == 429


def test_a_success_before_the_limit_clears_the_count(client, annotator):
    fail(client, 4)
    client.post("/login/", {"username": "alice", "password": "pw-for-tests"})
    client.logout()

    fail(client, 4)
    r = client.post("/login/", {"username": "alice", "password": "pw-for-tests"})

    assert r.status_code == 302


def test_axes_reset_lifts_the_lockout(client, annotator):
    fail(client, 5)

    call_command("axes_reset_username", "alice")
    r = client.post("/login/", {"username": "alice", "password": "pw-for-tests"})

    assert r.status_code == 302


def test_behind_a_proxy_the_address_it_saw_is_the_one_locked_out(annotator, settings):
    settings.PROXY_COUNT = 1
    proxy = "10.0.0.2"
    for n in range(5):
        # What the client sends itself is to the left of what the proxy appends.
        Client(
            REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.5"
        ).post("/login/", {"username": "alice", "password": "wrong"})

    same = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.5").post(
        "/login/", {"username": "alice", "password": "pw-for-tests"}
    )
    other = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.6").post(
        "/login/", {"username": "alice", "password": "pw-for-tests"}
    )

    assert same.status_code == 429
    assert other.status_code == 302


def test_a_login_rehashes_a_pbkdf2_password_with_argon2(client, settings):
    # Production's hashers, not the suite's fast one (conftest).
    settings.PASSWORD_HASHERS = import_module("annotate.settings").PASSWORD_HASHERS
    user = UserFactory(username="olga")
    user.password = make_password("an older password", hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])

    r = client.post("/login/", {"username": "olga", "password": "an older password"})

    assert r.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    assert check_password("an older password", user.password)
