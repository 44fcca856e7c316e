"""Answers written by people (demonstrations): the SFT stage's data.

An annotator edits one of a comparison's responses or writes their own ("write a better
answer"), or answers a bare prompt on the write page. Each is one Demonstration.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Demonstration(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="demonstrations")
    prompt = models.ForeignKey("catalog.Prompt", on_delete=models.CASCADE, related_name="demonstrations")
    text = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="demonstrations",
    )
    # The response this answer was edited from; null when written from scratch.
    source_response = models.ForeignKey(
        "catalog.Response", null=True, blank=True, on_delete=models.SET_NULL, related_name="demonstrations"
    )
    # The comparison it was written on; null for the write page and imports.
    comparison = models.ForeignKey(
        "annotation.Comparison",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="demonstrations",
    )
    seconds_spent = models.FloatField(default=0.0)
    source = models.CharField(
        max_length=200, blank=True, help_text="Where an imported demonstration came from."
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["project", "id"]),
            models.Index(fields=["prompt", "author"]),
        ]

    def __str__(self) -> str:
        return self.text[:80]


class WritingSettings(models.Model):
    """A project's settings for demonstrations (kept here, not on Project: one app per migration)."""

    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, related_name="writing_settings"
    )
    # An edited answer also counts as preferred over the response it was edited from, in the
    # pairwise exports and the round's snapshot.
    edited_preferred = models.BooleanField(
        default=False,
        help_text="An edited answer also counts as preferred over the response it was edited from.",
    )

    def __str__(self) -> str:
        return f"writing settings for {self.project}"
