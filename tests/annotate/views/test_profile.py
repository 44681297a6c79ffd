from __future__ import annotations

import pytest
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from annotate.models import ApiToken
from annotate.services.tokens import (
    api_token_create,
    api_token_hash,
    api_tokens_revoke,
)
from tests.factories import MembershipFactory, ProjectFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def key_in(response) -> str:
    html: str = response.content.decode()
    return html.split('id="one-time-secret" readonly autofocus value="')[1].split('"')[
        0
    ]


def test_everyone_has_a_profile_linked_from_the_header(client, project, annotator):
    hidden = MembershipFactory(project=ProjectFactory(name="Not mine")).project
    client.force_login(annotator)

    r = client.get("/profile/")

    assert r.status_code == 200
    assertTemplateUsed(r, "annotate/account/profile.html")
    assertContains(r, '<a href="/profile/">Profile</a>', html=True)
    assertContains(r, "You have no API tokens.")
    assertContains(r, project.name)
    assertNotContains(r, hidden.name)


def test_anonymous_is_sent_to_log_in(client):
    for r in (client.get("/profile/"), client.post("/profile/tokens/", {"name": "x"})):
        assert r.status_code == 302
        assert r["Location"].startswith("/login/")
    assert not ApiToken.objects.exists()


def test_get_on_create_and_revoke_is_405(client, annotator):
    token, _ = api_token_create(user=annotator, name="ci", now=timezone.now())
    client.force_login(annotator)

    assert client.get("/profile/tokens/").status_code == 405
    assert client.get(f"/profile/tokens/{token.pk}/revoke/").status_code == 405
    assert ApiToken.objects.live().count() == 1


def test_a_new_tokens_key_is_shown_once_works_and_is_not_cached(client, annotator):
    client.force_login(annotator)

    r = client.post("/profile/tokens/", {"name": "nightly eval"})

    assert r.status_code == 200
    assert "no-store" in r["Cache-Control"]
    key = key_in(r)
    token = ApiToken.objects.get(user=annotator)
    assert token.name == "nightly eval"
    assert token.key_hash == api_token_hash(key)
    again = client.get("/profile/")
    assertNotContains(again, key)
    assertContains(again, f"{token.prefix}…")
    client.logout()
    api = client.get("/api/projects/", headers={"Authorization": f"Token {key}"})
    assert api.status_code == 200


def test_with_htmx_the_tokens_panel_comes_back(client, annotator):
    client.force_login(annotator)

    r = client.post("/profile/tokens/", {"name": "ci"}, headers=HTMX)

    assertTemplateUsed(r, "tokens-panel")
    assert b"<html" not in r.content
    assert key_in(r).startswith("ra_")


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "This field is required."), ("x" * 101, "at most 100 characters")],
)
def test_a_bad_name_shows_the_error_and_saves_nothing(client, annotator, name, message):
    client.force_login(annotator)

    r = client.post("/profile/tokens/", {"name": name}, headers=HTMX)

    assert r.status_code == 200
    assertContains(r, message)
    assertNotContains(r, "one-time-secret")
    assert not ApiToken.objects.exists()


def test_a_name_in_use_is_refused_on_the_field(client, annotator):
    api_token_create(user=annotator, name="ci", now=timezone.now())
    client.force_login(annotator)

    r = client.post("/profile/tokens/", {"name": "ci"})

    assertContains(r, "You have a token named &#x27;ci&#x27; already")
    assertContains(r, 'aria-invalid="true"')
    assert ApiToken.objects.count() == 1


def test_revoking_a_token_stops_its_key(client, annotator):
    token, key = api_token_create(user=annotator, name="ci", now=timezone.now())
    client.force_login(annotator)

    r = client.post(f"/profile/tokens/{token.pk}/revoke/", follow=True)

    assert r.redirect_chain == [("/profile/", 302)]
    assertContains(r, "Revoked the token &#x27;ci&#x27;: its key no longer works.")
    assertContains(r, "Revoked 20")
    client.logout()
    api = client.get("/api/projects/", headers={"Authorization": f"Token {key}"})
    assert api.status_code == 401


def test_someone_elses_token_is_404_and_stays(client, annotator, other_annotator):
    token, _ = api_token_create(user=other_annotator, name="ci", now=timezone.now())
    client.force_login(annotator)

    assert client.post(f"/profile/tokens/{token.pk}/revoke/").status_code == 404
    assertNotContains(client.get("/profile/"), token.prefix)
    assert ApiToken.objects.live().count() == 1


def test_a_token_a_manager_revoked_says_who(client, annotator, manager):
    api_token_create(user=annotator, name="ci", now=timezone.now())
    api_tokens_revoke(user=annotator, by=manager, now=timezone.now())
    client.force_login(annotator)

    assertContains(client.get("/profile/"), "by mona")


def test_the_password_changes_from_the_profile(client, annotator):
    client.force_login(annotator)

    r = client.post(
        "/profile/password/",
        {
            "old_password": "pw-for-tests",
            "new_password1": "a-long-passphrase-9",
            "new_password2": "a-long-passphrase-9",
        },
        follow=True,
    )

    assert r.redirect_chain == [("/profile/", 302)]
    assertContains(r, "Your password is changed.")
    annotator.refresh_from_db()
    assert annotator.check_password("a-long-passphrase-9")
