"""Settings are read from the environment; a bad value stops the process, naming it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

CODE = (
    "import django, json; from django.conf import settings; django.setup(); "
    "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'], "
    "'eager': settings.CELERY_TASK_ALWAYS_EAGER, 'hosts': settings.ALLOWED_HOSTS}))"
)


def load(**env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}
    }
    base.update({"DJANGO_SETTINGS_MODULE": "annotate.settings", "DEBUG": "true", **env})
    return subprocess.run(
        [sys.executable, "-c", CODE],
        env=base,
        capture_output=True,
        text=True,
        check=False,
    )


def test_defaults_are_sqlite_and_eager_tasks():
    r = load()

    assert r.returncode == 0, r.stderr
    assert '"engine": "django.db.backends.sqlite3"' in r.stdout
    assert '"eager": true' in r.stdout


def test_a_new_user_sees_no_broker_warning():
    """Eager tasks with no broker: nothing on the first screen about one."""
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); "
            "from annotate.tasks import job_run; "
            "from annotate.celery import app; "
            "app.producer_or_acquire().__enter__()",
        ],
        env={
            **{k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"},
            "DJANGO_SETTINGS_MODULE": "annotate.settings",
            "DEBUG": "true",
        },
        capture_output=True,
        text=True,
        check=False,
    )

    assert r.returncode == 0, r.stderr
    assert "hostname" not in r.stderr + r.stdout


def test_a_broker_url_turns_off_eager_tasks():
    r = load(CELERY_BROKER_URL="redis://127.0.0.1:6379/0")

    assert '"eager": false' in r.stdout


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DEBUG": "false", "SECRET_KEY": ""}, "SECRET_KEY"),
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "nonsense"}, "DATABASE_URL"),
        ({"CELERY_BROKER_URL": "amqp://guest@localhost//"}, "CELERY_BROKER_URL"),
        ({"CSRF_TRUSTED_ORIGINS": "example.com"}, "CSRF_TRUSTED_ORIGINS"),
        ({"IMPORT_MAX_BYTES": "lots"}, "IMPORT_MAX_BYTES"),
        ({"CONN_MAX_AGE": "-1"}, "CONN_MAX_AGE"),
    ],
)
def test_a_bad_value_fails_at_start_naming_it(env, named):
    r = load(**env)

    assert r.returncode != 0
    assert "ImproperlyConfigured" in r.stderr
    assert named in r.stderr.strip().splitlines()[-1]


def test_allowed_hosts_come_from_the_environment():
    r = load(ALLOWED_HOSTS="a.example,b.example")

    assert '"hosts": ["a.example", "b.example"]' in r.stdout


@pytest.mark.django_db
@pytest.mark.postgres
def test_the_suite_runs_on_postgresql_when_database_url_says_so():
    assert os.environ["DATABASE_URL"].startswith(("postgres://", "postgresql://"))
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        assert "PostgreSQL" in cursor.fetchone()[0]
    assert settings.DATABASES["default"]["NAME"].startswith("test_")
