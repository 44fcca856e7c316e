"""What every endpoint shares: finding the project as the web pages do, and page parameters."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from ninja import Schema

from webapp.projects.models import Project
from webapp.projects.permissions import Check, allowed, can_view, project_for


def project_or_404(request: HttpRequest, slug: str, check: Check) -> Project:
    """The project by slug with the user's role read with it, through `permissions.project_for`:
    404 for a project the user may not see (so a token cannot probe which slugs exist),
    403 for one they see but whose `check` their role fails."""
    try:
        project = project_for(request.user, slug, check=can_view)
    except PermissionDenied as exc:
        raise Http404("No such project.") from exc
    return allowed(request.user, project, check)


def visible_or_404(request: HttpRequest, project: Project | None, check: Check) -> Project:
    """The same for a project read another way (the queue's query, which adds the user's role)."""
    if project is None or not can_view(request.user, project):
        raise Http404("No such project.")
    return allowed(request.user, project, check)


class Page(Schema):
    """A page of a list: `next` is the cursor of the following page (null on the last)."""

    next: str | None
