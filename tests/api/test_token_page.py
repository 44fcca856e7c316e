"""The profile page `/account/tokens/`: create a token (shown once), see the list, revoke with a
POST carrying the CSRF token; a revoked token is then a 401."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests import platform_factories as factories
from webapp.api.models import ApiToken

pytestmark = pytest.mark.django_db

URL = "/account/tokens/"


def csrf_client(user) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get(URL)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    return client, token


def test_login_required(client):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_create_shows_the_token_once_and_revoke_ends_it():
    user = factories.make_user("alice")
    client, csrf = csrf_client(user)
    created = client.post(URL, {"action": "create", "name": "my front-end", "csrfmiddlewaretoken": csrf})
    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    token = re.search(r'data-testid="token-value">([^<]+)<', created.content.decode()).group(1)
    row = ApiToken.objects.get(user=user)
    assert token.startswith(row.prefix) and row.name == "my front-end"
    assert factories.api_client(token).get("/api/projects").status_code == 200

    listing = client.get(URL).content.decode()
    assert row.prefix in listing and "my front-end" in listing
    assert token not in listing  # shown once: never again

    refused = client.post(URL, {"action": "revoke", "prefix": row.prefix})  # no CSRF token
    assert refused.status_code == 403
    assert factories.api_client(token).get("/api/projects").status_code == 200

    revoked = client.post(URL, {"action": "revoke", "prefix": row.prefix, "csrfmiddlewaretoken": csrf})
    assert revoked.status_code == 302
    row.refresh_from_db()
    assert row.revoked is not None
    response = factories.api_client(token).get("/api/projects")
    assert response.status_code == 401 and response.json()["detail"] == "this token was revoked"


def test_a_user_cannot_revoke_someone_elses_token():
    victim_token = factories.make_token(factories.make_user("bob"))
    prefix = ApiToken.objects.get().prefix
    client, csrf = csrf_client(factories.make_user("mallory"))
    response = client.post(URL, {"action": "revoke", "prefix": prefix, "csrfmiddlewaretoken": csrf})
    assert response.status_code == 400
    assert "no live token" in response.content.decode()
    assert ApiToken.objects.get().revoked is None
    assert factories.api_client(victim_token).get("/api/projects").status_code == 200


def test_the_page_lists_only_the_users_own_tokens():
    factories.make_token(factories.make_user("bob"), "bob's script")
    client = Client()
    client.force_login(factories.make_user("alice"))
    page = client.get(URL).content.decode()
    assert "bob's script" not in page and "bob&#x27;s script" not in page and "No tokens yet." in page
