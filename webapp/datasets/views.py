"""Export preference data from the browser in any supported format."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render

from webapp.datasets import services
from webapp.projects.permissions import Capabilities, can_export, project_for


@login_required
def export(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug, check=can_export)
    fmt = request.GET.get("format")
    if fmt is None:
        _, counts = services.preference_records(project)
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
        path, _ = services.export_preferences(
            project, fmt, Path(tmp) / services.export_filename(project, fmt)
        )
        handle = open(path, "rb")  # stays readable after the directory is removed (POSIX)
    return FileResponse(handle, as_attachment=True, filename=path.name)
