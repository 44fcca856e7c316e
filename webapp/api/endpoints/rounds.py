"""Training rounds: list, start, status, cancel, with the checks of the web's buttons."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema

from webapp.api.endpoints.common import Page, project_or_404
from webapp.api.errors import ApiError
from webapp.api.pagination import DEFAULT_LIMIT, page
from webapp.projects.models import Project
from webapp.projects.permissions import can_manage_rounds, can_view
from webapp.rounds import config as round_config
from webapp.rounds import services, state_machine
from webapp.rounds.models import TrainingRound
from webapp.rounds.views import progress_data

router = Router(tags=["rounds"])


class RoundOut(Schema):
    number: int
    state: str
    active: bool
    policy_in: int | None
    policy_out: int | None
    created: datetime
    started: datetime | None
    finished: datetime | None


class RoundPage(Page):
    items: list[RoundOut]


class RoundStatus(RoundOut):
    # As the round page's progress JSON gives them.
    progress: dict[str, Any]  # {stage, done, total, message}
    metrics: dict[str, Any]
    error: str  # staff: with its traceback; others: its first line
    attempt: int
    curves: dict[str, Any]  # {stage: {metric: [[step, value], ...]}}


class RoundIn(Schema):
    overrides: dict[str, Any] = {}  # {"reward": {"epochs": 2}}: as `start_round --set reward.epochs=2`


def _out(training_round: TrainingRound) -> dict:
    return {
        "number": training_round.number,
        "state": training_round.state,
        "active": training_round.is_active,
        "policy_in": training_round.policy_in.number if training_round.policy_in else None,
        "policy_out": training_round.policy_out.number if training_round.policy_out else None,
        "created": training_round.created,
        "started": training_round.started,
        "finished": training_round.finished,
    }


def _status(request: HttpRequest, project: Project, number: int) -> dict:
    training_round = get_object_or_404(
        TrainingRound.objects.select_related("policy_in", "policy_out"), project=project, number=number
    )
    return {**_out(training_round), **progress_data(request.user, project, training_round)}


@router.get("/projects/{slug}/rounds", response=RoundPage, operation_id="rounds_list", url_name="rounds_list")
def rounds_list(request: HttpRequest, slug: str, cursor: str | None = None, limit: int = DEFAULT_LIMIT):
    """The project's rounds, newest first."""
    project = project_or_404(request, slug, can_view)
    rows = TrainingRound.objects.filter(project=project).select_related("policy_in", "policy_out")
    items, next_cursor = page(rows, ("-number",), cursor, limit)
    return {"items": [_out(r) for r in items], "next": next_cursor}


@router.post(
    "/projects/{slug}/rounds",
    response={201: RoundStatus},
    operation_id="rounds_start",
    url_name="rounds_start",
)
def rounds_start(request: HttpRequest, slug: str, payload: RoundIn):
    """Start the next round, as the project page's button and `start_round --set` do. 422: an
    override a round does not accept; 409: the project cannot start one now (a round running,
    too few pairs, no active policy). A round whose sending failed comes back `failed`."""
    project = project_or_404(request, slug, can_manage_rounds)
    try:
        if payload.overrides:
            round_config.check_overrides(payload.overrides)
    except round_config.ConfigError as exc:
        raise ApiError(422, f"field 'overrides': {exc}") from exc
    try:
        training_round = services.start_round(project, request.user, overrides=payload.overrides or None)
    except services.RoundError as exc:
        raise ApiError(409, f"Round not started: {exc}") from exc
    return 201, _status(request, project, training_round.number)


@router.get(
    "/projects/{slug}/rounds/{number}",
    response=RoundStatus,
    operation_id="rounds_status",
    url_name="rounds_status",
)
def rounds_status(request: HttpRequest, slug: str, number: int):
    """The round's state and stage progress: what the round page polls."""
    return _status(request, project_or_404(request, slug, can_view), number)


@router.post(
    "/projects/{slug}/rounds/{number}/cancel",
    response=RoundStatus,
    operation_id="rounds_cancel",
    url_name="rounds_cancel",
)
def rounds_cancel(request: HttpRequest, slug: str, number: int):
    """Cancel a running round: its stage stops at its next step; the active policy stays."""
    project = project_or_404(request, slug, can_manage_rounds)
    training_round = get_object_or_404(TrainingRound, project=project, number=number)
    if not state_machine.cancel(training_round.pk):
        training_round.refresh_from_db()
        raise ApiError(409, f"round {number} is {training_round.state}, not running; nothing to cancel")
    return _status(request, project, number)
