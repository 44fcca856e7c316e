"""The settings the tests run with: prefloop's own, given a SECRET_KEY first.

Without DEBUG the settings refuse to load without SECRET_KEY, as production must; the tests run
with DEBUG off, so they bring a key. pytest-django loads the settings before any conftest, so
the key is set here; put in os.environ, it reaches every process a test starts (Celery
workers, manage.py, gunicorn), which inherit DJANGO_SETTINGS_MODULE=tests.settings as well.
"""

import os

if not os.environ.get("SECRET_KEY"):
    os.environ["SECRET_KEY"] = "prefloop-tests-only-not-a-secret-" + "k" * 32

from webapp.config.settings import *  # noqa: E402, F403
