"""`manage.py api_token`: create (printed once, only its sha256 stored), list, revoke; and what a
token then opens: revoked, of an inactive user, or in a malformed header, it is a 401 in JSON."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command

from tests import platform_factories as factories
from webapp.api.models import ApiToken

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("api_token", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_create_prints_the_token_once_and_stores_only_its_sha256():
    user = factories.make_user("scripter")
    token = run("--user", "scripter", "--name", "nightly drain").strip()
    row = ApiToken.objects.get(user=user)
    assert token.startswith("pfl_") and len(token) > 40
    assert row.sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.sha256, row.prefix, row.name)
    assert token.startswith(row.prefix) and row.name == "nightly drain"
    response = factories.api_client(token).get("/api/projects")
    assert response.status_code == 200, response.content
    row.refresh_from_db()
    assert row.last_used is not None


def test_list_shows_prefixes_and_revoke_ends_the_token():
    factories.make_user("scripter")
    token = run("--user", "scripter").strip()
    prefix = ApiToken.objects.get().prefix
    listing = run("--list")
    assert f"{prefix}…" in listing and "scripter" in listing and "active" in listing
    assert token not in listing
    assert "revoked" in run("--revoke", prefix)
    assert "revoked" in run("--list", "--user", "scripter")
    response = factories.api_client(token).get("/api/projects")
    assert response.status_code == 401
    assert response.json() == {"detail": "this token was revoked"}


def test_refusals_of_the_command():
    factories.make_user("scripter")
    with pytest.raises(CommandError, match="no user 'nobody'"):
        run("--user", "nobody")
    with pytest.raises(CommandError, match="no live token with prefix"):
        run("--revoke", "pfl_doesnotexist")
    with pytest.raises(CommandError, match="give --user"):
        run()
    assert not ApiToken.objects.exists()


def test_an_inactive_users_token_is_refused():
    user = factories.make_user("leaver")
    token = factories.make_token(user)
    user.is_active = False
    user.save()
    response = factories.api_client(token).get("/api/projects")
    assert response.status_code == 401
    assert response.json() == {"detail": "the token's user is inactive"}
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "no Authorization header"),
        ("Token abc", "malformed Authorization header"),
        ("Bearer", "malformed Authorization header"),
        ("Bearer two words", "malformed Authorization header"),
        ("Bearer pfl_not-a-token-anyone-made", "unknown token"),
    ],
)
def test_a_malformed_or_unknown_header_is_a_json_401(client, header, detail):
    factories.make_token(factories.make_user())
    headers = {"authorization": header} if header else {}
    response = client.get("/api/projects", headers=headers)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"].startswith(detail)


def test_a_session_alone_does_not_authenticate_the_api(client):
    """The API takes bearer tokens only: a logged-in browser's cookie (which a page on another
    site could make it send) opens nothing."""
    client.force_login(factories.make_user(staff=True))
    assert client.get("/api/projects").status_code == 401
