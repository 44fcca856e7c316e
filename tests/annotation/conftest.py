from __future__ import annotations

import pytest

from tests import platform_factories as factories


@pytest.fixture
def annotator(db):
    return factories.make_user("alice")


@pytest.fixture
def other_annotator(db):
    return factories.make_user("bob")


@pytest.fixture
def project(db, annotator, other_annotator):
    return factories.make_project(annotators=[annotator, other_annotator])


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2 at production strength costs ~0.3 s per user; tests make many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def client_in(client, annotator):
    """A test client logged in as the annotator (alice)."""
    client.force_login(annotator)
    return client
