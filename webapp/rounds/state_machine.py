"""The only code that changes TrainingRound.state, attempt, heartbeat and runner.

queued -> snapshot -> sft -> reward -> policy -> evaluate -> deploy -> generate -> done, and from any
active state to failed or cancelled. Every transition locks the row.

A stage may be delivered more than once: Celery redelivers the message of a worker that died
(late acks), recovery resends a stage that stopped beating, an admin retries. So entering the
state a round is already in is allowed when nobody is running it (its runner's process is gone,
its heartbeat is stale, or recovery claimed it), and counted in `attempt`; a delivery for a state
the round has left, or one that another live attempt is running, is skipped (`StageSkipped`).
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import psutil
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webapp.rounds.models import TrainingRound

State = TrainingRound.State
PIPELINE: list[str] = [
    State.QUEUED,
    State.SNAPSHOT,
    State.SFT,
    State.REWARD,
    State.POLICY,
    State.EVALUATE,
    State.DEPLOY,
    State.GENERATE,
    State.DONE,
]
RUNNING = set(PIPELINE[1:-1])
TERMINAL = TrainingRound.FINISHED
CLAIM = "claimed:"  # runner prefix: recovery or retry sent this stage again; whoever takes it runs it


class InvalidTransition(Exception):
    pass


class StageSkipped(Exception):
    """This delivery of a stage must not run: the round moved on, or a live attempt runs it."""


class RoundStopped(StageSkipped):
    """The round was cancelled or failed elsewhere; the stage must not run."""


def this_process() -> str:
    """The runner name of the calling process: host, pid and start time (pids are reused)."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{psutil.Process(pid).create_time():.2f}"


def runner_gone(runner: str) -> bool:
    """True when `runner` is a process of this host that no longer exists (a killed worker).

    A process on another host cannot be checked from here: its heartbeat decides."""
    host, _, rest = runner.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        return f"{psutil.Process(int(pid)).create_time():.2f}" != started
    except psutil.NoSuchProcess:
        return True


def stale_before() -> timezone.datetime:
    return timezone.now() - timedelta(seconds=settings.PREFLOOP_STALE_AFTER)


def nobody_runs(training_round: TrainingRound) -> bool:
    """The current stage has no live attempt: claimed for a resend, finished (runner ""; a task
    returns at once when its work is stored, and sends the rest of the chain), its process gone,
    or silent for PREFLOOP_STALE_AFTER."""
    runner = training_round.runner
    if not runner or runner.startswith(CLAIM):
        return True
    return (
        runner_gone(runner) or training_round.heartbeat is None or training_round.heartbeat < stale_before()
    )


def needs_resume(training_round: TrainingRound) -> bool:
    """Whether recovery should send the round's current stage again.

    A running stage whose process is gone, or that has not beaten for PREFLOOP_STALE_AFTER; a
    resend nobody took within that time; a queued round that was never sent (the web process
    died between commit and send). A finished stage's next one waits in the broker, which keeps it."""
    stale = stale_before()
    runner = training_round.runner
    if training_round.state == State.QUEUED:
        return training_round.heartbeat is None and training_round.created < stale
    if training_round.state not in RUNNING or not runner:
        return False
    if runner.startswith(CLAIM):
        return training_round.heartbeat is None or training_round.heartbeat < stale
    return nobody_runs(training_round)


def enter(round_id: int, state: str, runner: str | None = None) -> TrainingRound:
    """Move a round into `state` (from the state just before it), or into its current state again
    when nobody runs it; `runner` (default: this process) owns the stage until it ends."""
    runner = runner or this_process()
    with transaction.atomic():
        training_round = TrainingRound.objects.select_for_update().get(pk=round_id)
        current = training_round.state
        if current in TERMINAL:
            raise RoundStopped(f"round {training_round.number} is {current}")
        if state not in PIPELINE[1:]:
            raise InvalidTransition(f"cannot enter {state}")
        now = timezone.now()
        if current == state and state != State.DONE:
            if not nobody_runs(training_round):
                raise StageSkipped(
                    f"round {training_round.number}: {state} is running ({training_round.runner})"
                )
            training_round.attempt += 1
        elif current == PIPELINE[PIPELINE.index(state) - 1]:
            training_round.attempt = 1
            training_round.timeline = {**training_round.timeline, state: now.isoformat()}
        elif current in PIPELINE and PIPELINE.index(current) > PIPELINE.index(state):
            raise StageSkipped(f"round {training_round.number} is already at {current}; {state} is done")
        else:
            raise InvalidTransition(f"cannot go from {current} to {state}")
        training_round.state = state
        if state == State.SNAPSHOT and training_round.started is None:
            training_round.started = now
        if state == State.DONE:
            training_round.finished = now
            training_round.runner = ""
        else:
            training_round.runner = runner
        training_round.heartbeat = now
        attempt = f" (attempt {training_round.attempt})" if training_round.attempt > 1 else ""
        training_round.progress = {"stage": state, "done": 0, "total": 0, "message": attempt.strip(" ()")}
        training_round.save(
            update_fields=[
                "state",
                "started",
                "finished",
                "progress",
                "timeline",
                "attempt",
                "heartbeat",
                "runner",
            ]
        )
        return training_round


def beat(round_id: int, runner: str) -> bool:
    """The running stage is alive. False when it should stop: the round was cancelled or failed,
    or another attempt took the stage over."""
    updated = TrainingRound.objects.filter(pk=round_id, runner=runner, state__in=RUNNING).update(
        heartbeat=timezone.now()
    )
    return updated == 1


def finish_stage(round_id: int, runner: str) -> None:
    """The stage's work is stored and its next stage is being sent: nobody runs it any more."""
    TrainingRound.objects.filter(pk=round_id, runner=runner).update(runner="", heartbeat=timezone.now())


def still_runs(round_id: int, runner: str) -> bool:
    """Whether `runner` still owns a running stage of the round (asked between training steps)."""
    return TrainingRound.objects.filter(pk=round_id, runner=runner, state__in=RUNNING).exists()


def claim(round_id: int, state: str, by: str) -> bool:
    """Mark the round's current stage as sent again (recovery, retry): the next delivery runs it.

    Refused (False) when the round is no longer in `state` or a live attempt runs it."""
    with transaction.atomic():
        training_round = TrainingRound.objects.select_for_update().get(pk=round_id)
        if training_round.state != state or not needs_resume(training_round):
            return False
        training_round.runner = CLAIM + by
        training_round.heartbeat = timezone.now()
        training_round.save(update_fields=["runner", "heartbeat"])
        return True


def stage_seconds(training_round: TrainingRound) -> dict[str, float]:
    """Seconds each stage took, from the timeline: a stage ends when the next state begins."""
    from datetime import datetime

    entered = [(state, datetime.fromisoformat(at)) for state, at in training_round.timeline.items()]
    entered.sort(key=lambda item: item[1])
    return {state: (after - at).total_seconds() for (state, at), (_, after) in zip(entered, entered[1:])}


def _stop(round_id: int, state: str, error: str = "", runner: str | None = None) -> bool:
    with transaction.atomic():
        training_round = TrainingRound.objects.select_for_update().get(pk=round_id)
        if training_round.state in TERMINAL:
            return False
        if runner is not None and training_round.runner != runner:
            return False  # a superseded attempt's failure is not the round's
        training_round.stopped_stage = training_round.state
        training_round.state = state
        training_round.error = error
        training_round.runner = ""
        training_round.finished = timezone.now()
        training_round.timeline = {**training_round.timeline, state: training_round.finished.isoformat()}
        training_round.save(
            update_fields=["state", "stopped_stage", "error", "runner", "finished", "timeline"]
        )
        return True


def fail(round_id: int, error: str, runner: str | None = None) -> bool:
    """Mark an active round failed with `error` (first line: what happened, in words); a stage
    passes its `runner`, so that an attempt another one has replaced cannot fail the round."""
    return _stop(round_id, State.FAILED, error, runner)


def cancel(round_id: int) -> bool:
    """Cancel an active round; its running stage stops at its next training step."""
    return _stop(round_id, State.CANCELLED)


def reopen(round_id: int, by: str) -> str:
    """Put a failed or cancelled round back into the stage it stopped in, claimed for a resend.

    Returns that stage. The caller checks that the round may be retried (rounds.services)."""
    with transaction.atomic():
        training_round = TrainingRound.objects.select_for_update().get(pk=round_id)
        if training_round.state not in (State.FAILED, State.CANCELLED):
            raise InvalidTransition(
                f"round {training_round.number} is {training_round.state}, not failed or cancelled"
            )
        stage = training_round.stopped_stage or State.QUEUED
        timeline = {
            k: v for k, v in training_round.timeline.items() if k not in (State.FAILED, State.CANCELLED)
        }
        if stage in timeline:
            timeline[stage] = timezone.now().isoformat()  # the stage's time counts from the retry
        training_round.state = stage
        training_round.timeline = timeline
        training_round.error = ""
        training_round.finished = None
        training_round.runner = CLAIM + by
        training_round.heartbeat = timezone.now()
        training_round.progress = {
            "stage": stage,
            "done": 0,
            "total": 0,
            "message": "retry: waiting for a worker",
        }
        training_round.save(
            update_fields=["state", "timeline", "error", "finished", "runner", "heartbeat", "progress"]
        )
        return stage
