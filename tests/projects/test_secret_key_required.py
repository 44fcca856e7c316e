"""Without DEBUG the settings refuse to load without SECRET_KEY (finding 6): a known fallback key
would let anyone forge sessions and CSRF tokens. With DEBUG=1 a development key is used."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.test_compose import REPO

LOAD = (
    "import django; django.setup(); from django.conf import settings; print('key', len(settings.SECRET_KEY))"
)


def _load_settings(tmp_path, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    base.update(DJANGO_SETTINGS_MODULE="webapp.config.settings", PREFLOOP_VAR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-c", LOAD], cwd=REPO, env=base, capture_output=True, text=True, timeout=120
    )


def test_no_key_without_debug_is_improperly_configured(tmp_path):
    result = _load_settings(tmp_path)
    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured: SECRET_KEY is not set." in result.stderr
    assert "Set SECRET_KEY to a long random string" in result.stderr and "DEBUG=1" in result.stderr


def test_an_empty_key_counts_as_none(tmp_path):
    result = _load_settings(tmp_path, SECRET_KEY="", DEBUG="0")
    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr


def test_debug_works_without_a_key(tmp_path):
    result = _load_settings(tmp_path, DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert "key" in result.stdout


def test_a_given_key_is_used(tmp_path):
    result = _load_settings(tmp_path, SECRET_KEY="s" * 60)
    assert result.returncode == 0, result.stderr
    assert "key 60" in result.stdout
