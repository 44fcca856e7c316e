"""Exports as background jobs: the page starts one, a worker writes it, the page follows it.

`start_export` saves an ExportJob and sends `workers.tasks.export.run_export_job` once the
transaction commits; `run_export` is the task's body: it writes the file under
ARTIFACT_ROOT/<slug>/exports/<job id>/ with `exporting.export`, and records progress and counts on
the row. The job's life (claim under lock, heartbeat, throttled progress, errors, recovery of a
job whose worker died) is `job_runs`', shared with the import jobs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings
from django.shortcuts import get_object_or_404

from webapp.datasets import job_runs, services
from webapp.datasets.job_runs import Superseded, first_line, nobody_runs  # noqa: F401 (this module's API)
from webapp.datasets.models import ExportJob
from webapp.projects.models import Project
from webapp.projects.permissions import allowed, can_export

Status = ExportJob.Status
TASK = "workers.tasks.export.run_export_job"
EXPORTS = job_runs.JobKind(ExportJob, TASK, "export")


def start_export(project: Project, user, spec) -> ExportJob:
    """Save a queued job for `spec` (an exporting.ExportSpec) and send it once the transaction
    commits. A broker that cannot be reached fails the job at once, with the reason."""
    job = ExportJob.objects.create(
        project=project,
        requested_by=user if user is not None and user.is_authenticated else None,
        spec=spec.to_mapping(),
    )
    job_runs.start(EXPORTS, job)
    return job


def send(job_id: int) -> None:
    job_runs.send(EXPORTS, job_id)


def job_for(user, project: Project, job_id: int) -> ExportJob:
    """The project's job `job_id` for a user who may export it; 404 for another project's job."""
    allowed(user, project, can_export)
    return get_object_or_404(ExportJob.objects.select_related("project"), project=project, pk=job_id)


def recent_jobs(project: Project, limit: int = 10) -> list[ExportJob]:
    return list(ExportJob.objects.filter(project=project).select_related("requested_by")[:limit])


def export_dir(job: ExportJob) -> Path:
    return Path(settings.ARTIFACT_ROOT) / job.project.slug / "exports" / str(job.pk)


def _write(job: ExportJob, progress: job_runs.Progress) -> dict:
    from webapp.datasets import exporting

    spec = exporting.ExportSpec.from_mapping(job.spec)
    directory = export_dir(job)
    if directory.exists():  # a dead attempt's half-written files
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    result = exporting.export(
        job.project,
        spec,
        directory / services.export_filename(job.project, spec.fmt),
        archive=spec.fmt == "hf",  # a directory is downloaded as one .zip
        progress=progress,
    )
    judgments = int(result.counts.get("judgments", 0))
    return {
        "path": str(result.path),
        "card": str(result.card),
        "counts": result.counts,
        "done": judgments,
        "total": judgments,
    }


def run_export(job_id: int) -> ExportJob | None:
    """Write the job's export (the task's body). Returns the job as it ended, or None when this
    delivery had nothing to do. A failure is recorded on the job, not raised: the page shows it."""
    return job_runs.run(EXPORTS, job_id, _write)


def requeue_stalled(by: str) -> list[int]:
    """Send again every export job whose worker died, or that was never sent (`job_runs`)."""
    return job_runs.requeue_stalled(EXPORTS, by)
