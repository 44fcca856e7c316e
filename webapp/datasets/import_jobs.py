"""File imports as background jobs: the import page or the API stores the upload, a worker
imports it, the page (or a client) follows it.

`start_import` streams the upload to ARTIFACT_ROOT/<slug>/imports/<job id>/, saves an ImportJob
and sends `workers.tasks.imports.run_import_job` once the transaction commits; `run_import` is the
task's body: the `imports.*` function of the job's kind reads the stored file, reporting its two
passes as phases (checking: lines checked; writing: lines written of those checked). A bad line
fails the job with its `line N, field 'x'` error and writes nothing. The job's life (claim,
heartbeat, throttled progress, recovery) is `job_runs`', shared with the export jobs.

Re-running a stalled import is safe: an import's writes are one transaction (`imports._run`), so
an attempt killed mid-write committed nothing, and the next attempt imports the file whole, once
(tests/datasets/test_import_job_recovery.py kills one in its second pass).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import transaction
from django.shortcuts import get_object_or_404

from webapp.datasets import imports, job_runs
from webapp.datasets.models import ImportJob
from webapp.datasets.readers import ImportFileError, opened
from webapp.projects.models import Project
from webapp.projects.permissions import allowed, can_import_prompts

Status = ImportJob.Status
TASK = "workers.tasks.imports.run_import_job"
IMPORTS = job_runs.JobKind(
    ImportJob, TASK, "import", reset=("phase", "counts", "error"), expected=(ImportFileError,)
)
CHUNK = 1024 * 1024


def import_dir(job: ImportJob) -> Path:
    return Path(settings.ARTIFACT_ROOT) / job.project.slug / "imports" / str(job.pk)


def _stored_name(name: str) -> str:
    """The file's own name, without a directory, never empty (it becomes a path under the job's)."""
    clean = "".join(ch for ch in Path(name.replace("\\", "/")).name if ch.isprintable()).strip(". ")
    return clean[:200] or "upload"


def _copy(source: IO[bytes] | Path, target: Path) -> int:
    """Copy in chunks (an upload's `chunks()`, or a file), never the whole in memory; bytes copied."""
    size = 0
    with target.open("wb") as out:
        if isinstance(source, Path):
            with source.open("rb") as handle:
                shutil.copyfileobj(handle, out, CHUNK)
            return target.stat().st_size
        chunks = source.chunks(CHUNK) if hasattr(source, "chunks") else iter(lambda: source.read(CHUNK), b"")
        for chunk in chunks:
            out.write(chunk)
            size += len(chunk)
    return size


def start_import(
    project: Project, user, upload_or_path: IO[bytes] | Path, name: str, kind: str, fmt: str = ""
) -> ImportJob:
    """Store the file and save a queued job; its task is sent once the transaction commits (a
    broker that cannot be reached fails the job at once, with the reason). An unknown kind or
    format is refused here, before anything is stored."""
    if kind not in ImportJob.Kind.values:
        raise ImportFileError(f"unknown kind {kind!r}; choose one of {', '.join(ImportJob.Kind.values)}")
    if kind == ImportJob.Kind.PREFERENCES and fmt not in imports.PREFERENCE_FORMATS:
        raise ImportFileError(
            f"unknown format {fmt!r}; choose one of {', '.join(imports.PREFERENCE_FORMATS)}"
        )
    with transaction.atomic():
        job = ImportJob.objects.create(
            project=project,
            requested_by=user if user is not None and user.is_authenticated else None,
            kind=kind,
            fmt=fmt if kind == ImportJob.Kind.PREFERENCES else "",
            name=(name or "upload")[:255],
        )
        directory = import_dir(job)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / _stored_name(name)
        job.size = _copy(upload_or_path, path)
        job.path = str(path)
        job.save(update_fields=["size", "path"])
        job_runs.start(IMPORTS, job)
    return job


def job_for(user, project: Project, job_id: int) -> ImportJob:
    """The project's job `job_id` for a user who may import into it; 404 for another project's."""
    allowed(user, project, can_import_prompts)
    return get_object_or_404(ImportJob.objects.select_related("project"), project=project, pk=job_id)


def recent_jobs(project: Project, limit: int = 10) -> list[ImportJob]:
    return list(ImportJob.objects.filter(project=project).select_related("requested_by")[:limit])


def summary(job: ImportJob) -> str:
    """What a finished job imported, in words (the page's line)."""
    counts = job.counts or {}

    def plural(count: int, noun: str) -> str:
        return f"{count:,} {noun}{'s' if count != 1 else ''}"

    prompts = plural(counts.get("prompts", 0), "prompt")
    if job.kind == ImportJob.Kind.PREFERENCES:
        return f"{plural(counts.get('judgments', 0), 'judged pair')} ({job.fmt}) of {prompts}"
    if job.kind == ImportJob.Kind.COMPARISONS:
        return f"{plural(counts.get('comparisons', 0), 'comparison')} of {prompts} to judge"
    return prompts


def _import(job: ImportJob, progress: job_runs.Progress) -> dict:
    with opened(job.path) as handle:
        return _import_file(job, handle, progress)


def _import_file(job: ImportJob, path, progress: job_runs.Progress) -> dict:
    cap = settings.PREFLOOP_MAX_IMPORT_BYTES
    if job.kind == ImportJob.Kind.PREFERENCES:
        result = imports.import_preferences(job.project, path, job.name, job.fmt, cap, progress=progress)
    elif job.kind == ImportJob.Kind.COMPARISONS:
        result = imports.import_comparisons(job.project, path, job.name, cap, progress=progress)
    else:
        result = imports.ImportResult(
            prompts=imports.import_prompt_file(job.project, path, job.name, cap, progress=progress)
        )
    counts = {"prompts": result.prompts, "comparisons": result.comparisons, "judgments": result.judgments}
    return {"counts": counts}


def run_import(job_id: int) -> ImportJob | None:
    """Import the job's stored file (the task's body); the job as it ended, or None when this
    delivery had nothing to do. A bad file is recorded on the job (`line N, field 'x': ...`)."""
    return job_runs.run(IMPORTS, job_id, _import)


def requeue_stalled(by: str) -> list[int]:
    """Send again every import job whose worker died, or that was never sent (`job_runs`)."""
    return job_runs.requeue_stalled(IMPORTS, by)
