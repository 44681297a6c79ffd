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
    "'eager': settings.CELERY_TASK_ALWAYS_EAGER, 'hosts': settings.ALLOWED_HOSTS, "
    "'cache': settings.CACHES['default']['BACKEND']}))"
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


def test_a_redis_cache_url_is_the_cache_that_keeps_its_clients():
    r = load(CACHE_URL="redis://127.0.0.1:6379/1")

    assert '"cache": "annotate.cache.RedisCache"' in r.stdout, r.stderr


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
        ({"JOB_TIME_LIMIT_EXPORT": "0"}, "JOB_TIME_LIMIT_EXPORT"),
        ({"WORKER_NICENESS": "20"}, "WORKER_NICENESS"),
        ({"WORKER_NICENESS": "-5"}, "WORKER_NICENESS"),
        # A killed job must be handed out again before it is given up as stale.
        ({"JOB_TIME_LIMIT_RETRAIN": "600"}, "CELERY_VISIBILITY_TIMEOUT"),
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


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k3J9-vQ2xR7mZp4LwT8nYb6Hc1Fd5Gs0Ue3Ai9Oj2Kl7Xq4Wr8Ty6Pz1Vn5Mb0Cx",
    "ALLOWED_HOSTS": "annotate.example.org",
    "BEHIND_TLS_PROXY": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def check_deploy(**env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        # conftest's async switch for Playwright is one check --deploy rightly refuses.
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "SECURE_COOKIES"}
        and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    base.update({"DJANGO_SETTINGS_MODULE": "annotate.settings", **env})
    return subprocess.run(
        [
            sys.executable,
            "manage.py",
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
        ],
        cwd=settings.BASE_DIR,
        env=base,
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_deploy_is_clean_under_production_settings():
    r = check_deploy(**PRODUCTION)

    assert r.returncode == 0, r.stderr
    assert "System check identified no issues" in r.stdout


def test_check_deploy_names_hsts_when_it_is_left_off():
    r = check_deploy(**{**PRODUCTION, "SECURE_HSTS_SECONDS": "0"})

    assert r.returncode != 0
    assert "security.W004" in r.stderr


def test_production_defaults_redirect_to_https_and_keep_cookies_from_scripts():
    code = (
        "import django, json; from django.conf import settings; django.setup(); "
        "print(json.dumps([settings.SECURE_SSL_REDIRECT, settings.SESSION_COOKIE_SECURE, "
        "settings.CSRF_COOKIE_SECURE, settings.CSRF_COOKIE_HTTPONLY, "
        "settings.SECURE_PROXY_SSL_HEADER]))"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECURE_COOKIES", "DATABASE_URL"}
    }
    env.update({"DJANGO_SETTINGS_MODULE": "annotate.settings", **PRODUCTION})
    r = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert r.returncode == 0, r.stderr
    assert (
        r.stdout.strip()
        == '[true, true, true, true, ["HTTP_X_FORWARDED_PROTO", "https"]]'
    )


def test_the_broker_fails_fast_and_redelivers_a_killed_job():
    from django.conf import settings

    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    # Both sets: a publish to a broker that is down gives up at once
    # (services.deferred), and a killed worker's job is handed out again.
    assert (options["max_retries"], options["socket_connect_timeout"]) == (0, 1)
    assert options["visibility_timeout"] == settings.CELERY_VISIBILITY_TIMEOUT
