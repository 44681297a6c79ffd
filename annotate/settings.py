"""Settings for refusal-annotate, read from the environment (django-environ).

One module for every environment: development defaults to SQLite under var/ and
eager Celery; production sets DATABASE_URL, CELERY_BROKER_URL and SECRET_KEY.
A bad value stops the process at start with ImproperlyConfigured naming it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

# Lets classes such as admin.ModelAdmin[Project] be subscripted at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()


def _env_bool(name: str, default: bool) -> bool:
    # environ.Env.bool() silently reads any unknown word as False; a typo in
    # DEBUG must not quietly flip the mode, so only the usual spellings pass.
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false).")


def _env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.str(name, default=str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
    return value


DEBUG = _env_bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
for _origin in CSRF_TRUSTED_ORIGINS:
    if "://" not in _origin:
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS entry {_origin!r} needs a scheme, e.g. https://{_origin}."
        )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "labelsets",
    "annotate",
]

MIDDLEWARE = [
    # First, so every later line of the request's logs carries its id.
    "annotate.observability.RequestIdMiddleware",
    "annotate.middleware.ServerTimingMiddleware",
    "annotate.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "annotate.middleware.UriLengthMiddleware",
    "annotate.middleware.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "annotate.urls"
WSGI_APPLICATION = "annotate.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ],
        },
    },
]

try:
    DATABASES = {
        "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
    }
except (ValueError, KeyError, environ.ImproperlyConfigured) as e:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {e}") from e
if DATABASES["default"].get("ENGINE") not in {
    "django.db.backends.postgresql",
    "django.db.backends.sqlite3",
}:
    raise ImproperlyConfigured(
        f"DATABASE_URL names an unsupported database ({DATABASES['default'].get('ENGINE')}); "
        "use postgres:// or sqlite://."
    )
# Persistent connections: a new PostgreSQL connection per request costs ~13 ms
# of CPU here (MACHINE.md), more than the whole hot path.
DATABASES["default"]["CONN_MAX_AGE"] = _env_int("CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's, pinging only a connection that has been idle (annotate/db/postgresql).
    DATABASES["default"]["ENGINE"] = "annotate.db.postgresql"
    # A database that does not answer fails the request (and /readyz/) in
    # seconds, not after the system's TCP timeout of minutes. The URL's own
    # ?connect_timeout= wins.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the dev server and an in-process job share the file.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Argon2id first, as Django's documentation recommends: memory-hard, and at
# its defaults 0.22 s of CPU a login here against PBKDF2's 0.50 s at 1.5M
# iterations (64 logins over 30 s had taken a core from the pages in
# bench/load.py). PBKDF2 hashes still verify and are upgraded at next login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "annotate.authentication.ModelBackend",
]
SESSION_ENGINE = "annotate.sessions"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "annotate:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
# WhiteNoise warns at every start when its root is missing (before collectstatic).
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = VAR_DIR / "media"
# Uploads bigger than this are spooled to disk by Django, never held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# The import size limit; streamed parsing keeps memory flat below it anyway.
IMPORT_MAX_BYTES = _env_int("IMPORT_MAX_BYTES", 1024 * 1024 * 1024, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Path and query string, in characters: longer is a 414 (annotate.middleware).
MAX_URI_LENGTH = 4096
# An import's file is deleted when its job ends; one no job is waiting for
# goes after this long (annotate.tasks.uploads_prune, on beat).
UPLOAD_MAX_AGE = timedelta(hours=_env_int("UPLOAD_MAX_AGE_HOURS", 24, minimum=1))

# Security headers. Transcripts are adversarial text: no inline script may run.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = _env_bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Pages and htmx send the token from the page (hx-headers on <body>, the
# forms' hidden input); no script reads the cookie.
CSRF_COOKIE_HTTPONLY = True
# TLS ends at a proxy in front of gunicorn (README "Deploying behind TLS").
# Secure cookies need HTTPS, so plain HTTP is redirected whenever they are on;
# /healthz/ and /readyz/ stay reachable over HTTP for health checks and probes.
SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", default=SESSION_COOKIE_SECURE)
SECURE_REDIRECT_EXEMPT = [r"^healthz/$", r"^readyz/$"]
# Off unless set: browsers remember HSTS for its whole max-age, so it is
# turned on once HTTPS is known to work.
SECURE_HSTS_SECONDS = _env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False
)
SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD", default=False)
# Trust X-Forwarded-Proto only behind a proxy that sets it (and strips a
# client's own), or any client could claim HTTPS.
if _env_bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords
# for one username from one address, that pair is locked out for
# LOGIN_COOLOFF_MINUTES, each further try restarting the wait. Keyed on the
# pair, so a stranger guessing at a name cannot lock its owner out from
# elsewhere. A successful login clears the count. Reset by hand with
# `manage.py axes_reset_username NAME` or in the admin (Access attempts).
AXES_FAILURE_LIMIT = _env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=_env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "annotate.views.account.login_locked_out"
# The client's address (annotate.http.client_address): REMOTE_ADDR, unless
# PROXY_COUNT proxies stand in front, each appending to X-Forwarded-For.
AXES_CLIENT_IP_CALLABLE = "annotate.http.client_address"
PROXY_COUNT = _env_int("PROXY_COUNT", 0)

# The cache carries live job progress from a worker to the pages that show it.
# In-process (eager) jobs share the web process's memory; production uses Redis.
try:
    CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
except environ.ImproperlyConfigured as e:
    raise ImproperlyConfigured(f"CACHE_URL is not a valid cache URL: {e}") from e
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "annotate.cache.RedisCache"  # keeps its clients
    # A Redis that is down fails a cache call at once (the throttle then lets
    # the request through, annotate.api.throttles), not after the OS's wait.
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"socket_connect_timeout": 1, "socket_timeout": 2}
    )

# Celery: with no broker configured, tasks run in-process (eager) so a new user
# needs nothing but Python. Production points CELERY_BROKER_URL at Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
if CELERY_BROKER_URL and not CELERY_BROKER_URL.startswith(
    ("redis://", "rediss://", "memory://")
):
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL={CELERY_BROKER_URL!r} must be a redis:// URL (or unset for eager tasks)."
    )
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if not CELERY_BROKER_URL:
    # Eager tasks still pass their arguments through a producer: kombu's
    # in-memory transport, so no broker is looked for (nor warned about).
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# A worker killed mid-task must not lose it: acknowledge after the task, and
# requeue when the worker dies.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A broker that is down must fail a publish at once, not hold the request
# that queued it (services.deferred): one connect, given up after a second
# (kombu's default retries a publisher's connect for 2 s). The socket
# timeout stays above the worker's 1 s blocking read of the queue.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 0,
    "socket_connect_timeout": 1,
    "socket_timeout": 5,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_TIMEZONE = TIME_ZONE
# How long each kind of job may run, in seconds (JOB_TIME_LIMIT_<KIND>); a
# job still running past it with no worker on it is marked failed
# (annotate.tasks.jobs_fail_stale), and its page offers to run it again.
# The longest measured (bench/): an import of 100k transcripts ~1 min, a
# retrain and rescore of 100k items ~1 min; these leave ample room.
JOB_TIME_LIMITS = {
    kind: timedelta(
        seconds=_env_int(f"JOB_TIME_LIMIT_{kind.upper()}", default, minimum=1)
    )
    for kind, default in {
        "import": 3600,
        "export": 3600,
        "agreement": 1800,
        "calibration": 1800,
        "retrain": 1800,
        "rescore": 1800,
    }.items()
}
# Redis hands an unacknowledged task (its worker was killed: acks_late) to
# another worker only after this many seconds; the default is an hour. A
# task still running then is handed out again too, but that copy finds the
# job's run lock held and returns at once (services.jobs.job_run), so this
# need not exceed the longest job; it must exceed the longest retry
# countdown (2**5 s), and stay under every JOB_TIME_LIMITS, so that a
# killed job is run again before it would be given up as stale.
CELERY_VISIBILITY_TIMEOUT = _env_int("CELERY_VISIBILITY_TIMEOUT", 600, minimum=1)
if min(JOB_TIME_LIMITS.values()).total_seconds() <= CELERY_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        f"CELERY_VISIBILITY_TIMEOUT={CELERY_VISIBILITY_TIMEOUT} must be shorter "
        "than every JOB_TIME_LIMIT_<KIND>, or a killed job is given up before it is run again."
    )
# The worker's scheduling niceness (0-19), set as it starts (annotate.celery):
# a retrain takes a whole core for half a minute, and at the default 10 the
# pages' requests come first (load test p99: claim 58 -> 35 ms, submit 81 ->
# 58 ms), while an idle box still gives the worker all it asks for.
WORKER_NICENESS = _env_int("WORKER_NICENESS", 10)
if WORKER_NICENESS > 19:
    raise ImproperlyConfigured(f"WORKER_NICENESS={WORKER_NICENESS} must be 19 at most.")
CELERY_BROKER_TRANSPORT_OPTIONS |= {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # Workers look for such tasks every 10 s (kombu's unacked_restore_interval),
    # but by default scan Redis only every 10th look: every look, so a
    # killed job waits the visibility timeout plus 10 s, not plus 100 s.
    "unacked_restore_throttle": 1,
}
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Claims are also expired lazily at claim time; this keeps counts honest
    # when nobody is claiming.
    "expire-claims": {"task": "annotate.tasks.assignments_expire", "schedule": 60.0},
    # Dawid-Skene re-weighs every annotator at once, so it runs on a schedule,
    # not per label.
    "weighted-gold": {
        "task": "annotate.tasks.gold_weighted_update",
        "schedule": 3600.0,
    },
    # Submits queue the retrain every N labels; this catches a missed one
    # and starts one that waited for the last to rest (retrain_rest_seconds).
    "queue-retrain": {"task": "annotate.tasks.queue_retrain_due", "schedule": 60.0},
    "prune-uploads": {"task": "annotate.tasks.uploads_prune", "schedule": 3600.0},
    # Submits wake the rescoring; this catches items left due by a wake-up
    # the broker could not take (services.deferred).
    "rescore-due": {"task": "annotate.tasks.items_rescore_due", "schedule": 30.0},
    # A job whose worker died for good is marked failed past its time limit.
    "fail-stale-jobs": {"task": "annotate.tasks.jobs_fail_stale", "schedule": 60.0},
    # VACUUM and ANALYZE where the server's autovacuum is off, so prepared
    # plans made on small tables are remade as they grow (services.planner).
    "tables-maintain": {"task": "annotate.tasks.tables_maintain", "schedule": 60.0},
}

REST_FRAMEWORK = {
    # Token first: DRF answers a failed authentication with the first
    # class's challenge, so a bad or revoked token is a 401 (WWW-Authenticate:
    # Token) rather than the 403 that session authentication would give.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "annotate.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "annotate.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "annotate.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "annotate.api.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["annotate.api.throttles.TokenWriteThrottle"],
}
# Writes made with an API token, per token: "<n>/<second|minute|hour|day>".
# Counted in the cache (CACHE_URL; Redis shares the count between workers).
API_WRITE_RATE = env.str("API_WRITE_RATE", default="600/minute")
if not re.fullmatch(
    r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", API_WRITE_RATE
):
    raise ImproperlyConfigured(
        f"API_WRITE_RATE={API_WRITE_RATE!r} is not a rate such as 600/minute."
    )

SPECTACULAR_SETTINGS = {
    "TITLE": "refusal-annotate API",
    "DESCRIPTION": (
        "Label how AI models refuse: projects, imports, the labelling loop, "
        "agreement, calibration and gold exports. Authenticate with "
        "`Authorization: Token <key>` (a member's token, from their profile) or a "
        "session. Every error answers with one body: "
        '`{"detail": "...", "errors": {"field": ["message", ...]}}`.'
    ),
    "VERSION": "1",
    # The docs' assets come from drf-spectacular-sidecar: no CDN under the CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # annotate.converters.IdConverter: ids of at most 18 digits.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}
    },
}

# JSON lines in production, for a log shipper; text at the dev server. Every
# line carries the request id of the request it belongs to (or that queued
# its task): annotate.observability. The worker and beat use the same format.
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be json or text.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "annotate.observability.RequestIdFilter"}},
    "formatters": {
        "app": {"()": "annotate.observability.log_formatter", "log_format": LOG_FORMAT}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "app",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}
