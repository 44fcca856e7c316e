"""Project list and project page (queue state, policy versions, rounds, start button)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from webapp.projects import services
from webapp.projects.models import Project
from webapp.projects.permissions import can_export, can_manage, project_for


@login_required
def home(request: HttpRequest) -> HttpResponse:
    projects = Project.objects.order_by("name")
    if not request.user.is_staff:  # one query, not one per project (can_annotate's rule)
        projects = projects.filter(annotators=request.user)
    return render(request, "projects/home.html", {"projects": projects})


@login_required
def detail(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug)
    context = services.project_overview(project)
    context.update(
        project=project,
        can_manage=can_manage(request.user, project),
        can_export=can_export(request.user, project),
    )
    return render(request, "projects/detail.html", context)


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
