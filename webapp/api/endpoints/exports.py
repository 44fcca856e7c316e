"""Exports as background jobs (`datasets.jobs`): start one, follow it, download the file and its
dataset card, as the export page does."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from django.http import FileResponse, Http404, HttpRequest
from django.urls import reverse
from ninja import Router, Schema

from webapp.api.endpoints.common import project_or_404
from webapp.api.errors import ApiError
from webapp.datasets import jobs
from webapp.datasets.models import ExportJob
from webapp.datasets.views import error_for
from webapp.projects.models import Project
from webapp.projects.permissions import can_export

router = Router(tags=["exports"])


class ExportIn(Schema):
    """An export spec (`datasets.exporting.ExportSpec`): format, aggregation, filters."""

    fmt: str  # trl, trl-standard, hh, parquet, hf, raw
    aggregation: str = "all"  # all, majority, unanimous
    rounds: list[int] | None = None  # the comparisons' round numbers (0: no round)
    after: datetime | None = None  # judgments created after (exclusive)
    before: datetime | None = None  # ... and at or before (inclusive)
    annotators: list[str] | None = None  # usernames
    sources: list[str] | None = None  # Judgment.source values ("" = judged here)


class ExportOut(Schema):
    id: int
    status: str  # queued, running, done, failed
    active: bool
    spec: dict[str, Any]
    done: int  # judgments written so far
    total: int
    percent: int
    counts: dict[str, Any]
    error: str  # staff: with its traceback; others: its first line
    created: datetime
    finished: datetime | None
    download: str | None  # the file, once done
    card: str | None  # its README.md dataset card, once done


def _out(request: HttpRequest, project: Project, job: ExportJob) -> dict:
    done = job.status == ExportJob.Status.DONE
    args = {"slug": project.slug, "job_id": job.pk}
    return {
        "id": job.pk,
        "status": job.status,
        "active": job.is_active,
        "spec": job.spec,
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "counts": job.counts,
        "error": error_for(request.user, project, job),
        "created": job.created,
        "finished": job.finished,
        "download": reverse("api:exports_download", kwargs=args) if done else None,
        "card": reverse("api:exports_card", kwargs=args) if done else None,
    }


@router.post(
    "/projects/{slug}/exports",
    response={201: ExportOut},
    operation_id="exports_start",
    url_name="exports_start",
)
def exports_start(request: HttpRequest, slug: str, payload: ExportIn):
    """Start an export job; a worker writes the file. 422 names a bad field of the spec. A job
    whose sending failed comes back `failed`, with the reason."""
    from webapp.datasets import exporting

    project = project_or_404(request, slug, can_export)
    try:
        spec = exporting.ExportSpec.from_mapping(payload.model_dump(exclude_none=True))
    except ValueError as exc:
        raise ApiError(422, str(exc)) from exc
    job = jobs.start_export(project, request.user, spec)
    job.refresh_from_db()  # sending happens on commit, and may have failed
    return 201, _out(request, project, job)


@router.get(
    "/projects/{slug}/exports/{job_id}",
    response=ExportOut,
    operation_id="exports_status",
    url_name="exports_status",
)
def exports_status(request: HttpRequest, slug: str, job_id: int):
    """The job's status and progress: what the export page polls."""
    project = project_or_404(request, slug, can_export)
    return _out(request, project, jobs.job_for(request.user, project, job_id))


def _finished_file(request: HttpRequest, slug: str, job_id: int, which: str) -> Path:
    project = project_or_404(request, slug, can_export)
    job = jobs.job_for(request.user, project, job_id)
    name = getattr(job, which)
    path = Path(name) if job.status == ExportJob.Status.DONE and name else None
    if path is None or not path.is_file():
        raise Http404(f"export {job_id} has no file (yet, or any more); its status is {job.status}")
    return path


@router.get(
    "/projects/{slug}/exports/{job_id}/download",
    response={200: bytes},
    operation_id="exports_download",
    url_name="exports_download",
)
def exports_download(request: HttpRequest, slug: str, job_id: int):
    """A finished job's data file (the hf format as one .zip); 404 until it is done."""
    path = _finished_file(request, slug, job_id, "path")
    return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name)


@router.get(
    "/projects/{slug}/exports/{job_id}/card",
    response={200: bytes},
    operation_id="exports_card",
    url_name="exports_card",
)
def exports_card(request: HttpRequest, slug: str, job_id: int):
    """A finished job's dataset card (README.md, Hugging Face card format)."""
    path = _finished_file(request, slug, job_id, "card")
    name = f"{slug}-export-{job_id}-README.md"
    return FileResponse(open(path, "rb"), as_attachment=True, filename=name, content_type="text/markdown")
