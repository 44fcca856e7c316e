"""Safe to put on the internet: login throttling, strong passwords, CSP on every page, and
`check --deploy` clean with the production settings of docker-compose.yml."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from tests.platform_factories import PASSWORD, make_user, project_with_comparisons
from tests.test_compose import REPO, compose_config

pytestmark = pytest.mark.django_db


def login(client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_ten_wrong_passwords_lock_the_account_for_that_address(client, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    make_user("ann")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, "ann", "wrong-password").status_code == 200  # the form again, with an error
    assert login(client, "ann", "wrong-password").status_code == 429  # the limit: locked out
    locked = login(client, "ann", PASSWORD)  # now even the right password
    assert locked.status_code == 429 and "_auth_user_id" not in client.session
    # another address is not locked out
    assert login(client, "ann", PASSWORD, ip="10.0.0.2").status_code == 302


@pytest.mark.parametrize("weak", ["password", "12345678", "1234567890", "prefloop"])
def test_weak_passwords_are_refused(weak):
    with pytest.raises(ValidationError):
        validate_password(weak)
    validate_password("correct horse battery staple")


@pytest.mark.parametrize("url", ["/login/", "/", "/p/demo/", "/p/demo/rounds/", "/p/demo/policies/"])
def test_every_page_has_the_content_security_policy(client, url):
    project_with_comparisons(1)
    client.force_login(make_user("admin", staff=True))
    policy = client.get(url)["Content-Security-Policy"]
    assert (
        "script-src 'self'" in policy and "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    )


def test_check_deploy_is_clean_with_the_compose_production_settings(tmp_path):
    env = compose_config(SECRET_KEY=secrets.token_urlsafe(50))["services"]["web"]["environment"]
    env = {k: str(v) for k, v in env.items() if k not in ("DATABASE_URL", "ARTIFACT_ROOT", "STATIC_ROOT")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env={**os.environ, **env, "PREFLOOP_VAR": str(tmp_path), "STATIC_ROOT": str(tmp_path / "static")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
