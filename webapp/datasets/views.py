"""Export preference data from the browser as background jobs; import prompts into it."""

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

from webapp.annotation.models import Judgment
from webapp.catalog.models import Prompt
from webapp.datasets import exporting, jobs, services
from webapp.datasets.forms import PromptImportForm
from webapp.datasets.models import ExportJob
from webapp.projects.models import Project
from webapp.projects.permissions import (
    Capabilities,
    can_export,
    can_import_prompts,
    can_see_tracebacks,
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
    job.refresh_from_db()  # sending happens on commit, and may have failed
    if job.status == ExportJob.Status.FAILED:
        messages.error(request, f"Export {job.pk} not started: {error_summary(job.error)}")
    else:
        messages.success(request, f"Export {job.pk} ({spec.fmt}) queued; this page follows it.")
    return redirect("datasets:export", slug=project.slug)


def error_summary(error: str) -> str:
    """The first line of a job's error: what happened, in words (the traceback follows it)."""
    return error.strip().splitlines()[0] if error.strip() else ""


def error_for(user, project: Project, job: ExportJob) -> str:
    """Staff see the whole error with its traceback (server paths, code); everyone else its first
    line (as a failed round's)."""
    return job.error if can_see_tracebacks(user, project) else error_summary(job.error)


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
    }
    return render(request, "datasets/import.html", context, status=status)


@csrf_exempt  # checked by csrf_protect below, once the upload's handler is in place (Django's way)
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def import_prompts(request: HttpRequest, slug: str) -> HttpResponse:
    """Upload a JSON lines file of prompts; all or nothing. Refused before the body is read when
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
        error = (
            f"the file is over {limit} bytes, this page's limit; split it, or use `manage.py import_prompts`"
        )
        return _import_page(request, project, PromptImportForm(), f"Nothing was imported: {error}.", 413)
    if not form.is_valid():
        return _import_page(request, project, form, "Nothing was imported: choose a file.", 400)
    upload = form.cleaned_data["file"]
    try:
        count = services.import_prompt_file(project, upload, upload.name, settings.PREFLOOP_MAX_IMPORT_BYTES)
    except services.PromptImportError as exc:
        return _import_page(request, project, PromptImportForm(), f"Nothing was imported: {exc}.", 400)
    messages.success(request, f"Imported {count} prompt{'s' if count != 1 else ''} from {upload.name}.")
    return redirect("datasets:import_prompts", slug=project.slug)
