"""Sending a round's stages to the workers, by task name (the web process imports no task).

The stages run as one Celery chain: each link is sent only when the one before succeeded, and a
resumed or retried round is sent as the chain from its current stage on.
"""

from __future__ import annotations

import logging

from celery import chain
from django.utils import timezone
from kombu.utils.url import maybe_sanitize_url

from webapp.config.celery import app
from webapp.rounds.models import TrainingRound

log = logging.getLogger(__name__)
State = TrainingRound.State

TASKS: dict[str, str] = {
    State.SNAPSHOT: "workers.tasks.snapshot.snapshot_round",
    State.SFT: "workers.tasks.sft.train_sft_policy",
    State.REWARD: "workers.tasks.reward.train_reward",
    State.POLICY: "workers.tasks.policy.train_policy",
    State.EVALUATE: "workers.tasks.evaluate.evaluate_policy",
    State.DEPLOY: "workers.tasks.deploy.deploy_policy",
    State.GENERATE: "workers.tasks.generate.generate_next_comparisons",
}
STAGES = list(TASKS)


class QueueUnavailable(Exception):
    """The broker could not be reached: nothing was sent."""


def round_chain(round_id: int, start: str = State.SNAPSHOT):
    """The chain of stages from `start` (a queued round starts at snapshot) to the end."""
    first = STAGES.index(State.SNAPSHOT if start == State.QUEUED else start)
    return chain(*(app.signature(TASKS[stage], args=(round_id,), immutable=True) for stage in STAGES[first:]))


def send(round_id: int, start: str = State.SNAPSHOT) -> None:
    """Send the round's chain from `start`; raise QueueUnavailable when the broker is down."""
    try:
        round_chain(round_id, start).apply_async()
    except Exception as exc:  # kombu raises OperationalError, redis ConnectionError, ... by transport
        where = maybe_sanitize_url(app.conf.broker_url)  # no password in a message people read
        raise QueueUnavailable(f"the task queue ({where}) could not be reached: {exc}") from exc
    if start == State.QUEUED or start == State.SNAPSHOT:
        TrainingRound.objects.filter(pk=round_id, state=State.QUEUED).update(heartbeat=timezone.now())
    log.info("round %s sent from %s", round_id, start)
