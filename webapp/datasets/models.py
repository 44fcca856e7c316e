"""Web exports and file imports run as background jobs: one ExportJob or ImportJob row per
request, its file under ARTIFACT_ROOT. Their life (status, progress, recovery) is `BackgroundJob`'s
fields, which datasets.job_runs drives for both.

Round dataset snapshots are files under ARTIFACT_ROOT recorded on their TrainingRound.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class BackgroundJob(models.Model):
    """What every job a worker runs holds: who asked, its status and progress, its error, and
    what recovery reads (datasets.job_runs.requeue_stalled)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    FINISHED = frozenset({Status.DONE, Status.FAILED})

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)  # first line: what happened, in words; the traceback below
    # Who runs the job ("host:pid:start", as rounds), and its last sign of life (a queued job:
    # when it was sent; None: not sent yet).
    runner = models.CharField(max_length=200, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created", "-id"]

    @property
    def is_active(self) -> bool:
        return self.status not in self.FINISHED

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0


class ExportJob(BackgroundJob):
    """An export the export page started; a worker writes it (datasets.jobs.run_export).
    done/total: judgments written so far, of those the export reads."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="export_jobs")
    spec = models.JSONField(default=dict)  # exporting.ExportSpec.to_mapping()
    path = models.CharField(max_length=1000, blank=True)  # the data file (a .zip for hf)
    card = models.CharField(max_length=1000, blank=True)  # its README.md dataset card

    class Meta(BackgroundJob.Meta):
        indexes = [
            models.Index(fields=["project", "-created"], name="export_job_recent"),
            models.Index(fields=["status"], name="export_job_status"),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug} export {self.pk} ({self.status})"


class ImportJob(BackgroundJob):
    """A file import a page or the API started; a worker reads the stored file and writes it
    (datasets.import_jobs.run_import), all or nothing. done/total: lines checked (total 0, not
    known yet) in the checking phase, then lines written of those checked; counts:
    imports.ImportResult's fields; error: `line N, field 'x': ...` for a bad line."""

    class Kind(models.TextChoices):
        PROMPTS = "prompts"
        PREFERENCES = "preferences"
        COMPARISONS = "comparisons"

    class Phase(models.TextChoices):
        CHECKING = "checking"  # the first pass: every line checked, none kept
        WRITING = "writing"  # the second: written in batches, in one transaction

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="import_jobs")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PROMPTS)
    fmt = models.CharField(max_length=32, blank=True)  # preferences: imports.PREFERENCE_FORMATS
    name = models.CharField(max_length=255)  # the uploaded file's name (the imported rows' source)
    path = models.CharField(max_length=1000, blank=True)  # ARTIFACT_ROOT/<slug>/imports/<id>/<file>
    size = models.PositiveBigIntegerField(default=0)  # bytes stored
    phase = models.CharField(max_length=16, choices=Phase.choices, blank=True)

    class Meta(BackgroundJob.Meta):
        indexes = [
            models.Index(fields=["project", "-created"], name="import_job_recent"),
            models.Index(fields=["status"], name="import_job_status"),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug} import {self.pk} ({self.status})"
