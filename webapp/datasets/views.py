"""Export preference data from the browser as background jobs; import prompts, preferences and
comparisons into it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from webapp.annotation.models import Comparison, Judgment
from webapp.catalog.models import Prompt
from webapp.datasets import exporting, import_jobs, imports, jobs, services
from webapp.datasets.forms import PromptImportForm
from webapp.datasets.job_runs import error_for, error_summary
from webapp.datasets.models import ExportJob, ImportJob
from webapp.datasets.readers import ImportFileError
from webapp.projects.models import Project
from webapp.projects.permissions import (
    Capabilities,
    can_export,
    can_import_prompts,
    project_for,
)

EXPORT_FIELDS = ("fmt", "aggregation", "rounds", "after", "before", "annotators", "sources")
LIST_FIELDS = ("rounds", "annotators")  # comma-separated on the form


def spec_mapping(post) -> dict[str, Any]:
    """The export form's fields as exporting.ExportSpec.from_mapping takes them: empty fields
    left out (no filter), comma lists split, the sources' checkboxes as a list."""
    data: dict[str, Any] = {}
    for name in EXPORT_FIELDS:
        if name == "sources":
            if "sources" in post:
                data["sources"] = post.getlist("sources")
            continue
        value = post.get(name, "").strip()
        if not value:
            continue
        data[name] = (
            [part.strip() for part in value.split(",") if part.strip()] if name in LIST_FIELDS else value
        )
    return data


def _sources(project: Project) -> list[str]:
    """The judgments' sources ("" = judged here), for the form's checkboxes: one DISTINCT over
    the indexed column."""
    judgments = Judgment.objects.filter(comparison__project=project).order_by()
    return sorted(judgments.values_list("source", flat=True).distinct())


def _export_page(
    request: HttpRequest, project: Project, values=None, error: str = "", status: int = 200
) -> HttpResponse:
    context = {
        "project": project,
        "can": Capabilities(request.user, project),
        "formats": services.EXPORT_FORMATS,
        "aggregations": exporting.AGGREGATIONS,
        "counts": exporting.export_counts(project),
        "sources": _sources(project),
        "values": values or {"fmt": "trl", "aggregation": "all"},
        "error": error,
        "jobs": [(job, error_for(request.user, project, job)) for job in jobs.recent_jobs(project)],
    }
    return render(request, "datasets/export.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def export(request: HttpRequest, slug: str) -> HttpResponse:
    """The export form and the project's recent export jobs; a POST starts a job (a worker
    writes the file; the page follows its progress and links the download when it is done)."""
    project = project_for(request.user, slug, check=can_export)
    if request.method != "POST":
        return _export_page(request, project)
    values = {name: request.POST.get(name, "") for name in EXPORT_FIELDS}
    values["sources"] = request.POST.getlist("sources")
    try:
        spec = exporting.ExportSpec.from_mapping(spec_mapping(request.POST))
    except ValueError as exc:
        return _export_page(request, project, values, f"Nothing was exported: {exc}.", 400)
    job = jobs.start_export(project, request.user, spec)
    _say_started(request, job, f"Export {job.pk}", f"({spec.fmt})")
    return redirect("datasets:export", slug=project.slug)


def _say_started(request: HttpRequest, job, name: str, what: str) -> None:
    """The message after a POST that started a job: queued, or why it was not sent."""
    job.refresh_from_db()  # sending happens on commit, and may have failed
    if job.status == job.Status.FAILED:
        messages.error(request, f"{name} not started: {error_summary(job.error)}")
    else:
        messages.success(request, f"{name} {what} queued; this page follows it.")


def job_json(user, project: Project, job: ExportJob) -> dict[str, Any]:
    done = job.status == ExportJob.Status.DONE
    return {
        "id": job.pk,
        "status": job.status,
        "active": job.is_active,
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "counts": job.counts,
        "error": error_for(user, project, job),
        "download": reverse("datasets:export_download", args=[project.slug, job.pk]) if done else None,
        "card": reverse("datasets:export_card", args=[project.slug, job.pk]) if done else None,
    }


@login_required
def export_progress(request: HttpRequest, slug: str, job_id: int) -> JsonResponse:
    """What the export page polls for each running job."""
    project = project_for(request.user, slug, check=can_export)
    job = jobs.job_for(request.user, project, job_id)
    return JsonResponse(job_json(request.user, project, job))


def _finished_file(request: HttpRequest, slug: str, job_id: int, which: str) -> Path:
    project = project_for(request.user, slug, check=can_export)
    job = jobs.job_for(request.user, project, job_id)
    path = Path(getattr(job, which)) if job.status == ExportJob.Status.DONE and getattr(job, which) else None
    if path is None or not path.is_file():
        raise Http404("This export has no file (yet, or any more).")
    return path


@login_required
def export_download(request: HttpRequest, slug: str, job_id: int) -> FileResponse:
    """A finished job's data file (the hf format as one .zip)."""
    path = _finished_file(request, slug, job_id, "path")
    return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name)


@login_required
def export_card(request: HttpRequest, slug: str, job_id: int) -> FileResponse:
    """A finished job's dataset card (README.md, Hugging Face card format)."""
    path = _finished_file(request, slug, job_id, "card")
    name = f"{slug}-export-{job_id}-README.md"
    return FileResponse(open(path, "rb"), as_attachment=True, filename=name, content_type="text/markdown")


class CappedUploadHandler(FileUploadHandler):
    """Stops storing an upload once it passes `max_bytes` (the rest of the body is read and
    dropped): an oversized file is refused without first landing on the disk whole."""

    def __init__(self, request: HttpRequest, max_bytes: int) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.exceeded = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (Django's) makes the file


def _import_page(
    request: HttpRequest, project: Project, form: PromptImportForm, error: str = "", status: int = 200
) -> HttpResponse:
    splits = dict(Prompt.objects.filter(project=project).values_list("split").annotate(n=Count("id")))
    context = {
        "project": project,
        "can": Capabilities(request.user, project),
        "form": form,
        "error": error,
        "splits": splits,
        "total": sum(splits.values()),
        "max_bytes": settings.PREFLOOP_MAX_IMPORT_BYTES,
        "pending": Comparison.objects.filter(project=project, status=Comparison.Status.PENDING).count(),
        "imported": Judgment.objects.filter(comparison__project=project).exclude(source="").count(),
        "job_bytes": settings.PREFLOOP_IMPORT_JOB_BYTES,
        "jobs": [
            (job, error_for(request.user, project, job), import_jobs.summary(job))
            for job in import_jobs.recent_jobs(project)
        ],
    }
    return render(request, "datasets/import.html", context, status=status)


@csrf_exempt  # checked by csrf_protect below, once the upload's handler is in place (Django's way)
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def import_prompts(request: HttpRequest, slug: str) -> HttpResponse:
    """Upload a file of prompts, preferences or comparisons to judge; all or nothing. Refused before the body is read when
    the user may not; a bad line, a bad file or one too large imports nothing and says why (400,
    413)."""
    project = project_for(request.user, slug, check=can_import_prompts)
    cap = CappedUploadHandler(request, settings.PREFLOOP_MAX_IMPORT_BYTES)
    request.upload_handlers.insert(0, cap)
    return _import_prompts(request, project, cap)


@csrf_protect
def _import_prompts(request: HttpRequest, project: Project, cap: CappedUploadHandler) -> HttpResponse:
    if request.method != "POST":
        return _import_page(request, project, PromptImportForm())
    form = PromptImportForm(request.POST, request.FILES)
    if cap.exceeded:
        limit = f"{settings.PREFLOOP_MAX_IMPORT_BYTES:,}"
        error = f"the file is over {limit} bytes, this page's limit; split it, or import it with `manage.py`"
        return _import_page(request, project, PromptImportForm(), f"Nothing was imported: {error}.", 413)
    if not form.is_valid():
        return _import_page(request, project, form, "Nothing was imported: choose a file.", 400)
    upload = form.cleaned_data["file"]
    kind = form.cleaned_data["kind"]
    if upload.size > settings.PREFLOOP_IMPORT_JOB_BYTES:  # a worker imports it; the page follows
        return _start_job(request, project, upload, kind, form)
    try:
        done = _import_upload(project, upload, kind, form.cleaned_data["format"])
    except ImportFileError as exc:
        return _import_page(request, project, form, f"Nothing was imported: {exc}.", 400)
    messages.success(request, f"Imported {done} from {upload.name}.")
    return redirect("datasets:import_prompts", slug=project.slug)


def _start_job(request: HttpRequest, project: Project, upload, kind: str, form) -> HttpResponse:
    fmt = form.cleaned_data["format"] if kind == "preferences" else ""
    try:
        job = import_jobs.start_import(project, request.user, upload, upload.name, kind, fmt)
    except ImportFileError as exc:
        return _import_page(request, project, form, f"Nothing was imported: {exc}.", 400)
    _say_started(request, job, f"Import {job.pk}", f"of {upload.name}")
    return redirect("datasets:import_prompts", slug=project.slug)


def import_job_json(user, project: Project, job: ImportJob) -> dict[str, Any]:
    """An import job as the import page and the API show it."""
    return {
        "id": job.pk,
        "kind": job.kind,
        "format": job.fmt,
        "name": job.name,
        "size": job.size,
        "status": job.status,
        "active": job.is_active,
        "phase": job.phase,
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "counts": job.counts,
        "summary": import_jobs.summary(job) if job.status == ImportJob.Status.DONE else "",
        "error": error_for(user, project, job),
        "created": job.created,
        "finished": job.finished,
    }


@login_required
def import_progress(request: HttpRequest, slug: str, job_id: int) -> JsonResponse:
    """What the import page polls for each queued or running import job."""
    project = project_for(request.user, slug, check=can_import_prompts)
    job = import_jobs.job_for(request.user, project, job_id)
    return JsonResponse(import_job_json(request.user, project, job))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def _import_upload(project: Project, upload, kind: str, fmt: str) -> str:
    """Import the upload as `kind`; what was imported, in words."""
    cap = settings.PREFLOOP_MAX_IMPORT_BYTES
    if kind == "preferences":
        result = imports.import_preferences(project, upload, upload.name, fmt, cap)
        return f"{_plural(result.judgments, 'judged pair')} ({fmt}) of {_plural(result.prompts, 'prompt')}"
    if kind == "comparisons":
        result = imports.import_comparisons(project, upload, upload.name, cap)
        return f"{_plural(result.comparisons, 'comparison')} of {_plural(result.prompts, 'prompt')} to judge"
    return _plural(imports.import_prompt_file(project, upload, upload.name, cap), "prompt")
