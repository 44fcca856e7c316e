"""`Authorization: Bearer <token>` for every API endpoint; a refusal is a 401 saying why."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from webapp.api import tokens

EXPECTED = "send 'Authorization: Bearer <token>' (make one with `manage.py api_token` or on /account/tokens/)"


class TokenAuth(HttpBearer):
    """Reads the header itself (ninja's HttpBearer says only "Unauthorized"), so each refusal
    names its cause: no header, a malformed one, an unknown or revoked token, an inactive user."""

    def __call__(self, request: HttpRequest) -> Any:
        value = request.headers.get(self.header)
        if not value:
            return self._refuse(request, f"no Authorization header; {EXPECTED}")
        scheme, _, token = value.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            return self._refuse(request, f"malformed Authorization header; {EXPECTED}")
        return self.authenticate(request, token)

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        try:
            row = tokens.authenticate(token)
        except tokens.Refused as exc:
            return self._refuse(request, str(exc))
        # The permission checks read request.user, as the web pages' do.
        request.user = row.user
        return row

    @staticmethod
    def _refuse(request: HttpRequest, why: str) -> None:
        request.api_auth_refusal = why  # the 401 handler in webapp.api.api reads it
        return None
