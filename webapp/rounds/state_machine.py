"""The only code that changes TrainingRound.state.

queued -> snapshot -> reward -> policy -> evaluate -> deploy -> generate -> done, and from any
active state to failed or cancelled. Every transition locks the row, so a stage that arrives
for a cancelled round stops instead of running.
"""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from webapp.rounds.models import TrainingRound

State = TrainingRound.State
PIPELINE: list[str] = [
    State.QUEUED,
    State.SNAPSHOT,
    State.REWARD,
    State.POLICY,
    State.EVALUATE,
    State.DEPLOY,
    State.GENERATE,
    State.DONE,
]
TERMINAL = {State.DONE, State.FAILED, State.CANCELLED}


class InvalidTransition(Exception):
    pass


class RoundStopped(Exception):
    """The round was cancelled or failed elsewhere; the stage must not run."""


def enter(round_id: int, state: str) -> TrainingRound:
    """Move a round into the next pipeline state (only from the state just before it)."""
    with transaction.atomic():
        training_round = TrainingRound.objects.select_for_update().get(pk=round_id)
        if training_round.state in (State.CANCELLED, State.FAILED):
            raise RoundStopped(f"round {training_round.number} is {training_round.state}")
        expected = PIPELINE[PIPELINE.index(state) - 1] if state in PIPELINE[1:] else None
        if expected is None or training_round.state != expected:
            raise InvalidTransition(f"cannot go from {training_round.state} to {state}")
        training_round.state = state
        now = timezone.now()
        if state == State.SNAPSHOT:
            training_round.started = now
        if state == State.DONE:
            training_round.finished = now
        training_round.progress = {"stage": state, "done": 0, "total": 0, "message": ""}
        training_round.timeline = {**training_round.timeline, state: now.isoformat()}
        training_round.save(update_fields=["state", "started", "finished", "progress", "timeline"])
        return training_round


def stage_seconds(training_round: TrainingRound) -> dict[str, float]:
    """Seconds each stage took, from the timeline: a stage ends when the next state begins."""
    from datetime import datetime

    entered = [(state, datetime.fromisoformat(at)) for state, at in training_round.timeline.items()]
    entered.sort(key=lambda item: item[1])
    return {state: (after - at).total_seconds() for (state, at), (_, after) in zip(entered, entered[1:])}


def fail(round_id: int, error: str) -> None:
    with transaction.atomic():
        training_round = TrainingRound.objects.select_for_update().get(pk=round_id)
        if training_round.state in TERMINAL:
            return
        training_round.state = State.FAILED
        training_round.error = error
        training_round.finished = timezone.now()
        training_round.timeline = {**training_round.timeline, State.FAILED: training_round.finished.isoformat()}
        training_round.save(update_fields=["state", "error", "finished", "timeline"])


def cancel(round_id: int) -> bool:
    """Cancel an active round; the running stage finishes, the next one sees RoundStopped."""
    with transaction.atomic():
        training_round = TrainingRound.objects.select_for_update().get(pk=round_id)
        if training_round.state in TERMINAL:
            return False
        training_round.state = State.CANCELLED
        training_round.finished = timezone.now()
        training_round.timeline = {**training_round.timeline, State.CANCELLED: training_round.finished.isoformat()}
        training_round.save(update_fields=["state", "finished", "timeline"])
        return True
