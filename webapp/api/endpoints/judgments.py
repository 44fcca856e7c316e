"""Judgments: list with filters, oldest first, a page at a time (what a script drains)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema

from webapp.annotation.models import Judgment
from webapp.api.endpoints.common import Page, project_or_404
from webapp.api.errors import ApiError
from webapp.api.pagination import DEFAULT_LIMIT, page
from webapp.projects.permissions import can_export, can_see_annotators

router = Router(tags=["judgments"])


class JudgmentOut(Schema):
    id: int
    comparison: int
    prompt: int
    response_a: int
    response_b: int
    round: int | None  # the number of the round that generated the comparison
    annotator_id: int  # as the exports give it
    annotator: str | None  # the username, for those who may see each annotator (project admins, staff)
    choice: str  # stored terms: a, b, tie, both_bad
    strength: int
    reason: str
    seconds_spent: float
    source: str  # "" = judged here; imported: "<format>:<file or source name>"
    created: datetime


class JudgmentPage(Page):
    items: list[JudgmentOut]


@router.get(
    "/projects/{slug}/judgments",
    response=JudgmentPage,
    operation_id="judgments_list",
    url_name="judgments_list",
)
def judgments_list(
    request: HttpRequest,
    slug: str,
    round: int | None = None,
    annotator: str | None = None,
    after: datetime | None = None,
    before: datetime | None = None,
    source: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
):
    """The project's judgments, oldest first: the preference data, so the export permission
    guards it. Filters: `round` (number), `annotator` (username; project admins and staff, who
    see each annotator), created `after` (exclusive) and `before` (inclusive), `source` ("" for
    the judgments made here)."""
    project = project_or_404(request, slug, can_export)
    names = can_see_annotators(request.user, project)
    rows = Judgment.objects.filter(comparison__project=project).select_related(
        "comparison__round", "annotator"
    )
    if round is not None:
        rows = rows.filter(comparison__round__number=round)
    if annotator is not None:
        if not names:
            raise ApiError(403, "field 'annotator': filtering by annotator is for project admins and staff")
        rows = rows.filter(annotator__username=annotator)
    if after is not None:
        rows = rows.filter(created__gt=after)
    if before is not None:
        rows = rows.filter(created__lte=before)
    if source is not None:
        rows = rows.filter(source=source)
    items, next_cursor = page(rows, ("id",), cursor, limit)
    return {
        "items": [
            {
                "id": j.pk,
                "comparison": j.comparison_id,
                "prompt": j.comparison.prompt_id,
                "response_a": j.comparison.response_a_id,
                "response_b": j.comparison.response_b_id,
                "round": j.comparison.round.number if j.comparison.round else None,
                "annotator_id": j.annotator_id,
                "annotator": j.annotator.get_username() if names else None,
                "choice": j.choice,
                "strength": j.strength,
                "reason": j.reason,
                "seconds_spent": j.seconds_spent,
                "source": j.source,
                "created": j.created,
            }
            for j in items
        ],
        "next": next_cursor,
    }
