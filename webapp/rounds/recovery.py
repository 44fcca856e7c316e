"""Resuming stages whose worker died: what a worker runs in the background (workers/recovery.py).

No extra process to start: every worker checks every PREFLOOP_RECOVERY_SECONDS, and the row
lock in `state_machine.claim` makes sure one of them resends a stage, once.
"""

from __future__ import annotations

import logging

from webapp.rounds import dispatch, state_machine
from webapp.rounds.models import TrainingRound

log = logging.getLogger(__name__)


def resume_stalled(by: str) -> list[int]:
    """Send again every round stage that needs it (`state_machine.needs_resume`); the ids sent."""
    resumed = []
    for training_round in TrainingRound.objects.exclude(state__in=state_machine.TERMINAL):
        if not state_machine.needs_resume(training_round):
            continue
        stage = training_round.state
        if not state_machine.claim(training_round.pk, stage, by):
            continue
        try:
            dispatch.send(training_round.pk, stage)
        except dispatch.QueueUnavailable as exc:
            log.error("round %s: could not resend %s: %s", training_round, stage, exc)
            continue  # the claim goes stale and the next check tries again
        log.warning(
            "round %s: %s had no live worker (was %r); sent again",
            training_round,
            stage,
            training_round.runner or "never sent",
        )
        resumed.append(training_round.pk)
    return resumed
