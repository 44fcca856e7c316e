"""Web exports and file imports run as background jobs: one ExportJob or ImportJob row per
request, its file under ARTIFACT_ROOT.

Round dataset snapshots are files under ARTIFACT_ROOT recorded on their TrainingRound.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ExportJob(models.Model):
    """An export the export page started; a worker writes it (datasets.jobs.run_export)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    FINISHED = frozenset({Status.DONE, Status.FAILED})

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="export_jobs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    spec = models.JSONField(default=dict)  # exporting.ExportSpec.to_mapping()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveBigIntegerField(default=0)  # judgments written so far
    total = models.PositiveBigIntegerField(default=0)  # judgments the export reads
    path = models.CharField(max_length=1000, blank=True)  # the data file (a .zip for hf)
    card = models.CharField(max_length=1000, blank=True)  # its README.md dataset card
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)  # first line: what happened, in words; the traceback below
    # Recovery (datasets.jobs.requeue_stalled): who runs the job ("host:pid:start", as rounds), and
    # its last sign of life (a queued job: when it was sent; None: not sent yet).
    runner = models.CharField(max_length=200, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["project", "-created"], name="export_job_recent"),
            models.Index(fields=["status"], name="export_job_status"),
        ]

    @property
    def is_active(self) -> bool:
        return self.status not in self.FINISHED

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    def __str__(self) -> str:
        return f"{self.project.slug} export {self.pk} ({self.status})"


class ImportJob(models.Model):
    """A file import a page or the API started; a worker reads the stored file and writes it
    (datasets.import_jobs.run_import), all or nothing."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    class Kind(models.TextChoices):
        PROMPTS = "prompts"
        PREFERENCES = "preferences"
        COMPARISONS = "comparisons"

    class Phase(models.TextChoices):
        CHECKING = "checking"  # the first pass: every line checked, none kept
        WRITING = "writing"  # the second: written in batches, in one transaction

    FINISHED = frozenset({Status.DONE, Status.FAILED})

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="import_jobs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PROMPTS)
    fmt = models.CharField(max_length=32, blank=True)  # preferences: imports.PREFERENCE_FORMATS
    name = models.CharField(max_length=255)  # the uploaded file's name (the imported rows' source)
    path = models.CharField(max_length=1000, blank=True)  # ARTIFACT_ROOT/<slug>/imports/<id>/<file>
    size = models.PositiveBigIntegerField(default=0)  # bytes stored
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=16, choices=Phase.choices, blank=True)
    done = models.PositiveBigIntegerField(default=0)  # lines checked, then lines written
    total = models.PositiveBigIntegerField(default=0)  # 0 while checking; then the lines checked
    counts = models.JSONField(default=dict, blank=True)  # imports.ImportResult's fields
    error = models.TextField(blank=True)  # first line: `line N, field 'x': ...`; the traceback below
    # Recovery, as ExportJob's (datasets.job_runs.requeue_stalled).
    runner = models.CharField(max_length=200, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["project", "-created"], name="import_job_recent"),
            models.Index(fields=["status"], name="import_job_status"),
        ]

    @property
    def is_active(self) -> bool:
        return self.status not in self.FINISHED

    @property
    def percent(self) -> int:
        """The second pass's share written (the first pass's length is not known ahead)."""
        if self.status == self.Status.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    def __str__(self) -> str:
        return f"{self.project.slug} import {self.pk} ({self.status})"
