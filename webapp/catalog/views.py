"""The policy versions page: read-only for now (activate and roll back come with a later issue)."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from webapp.catalog.history import policy_history
from webapp.projects.permissions import can_manage, project_for


@login_required
def policies(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug)
    return render(
        request,
        "catalog/policies.html",
        {"project": project, "rows": policy_history(project), "can_manage": can_manage(request.user, project)},
    )
