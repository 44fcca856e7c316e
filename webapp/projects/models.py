"""A project: one policy being improved by one team, with its guidelines, settings and members."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from webapp.projects.roles import Role


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    guidelines = models.TextField(blank=True, help_text="Markdown shown to annotators.")
    overlap = models.PositiveSmallIntegerField(
        default=1, help_text="Distinct annotators who judge each comparison."
    )
    # The active policy changes only through catalog.services.deploy (atomically).
    active_policy = models.ForeignKey(
        "catalog.PolicyVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    base_model = models.CharField(max_length=500, default="bundled")
    training_config = models.JSONField(
        default=dict, blank=True, help_text="Overrides of the round defaults (see rounds.config)."
    )
    # Every member, whatever their role (Membership.role); the name predates roles. The queue's
    # raw SQL reads the through table directly (annotation.queue_sql).
    annotators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", blank=True, related_name="projects"
    )
    created = models.DateTimeField(auto_now_add=True)
    # The licence of the exported data, as a Hugging Face licence id (the dataset card's
    # `license:`); blank is written as "other".
    license = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text='Licence of the exported data, as a Hugging Face licence id (e.g. "cc-by-4.0", '
        '"apache-2.0"); blank means "other". Written in every export\'s dataset card.',
    )
    # Size limits in UTF-8 bytes: what one page may have to serve (a 50 MB prompt made a 52 MB
    # annotate page). Enforced where text enters: webapp/catalog/text.py's checks, one code path.
    max_prompt_bytes = models.PositiveIntegerField(
        default=32 * 1024,
        validators=[MinValueValidator(256)],
        help_text="Longest prompt an import accepts (all its messages' text), in UTF-8 bytes.",
    )
    max_response_bytes = models.PositiveIntegerField(
        default=64 * 1024,
        validators=[MinValueValidator(256)],
        help_text="Longest generated response stored; a longer one is clipped with a visible marker.",
    )
    max_reason_bytes = models.PositiveIntegerField(
        default=5 * 1024,
        validators=[MinValueValidator(1)],
        help_text="Longest reason an annotator may write with a judgment, in UTF-8 bytes.",
    )

    class Meta:
        permissions = [("export_preferences", "Can export preference data")]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in one project. The M2M's table from before roles existed, kept (with its
    rows) so the queue's SQL and every `project.annotators.add(user)` go on working; such rows
    are annotators."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)

    class Meta:
        db_table = "projects_project_annotators"
        # The unique index the auto-created through table already has (same columns, same name).
        unique_together = [("project", "user")]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}) in {self.project}"
