"""Web exports run as background jobs: one ExportJob row per request, its file under ARTIFACT_ROOT.

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
