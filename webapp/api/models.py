"""API tokens: what a script presents as `Authorization: Bearer <token>`."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """One token of one user. Only the token's sha256 is stored, so a database leak gives no
    working token; `prefix` (its first characters) is what lists show and what revoking names."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="What the token is for, for its owner.")
    sha256 = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16, db_index=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    @property
    def is_active(self) -> bool:
        return self.revoked is None

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'}) of {self.user}"
