"""Round list, start, cancel and retry buttons, and the live round page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from webapp.projects.permissions import (
    Capabilities,
    can_manage_rounds,
    can_view,
    error_for,
    error_summary,
    project_for,
)
from webapp.rounds import learning, services, state_machine
from webapp.rounds.models import TrainingRound


@login_required
def round_list(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug, check=can_view)
    rounds = TrainingRound.objects.filter(project=project).select_related("policy_in", "policy_out")
    return render(
        request,
        "rounds/list.html",
        {"project": project, "rounds": rounds, "can": Capabilities(request.user, project)},
    )


@login_required
@require_POST
def start(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug, check=can_manage_rounds)
    try:
        training_round = services.start_round(project, request.user)
    except services.RoundError as exc:
        messages.error(request, f"Round not started: {exc}")
        return redirect("projects:detail", slug=slug)
    training_round.refresh_from_db()  # sending happens on commit, and may have failed
    if training_round.state == TrainingRound.State.FAILED:
        messages.error(
            request, f"Round {training_round.number} not started: {error_summary(training_round.error)}"
        )
    else:
        messages.success(request, f"Round {training_round.number} queued.")
    return redirect("rounds:detail", slug=slug, number=training_round.number)


@login_required
@require_POST
def cancel(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    project = project_for(request.user, slug, check=can_manage_rounds)
    training_round = get_object_or_404(TrainingRound, project=project, number=number)
    if state_machine.cancel(training_round.pk):
        messages.info(request, f"Round {number} cancelled; its running stage stops at its next step.")
    return redirect("rounds:detail", slug=slug, number=number)


@login_required
@require_POST
def retry(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    project = project_for(request.user, slug, check=can_manage_rounds)
    training_round = get_object_or_404(TrainingRound, project=project, number=number)
    if services.latest_round(project) != training_round:
        messages.error(request, f"Round {number} is not the latest round; only the latest can be retried.")
        return redirect("rounds:detail", slug=slug, number=number)
    try:
        training_round = services.retry_round(project)
    except services.RoundError as exc:
        messages.error(request, f"Round {number} not retried: {exc}")
        return redirect("rounds:detail", slug=slug, number=number)
    training_round.refresh_from_db()
    if training_round.state == TrainingRound.State.FAILED:
        messages.error(request, f"Round {number} not retried: {error_summary(training_round.error)}")
    else:
        messages.success(request, f"Round {number} sent again from {training_round.state}.")
    return redirect("rounds:detail", slug=slug, number=number)


def _round(project, number: int) -> TrainingRound:
    return get_object_or_404(
        TrainingRound.objects.select_related("policy_in", "policy_out"), project=project, number=number
    )


@login_required
def detail(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    project = project_for(request.user, slug, check=can_view)
    training_round = _round(project, number)
    return render(
        request,
        "rounds/detail.html",
        {
            "project": project,
            "round": training_round,
            "stages": state_machine.PIPELINE[1:-1],
            "can": Capabilities(request.user, project),
            "can_retry": training_round.state in (TrainingRound.State.FAILED, TrainingRound.State.CANCELLED)
            and services.latest_round(project) == training_round,
            "round_error": error_for(request.user, project, training_round),
            **learning.round_summary(training_round),
        },
    )


@login_required
def summary(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """The "Did it learn?" block alone: the round page swaps it in when new metrics arrive."""
    project = project_for(request.user, slug, check=can_view)
    training_round = _round(project, number)
    return render(
        request,
        "rounds/_summary.html",
        {
            "project": project,
            "round": training_round,
            "can": Capabilities(request.user, project),
            **learning.round_summary(training_round),
        },
    )


@login_required
def progress(request: HttpRequest, slug: str, number: int) -> JsonResponse:
    """What the round page polls: state, progress, metrics and the curves to plot."""
    project = project_for(request.user, slug, check=can_view)
    training_round = get_object_or_404(TrainingRound, project=project, number=number)
    return JsonResponse(progress_data(request.user, project, training_round))


def progress_data(user, project, training_round: TrainingRound) -> dict:
    """The round's state, stage progress, metrics and curves, as this user may see them: the
    round page's progress JSON, and the API's round status."""
    return {
        "state": training_round.state,
        "active": training_round.is_active,
        "progress": training_round.progress,
        "metrics": training_round.metrics,
        "error": error_for(user, project, training_round),
        "attempt": training_round.attempt,
        "policy_out": training_round.policy_out.number if training_round.policy_out else None,
        "curves": services.curves(training_round),
    }
