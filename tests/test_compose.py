"""docker-compose.yml: the production stack agrees with annotate/settings.py.

No Docker engine is needed: the file is read as YAML, and the settings-derived
facts are checked by importing the settings in a subprocess with the compose
environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
SETTINGS_FILE = ROOT / "annotate" / "settings.py"
APP_SERVICES = ("web", "worker", "beat")
REQUIRED_ENV = {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY"}

# The ways settings.py reads a variable: env.str("NAME", ...), env.list, env.db, env.cache,
# environ.Env().str("VAR_DIR", ...), and its own _env_bool / _env_int helpers.
_ENV_READ = re.compile(
    r"""(?:\benv|\bEnv\(\))\.(?:str|list|db|cache|bool|int)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|\b_env_(?:bool|int)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
)
# Compose interpolation: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?err}.
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def service(name: str) -> dict[str, Any]:
    services = load_compose()["services"]
    assert name in services, f"no service {name!r} in docker-compose.yml"
    svc = services[name]
    assert isinstance(svc, dict)
    return svc


def command_text(svc: dict[str, Any]) -> str:
    command = svc.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def environment(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def interpolate(value: str) -> str:
    """Resolve compose interpolation as an unset shell would, with a test value
    for variables that must be set (${NAME:?...} or ${NAME})."""

    def resolve(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        if operator in {":-", "-"}:
            return argument
        return f"test-value-for-{name.lower()}"

    return _INTERPOLATION.sub(resolve, value)


def settings_env_names() -> set[str]:
    source = SETTINGS_FILE.read_text(encoding="utf-8")
    return {a or b for a, b in _ENV_READ.findall(source)}


def python_output(script: str, env: dict[str, str]) -> str:
    """What `script` prints, run by this interpreter in a process of its own
    from the project's folder; its stderr if it fails."""
    result = subprocess.run(  # noqa: S603 - fixed arguments, our own interpreter
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_settings_parser_finds_the_variables_settings_reads():
    names = settings_env_names()
    assert {
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "SECRET_KEY",
        "DEBUG",
        "ALLOWED_HOSTS",
    } <= names


def test_the_compose_file_has_no_obsolete_version_key():
    assert "version" not in load_compose()


def test_the_five_services_exist():
    services = load_compose()["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)


def test_postgres_and_redis_use_the_pinned_major_images():
    assert service("postgres")["image"] == "postgres:16"
    assert service("redis")["image"] == "redis:7"


def test_postgres_keeps_its_data_in_a_volume():
    volumes = service("postgres")["volumes"]
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in volumes)
    named = str(volumes[0]).split(":", 1)[0]
    assert named in load_compose()["volumes"]


def test_web_runs_migrations_then_gunicorn_on_the_wsgi_app():
    command = command_text(service("web"))
    migrate = command.find("manage.py migrate --no-input")
    gunicorn = command.find("gunicorn -c python:annotate.gunicorn_conf ")
    assert migrate != -1
    assert gunicorn > migrate
    assert "&&" in command[migrate:gunicorn]
    assert command.endswith(" annotate.wsgi:application")


def test_gunicorn_is_configured_by_its_module():
    from annotate import gunicorn_conf

    # The port the compose file publishes and the health check calls.
    assert gunicorn_conf.bind == "0.0.0.0:8000"
    assert "127.0.0.1:8000:8000" in service("web")["ports"]
    assert gunicorn_conf.limit_request_line == 8190


def test_a_gunicorn_worker_freezes_what_it_loaded_so_collections_skip_it():
    # In a process of its own: a frozen test process would keep its objects.
    script = (
        "import gc, sys, django; django.setup(); "
        "from annotate import gunicorn_conf; gunicorn_conf.post_worker_init(None); "
        "print(gc.get_freeze_count(), 'annotate.views.annotator' in sys.modules)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "annotate.settings"}
    frozen, views = python_output(script, env).split()
    # The app's modules, models and URLconf: about 130,000 objects here.
    assert int(frozen) > 50_000
    assert views == "True"


def test_worker_and_beat_run_celery_on_the_annotate_app():
    assert command_text(service("worker")).startswith("celery -A annotate worker")
    assert command_text(service("beat")).startswith("celery -A annotate beat")


def test_the_worker_yields_the_cpu_to_web_as_its_niceness_does():
    services = load_compose()["services"]
    # Kernel weights of nice 10 and nice 0 (sched_prio_to_weight).
    assert services["worker"]["cpu_shares"] == 110
    assert "cpu_shares" not in services["web"]


def test_web_worker_and_beat_are_built_from_the_project_dockerfile():
    for name in APP_SERVICES:
        build = service(name)["build"]
        context = build if isinstance(build, str) else build["context"]
        assert context == "."
    assert (ROOT / "Dockerfile").is_file()


def test_every_app_variable_is_one_settings_reads():
    known = settings_env_names()
    for name in APP_SERVICES:
        unknown = set(environment(service(name))) - known
        assert not unknown, (
            f"{name} sets variables settings.py never reads: {sorted(unknown)}"
        )


def test_the_required_variables_are_given_to_every_app_service():
    for name in APP_SERVICES:
        assert set(environment(service(name))) >= REQUIRED_ENV, name


def test_web_worker_and_beat_share_one_environment():
    envs = [environment(service(name)) for name in APP_SERVICES]
    assert envs[0] == envs[1] == envs[2]


def test_production_runs_with_debug_off():
    assert environment(service("web"))["DEBUG"].lower() == "false"


def test_database_url_points_at_the_postgres_service():
    url = urlsplit(interpolate(environment(service("web"))["DATABASE_URL"]))
    assert url.scheme in {"postgres", "postgresql"}
    assert url.hostname == "postgres"
    assert url.port == 5432
    assert url.path.lstrip("/") == service("postgres")["environment"]["POSTGRES_DB"]
    assert url.username == service("postgres")["environment"]["POSTGRES_USER"]


def test_celery_broker_url_points_at_the_redis_service():
    url = urlsplit(interpolate(environment(service("web"))["CELERY_BROKER_URL"]))
    assert url.scheme == "redis"
    assert url.hostname == "redis"
    assert url.port == 6379


def test_secret_key_is_never_a_default_baked_into_the_file():
    raw = environment(service("web"))["SECRET_KEY"]
    assert re.fullmatch(r"\$\{SECRET_KEY(:?\?[^}]*)?\}", raw), raw


def test_postgres_redis_and_web_have_healthchecks():
    assert "pg_isready" in " ".join(service("postgres")["healthcheck"]["test"])
    assert "redis-cli ping" in " ".join(service("redis")["healthcheck"]["test"])
    web_check = " ".join(service("web")["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/healthz/" in web_check


def test_the_web_healthcheck_host_is_allowed():
    hosts = interpolate(environment(service("web"))["ALLOWED_HOSTS"]).split(",")
    assert "127.0.0.1" in hosts


def test_app_services_wait_for_healthy_postgres_and_redis():
    for name in APP_SERVICES:
        depends_on = service(name)["depends_on"]
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        for dependency in ("postgres", "redis"):
            assert depends_on[dependency]["condition"] == "service_healthy", (
                name,
                dependency,
            )


def test_the_compose_environment_gives_postgresql_and_a_real_celery_broker():
    compose_env = {k: interpolate(v) for k, v in environment(service("web")).items()}
    env = {k: v for k, v in os.environ.items() if k not in settings_env_names()}
    env.update(compose_env)
    env["DJANGO_SETTINGS_MODULE"] = "annotate.settings"
    script = (
        "from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE']); "
        "print(settings.DATABASES['default']['HOST']); "
        "print(settings.CELERY_TASK_ALWAYS_EAGER); "
        "print(settings.DEBUG)"
    )
    engine, host, eager, debug = python_output(script, env).split()
    assert engine == "annotate.db.postgresql"
    assert host == "postgres"
    assert eager == "False"
    assert debug == "False"
