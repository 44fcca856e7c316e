"""Annotating through the API, for a custom front-end: lease the next comparison, then judge or
skip it. Every rule is the web's (`annotation.services`): the same lease, the same shown order,
the same refusals (stale lease, reason limits, choice and strength)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema

from webapp.annotation import services
from webapp.annotation.models import Assignment, Judgment
from webapp.api.endpoints.common import project_or_404, visible_or_404
from webapp.api.errors import ApiError
from webapp.projects.permissions import can_annotate

router = Router(tags=["annotation"])


class Message(Schema):
    role: str
    content: str


class Shown(Schema):
    side: Literal["left", "right"]
    text: str  # model output, raw: render it as untrusted text (the web sanitises markdown with nh3)
    finished: bool  # False when generation stopped at the length limit


class AssignmentOut(Schema):
    id: int
    expires: datetime
    prompt: list[Message]
    responses: list[Shown]  # in the order to show them: left, then right


class NextOut(Schema):
    assignment: AssignmentOut | None  # null when the queue has nothing for this user
    available: int  # comparisons the queue could still give them, this one included (capped at 500)
    guidelines: str


class JudgmentIn(Schema):
    choice: Literal["left", "right", "tie", "both_bad"]  # in shown terms, as on the annotate page
    strength: Literal[1, 2, 3] = Judgment.Strength.CLEAR.value  # slight, clear, much
    reason: str = ""
    seconds_spent: float | None = Field(None, ge=0, allow_inf_nan=False)


class JudgmentCreated(Schema):
    id: int
    assignment: int
    comparison: int
    choice: str  # stored terms: a, b, tie, both_bad
    strength: int


class Skipped(Schema):
    skipped: int


def _assignment_out(assignment: Assignment) -> dict:
    comparison = assignment.comparison
    left, right = comparison.response_a, comparison.response_b
    if assignment.swapped:
        left, right = right, left
    return {
        "id": assignment.pk,
        "expires": assignment.expires,
        "prompt": comparison.prompt.conversation,
        "responses": [
            {"side": "left", "text": left.text, "finished": left.finished},
            {"side": "right", "text": right.text, "finished": right.finished},
        ],
    }


@router.post(
    "/projects/{slug}/assignments/next",
    response=NextOut,
    operation_id="assignments_next",
    url_name="assignments_next",
)
def assignments_next(request: HttpRequest, slug: str):
    """Lease the next comparison (the user's open lease again, if they hold one), as the annotate
    page does; `assignment` is null when the queue is dry."""
    project = visible_or_404(request, services.queue_project(slug, request.user), can_annotate)
    view = services.queue_view(project, request.user)
    assignment = services.next_assignment(project, request.user, view=view)
    return {
        "assignment": None if assignment is None else _assignment_out(assignment),
        "available": services.progress(view).available,
        "guidelines": project.guidelines,
    }


@router.post(
    "/projects/{slug}/assignments/{assignment_id}/judgment",
    response={201: JudgmentCreated},
    operation_id="assignments_judge",
    url_name="assignments_judge",
)
def assignments_judge(request: HttpRequest, slug: str, assignment_id: int, payload: JudgmentIn):
    """Judge a leased comparison. 404: not your assignment in this project; 409: the lease ended
    (expired, skipped, withdrawn) or you judged it already; 422: a value that cannot be stored.
    Every refusal stores nothing."""
    project_or_404(request, slug, can_annotate)
    try:
        judgment = services.submit_judgment(
            assignment_id,
            request.user,
            payload.choice,
            strength=payload.strength,
            reason=payload.reason,
            seconds_spent=payload.seconds_spent,
            project_slug=slug,
        )
    except services.InvalidReason as exc:
        raise ApiError(422, f"{exc}; shorten it. Nothing was stored.") from exc
    except services.InvalidJudgment as exc:
        raise ApiError(422, f"{exc}. Nothing was stored.") from exc
    except services.NotYourAssignment as exc:
        raise ApiError(404, f"{exc} in this project; nothing was stored.") from exc
    except services.AlreadyJudged as exc:
        raise ApiError(409, f"{exc}; your first judgment stands.") from exc
    except services.StaleAssignment as exc:
        raise ApiError(409, f"Not saved: {exc}. Nothing was stored.") from exc
    return 201, {
        "id": judgment.pk,
        "assignment": assignment_id,
        "comparison": judgment.comparison_id,
        "choice": judgment.choice,
        "strength": judgment.strength,
    }


@router.post(
    "/projects/{slug}/assignments/{assignment_id}/skip",
    response=Skipped,
    operation_id="assignments_skip",
    url_name="assignments_skip",
)
def assignments_skip(request: HttpRequest, slug: str, assignment_id: int):
    """Hand the comparison back unjudged; it is never offered to this user again."""
    project = project_or_404(request, slug, can_annotate)
    mine = Assignment.objects.filter(pk=assignment_id, annotator=request.user, comparison__project=project)
    if not mine.exists():
        raise ApiError(404, "no such assignment of yours in this project")
    services.skip_assignment(assignment_id, request.user)
    return {"skipped": assignment_id}
