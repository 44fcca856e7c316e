"""Projects: the ones the token's user may see, and one with its counts."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count
from django.http import HttpRequest
from ninja import Router, Schema

from webapp.annotation.models import Comparison, Judgment
from webapp.api.endpoints.common import Page, project_or_404
from webapp.api.pagination import DEFAULT_LIMIT, page
from webapp.catalog.models import Prompt
from webapp.projects.models import Project
from webapp.projects.permissions import Capabilities, can_view, identity, visible_projects

router = Router(tags=["projects"])


class ProjectOut(Schema):
    slug: str
    name: str
    role: str  # the user's column of the role table: viewer, annotator, admin, staff
    overlap: int
    active_policy: int | None
    created: datetime


class ProjectPage(Page):
    items: list[ProjectOut]


class ProjectCounts(Schema):
    prompts: int
    comparisons_pending: int
    comparisons_complete: int
    comparisons_retired: int
    judgments: int
    rounds: int
    policies: int


class ProjectDetail(ProjectOut):
    guidelines: str
    counts: ProjectCounts
    can: dict[str, bool]  # what this user may do here, action by action (roles.ACTIONS)


def _out(request: HttpRequest, project: Project) -> dict:
    return {
        "slug": project.slug,
        "name": project.name,
        "role": identity(request.user, project),
        "overlap": project.overlap,
        "active_policy": project.active_policy.number if project.active_policy else None,
        "created": project.created,
    }


@router.get("/projects", response=ProjectPage, operation_id="projects_list", url_name="projects_list")
def projects_list(request: HttpRequest, cursor: str | None = None, limit: int = DEFAULT_LIMIT):
    """The projects on the user's list (`permissions.visible_projects`: staff see all), by name."""
    rows = visible_projects(request.user).select_related("active_policy")
    items, next_cursor = page(rows, ("name", "id"), cursor, limit)
    return {"items": [_out(request, project) for project in items], "next": next_cursor}


@router.get(
    "/projects/{slug}", response=ProjectDetail, operation_id="projects_detail", url_name="projects_detail"
)
def projects_detail(request: HttpRequest, slug: str):
    """One project with its counts and what this user may do in it."""
    project = project_or_404(request, slug, can_view)
    by_status = dict(
        Comparison.objects.filter(project=project)
        .order_by()
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    counts = {
        "prompts": Prompt.objects.filter(project=project).count(),
        "comparisons_pending": by_status.get(Comparison.Status.PENDING, 0),
        "comparisons_complete": by_status.get(Comparison.Status.COMPLETE, 0),
        "comparisons_retired": by_status.get(Comparison.Status.RETIRED, 0),
        "judgments": Judgment.objects.filter(comparison__project=project).count(),
        "rounds": project.rounds.count(),
        "policies": project.policies.count(),
    }
    can = Capabilities(request.user, project)
    return {**_out(request, project), "guidelines": project.guidelines, "counts": counts, "can": dict(can)}
