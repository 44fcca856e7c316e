"""Policy versions: list, and activate one (roll back or forward), as the policies page does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from webapp.api.endpoints.common import Page, project_or_404
from webapp.api.errors import ApiError
from webapp.api.pagination import DEFAULT_LIMIT, page
from webapp.catalog.models import PolicyVersion
from webapp.projects.permissions import can_manage_policies, can_view
from webapp.rounds import services as round_services

router = Router(tags=["policies"])


class PolicyOut(Schema):
    number: int
    status: str  # ready, active, retired
    parent: int | None
    base_model: str
    metrics: dict[str, Any]
    created: datetime


class PolicyPage(Page):
    items: list[PolicyOut]


def _out(policy: PolicyVersion) -> dict:
    return {
        "number": policy.number,
        "status": policy.status,
        "parent": policy.parent.number if policy.parent else None,
        "base_model": policy.base_model,
        "metrics": policy.metrics,
        "created": policy.created,
    }


@router.get(
    "/projects/{slug}/policies", response=PolicyPage, operation_id="policies_list", url_name="policies_list"
)
def policies_list(request: HttpRequest, slug: str, cursor: str | None = None, limit: int = DEFAULT_LIMIT):
    """The project's policy versions, newest first."""
    project = project_or_404(request, slug, can_view)
    rows = PolicyVersion.objects.filter(project=project).select_related("parent")
    items, next_cursor = page(rows, ("-number",), cursor, limit)
    return {"items": [_out(p) for p in items], "next": next_cursor}


@router.post(
    "/projects/{slug}/policies/{number}/activate",
    response=PolicyOut,
    operation_id="policies_activate",
    url_name="policies_activate",
)
def policies_activate(request: HttpRequest, slug: str, number: int):
    """Serve version `number`; the next comparisons come from it. 409 while a round runs or when
    its checkpoint is missing."""
    project = project_or_404(request, slug, can_manage_policies)
    if not PolicyVersion.objects.filter(project=project, number=number).exists():
        raise ApiError(404, f"the project has no policy version {number}")
    try:
        policy = round_services.activate_policy(project, number)
    except round_services.RoundError as exc:
        raise ApiError(409, f"v{number} not activated: {exc}") from exc
    policy.refresh_from_db()
    return _out(policy)
