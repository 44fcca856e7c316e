"""Export preference data from the browser in any supported format; import prompts, preferences
and comparisons into it."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.db.models import Count
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from webapp.annotation.models import Comparison, Judgment
from webapp.catalog.models import Prompt
from webapp.datasets import exporting, imports, services
from webapp.datasets.forms import PromptImportForm
from webapp.datasets.readers import ImportFileError
from webapp.projects.models import Project
from webapp.projects.permissions import Capabilities, can_export, can_import_prompts, project_for


@login_required
def export(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug, check=can_export)
    fmt = request.GET.get("format")
    if fmt is None:
        counts = exporting.export_counts(project)
        return render(
            request,
            "datasets/export.html",
            {
                "project": project,
                "formats": services.EXPORT_FORMATS,
                "counts": counts,
                "can": Capabilities(request.user, project),
            },
        )
    if fmt not in services.EXPORT_FORMATS:
        return HttpResponse(f"unknown format {fmt!r}", status=400, content_type="text/plain")
    with tempfile.TemporaryDirectory(prefix="prefloop-export-") as tmp:
        out = Path(tmp) / services.export_filename(project, fmt)
        path = exporting.export(project, exporting.ExportSpec(fmt), out).path
        handle = open(path, "rb")  # stays readable after the directory is removed (POSIX)
    return FileResponse(handle, as_attachment=True, filename=path.name)


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
    try:
        done = _import_upload(project, upload, kind, form.cleaned_data["format"])
    except ImportFileError as exc:
        return _import_page(request, project, form, f"Nothing was imported: {exc}.", 400)
    messages.success(request, f"Imported {done} from {upload.name}.")
    return redirect("datasets:import_prompts", slug=project.slug)


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
