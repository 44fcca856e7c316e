"""File imports as background jobs (`datasets.import_jobs`): upload a file of prompts, preferences
or comparisons, then follow the job to its counts or its `line N, field 'x'` error. The file is
streamed to disk, not read in the request, so it may be as large as PREFLOOP_MAX_IMPORT_BYTES."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest
from ninja import File, Form, Router, Schema, UploadedFile

from webapp.api.endpoints.common import project_or_404
from webapp.api.errors import ApiError
from webapp.datasets import import_jobs
from webapp.datasets.readers import ImportFileError
from webapp.datasets.views import import_job_json
from webapp.projects.permissions import can_import_prompts

router = Router(tags=["imports"])


class ImportJobOut(Schema):
    id: int
    kind: str  # prompts, preferences, comparisons
    format: str  # preferences: hh, trl, trl-standard, ultrafeedback
    name: str  # the uploaded file's name
    size: int  # bytes stored
    status: str  # queued, running, done, failed
    active: bool
    phase: str  # checking (done: lines checked), writing (done of total lines written)
    done: int
    total: int
    percent: int
    counts: dict[str, Any]  # done: prompts, comparisons, judgments
    summary: str  # done: what was imported, in words
    error: str  # failed: `line N, field 'x': ...` (staff: a crash's traceback too)
    created: datetime
    finished: datetime | None


@router.post(
    "/projects/{slug}/imports",
    response={201: ImportJobOut},
    operation_id="imports_start",
    url_name="imports_start",
)
def imports_start(
    request: HttpRequest,
    slug: str,
    file: UploadedFile = File(...),  # noqa: B008 (django-ninja declares parameters so)
    kind: Literal["prompts", "preferences", "comparisons"] = Form("prompts"),
    format: str = Form("", description="for preferences: hh, trl, trl-standard or ultrafeedback"),
):
    """Start importing an uploaded file (multipart: `file`, `kind`, `format`); a worker reads it,
    all or nothing. 413 for a file over PREFLOOP_MAX_IMPORT_BYTES, 422 for an unknown format. A job
    whose sending failed comes back `failed`, with the reason."""
    project = project_or_404(request, slug, can_import_prompts)
    if file.size > settings.PREFLOOP_MAX_IMPORT_BYTES:
        raise ApiError(413, f"the file is over {settings.PREFLOOP_MAX_IMPORT_BYTES:,} bytes; split it")
    try:
        job = import_jobs.start_import(project, request.user, file, file.name or "upload", kind, format)
    except ImportFileError as exc:
        raise ApiError(422, str(exc)) from exc
    job.refresh_from_db()  # sending happens on commit, and may have failed
    return 201, import_job_json(request.user, project, job)


@router.get(
    "/projects/{slug}/imports/{job_id}",
    response=ImportJobOut,
    operation_id="imports_status",
    url_name="imports_status",
)
def imports_status(request: HttpRequest, slug: str, job_id: int):
    """The job's status, phase and progress, then its counts or its error."""
    project = project_or_404(request, slug, can_import_prompts)
    return import_job_json(request.user, project, import_jobs.job_for(request.user, project, job_id))
