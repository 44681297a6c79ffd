from __future__ import annotations

import hashlib
import importlib
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from annotate.models import ApiToken
from annotate.services.tokens import (
    TOKEN_USE_EVERY,
    api_token_create,
    api_token_hash,
    api_token_revoke,
    api_token_used,
    api_tokens_revoke,
)

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def test_a_token_keeps_only_the_hash_and_a_short_prefix_of_its_key(annotator):
    token, key = api_token_create(user=annotator, name="eval pipeline", now=NOW)

    assert key.startswith("ra_")
    assert len(key) > 40
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert token.prefix == key[:10]
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert key not in {str(v) for v in stored.values()}
    assert stored["name"] == "eval pipeline"
    assert stored["created_at"] == NOW


def test_every_key_is_new(annotator):
    keys = {
        api_token_create(user=annotator, name=f"t{i}", now=NOW)[1] for i in range(5)
    }

    assert len(keys) == 5


@pytest.mark.parametrize(
    ("name", "code"), [("  ", "required"), ("x" * 101, "max_length")]
)
def test_a_bad_name_is_refused_and_nothing_is_saved(annotator, name, code):
    with pytest.raises(ValidationError) as e:
        api_token_create(user=annotator, name=name, now=NOW)

    assert e.value.error_dict["name"][0].code == code
    assert not ApiToken.objects.exists()


def test_a_live_tokens_name_is_refused_until_it_is_revoked(annotator):
    token, _ = api_token_create(user=annotator, name="ci", now=NOW)
    with pytest.raises(ValidationError) as e:
        api_token_create(user=annotator, name="ci", now=NOW)
    assert e.value.error_dict["name"][0].code == "duplicate_name"
    assert ApiToken.objects.count() == 1

    api_token_revoke(token=token, by=annotator, now=NOW)
    api_token_create(user=annotator, name="ci", now=NOW)

    assert ApiToken.objects.live().count() == 1


def test_two_users_may_name_tokens_alike(annotator, other_annotator):
    api_token_create(user=annotator, name="ci", now=NOW)
    api_token_create(user=other_annotator, name="ci", now=NOW)

    assert ApiToken.objects.count() == 2


def test_revoking_twice_keeps_the_first_revocation(annotator, manager):
    token, _ = api_token_create(user=annotator, name="ci", now=NOW)
    api_token_revoke(token=token, by=annotator, now=NOW)

    again = api_token_revoke(token=token, by=manager, now=NOW + timedelta(hours=1))

    assert (again.revoked_at, again.revoked_by) == (NOW, annotator)
    assert not ApiToken.objects.live().exists()


def test_a_manager_revokes_every_live_token_of_one_user(
    annotator, other_annotator, manager
):
    for name in ("a", "b"):
        api_token_create(user=annotator, name=name, now=NOW)
    theirs, _ = api_token_create(user=other_annotator, name="a", now=NOW)

    assert api_tokens_revoke(user=annotator, by=manager, now=NOW) == 2
    assert api_tokens_revoke(user=annotator, by=manager, now=NOW) == 0
    assert list(ApiToken.objects.live()) == [theirs]
    assert set(
        ApiToken.objects.filter(user=annotator).values_list("revoked_by", flat=True)
    ) == {manager.pk}


def test_a_use_is_written_at_most_once_per_interval(
    annotator, django_assert_num_queries
):
    token, _ = api_token_create(user=annotator, name="ci", now=NOW)

    with django_assert_num_queries(1):
        api_token_used(token=token, now=NOW)
    with django_assert_num_queries(0):
        api_token_used(token=token, now=NOW + TOKEN_USE_EVERY - timedelta(seconds=1))
    later = NOW + TOKEN_USE_EVERY
    with django_assert_num_queries(1):
        api_token_used(token=token, now=later)

    assert ApiToken.objects.get().last_used_at == later


def test_drf_tokens_carry_over_hashed_and_their_table_goes(annotator):
    """Migration 0017 on a database that had rest_framework.authtoken."""
    migration = importlib.import_module("annotate.migrations.0017_members_tokens")
    key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "user_id integer NOT NULL, created timestamp with time zone NOT NULL)"
            if connection.vendor == "postgresql"
            else "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "user_id integer NOT NULL, created datetime NOT NULL)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, %s, %s)",
            [key, annotator.pk, connection.ops.adapt_datetimefield_value(NOW)],
        )
    editor = SimpleNamespace(
        connection=connection,
        execute=lambda sql: connection.cursor().execute(sql),
        quote_name=connection.ops.quote_name,
    )

    migration.carry_over_drf_tokens(apps, editor)

    token = ApiToken.objects.get()
    assert token.user == annotator
    assert token.key_hash == api_token_hash(key)
    assert token.created_at == NOW
    assert "authtoken_token" not in connection.introspection.table_names()
