"""What every round stage shares: entering its state, a heartbeat while it runs, stopping when the
round is cancelled, failing the round in words, and reporting progress."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Iterator

from celery.exceptions import Ignore
from django.conf import settings
from django.db import close_old_connections, connection

from training.stopping import Stopped
from webapp.rounds import services as round_services
from webapp.rounds import state_machine
from webapp.rounds.models import TrainingRound

log = logging.getLogger(__name__)


class Reporter:
    """An `on_log` callback for training/: each call is a metric point and a progress update.

    Progress writes are throttled to one a second (a fast loop must not hammer the database);
    every metric point is kept, since the round page plots them. A stage makes its Reporter when
    it starts its work, so a retried stage's curve replaces the dead attempt's.
    """

    def __init__(self, round_id: int, stage: str, total: int = 0) -> None:
        self.round_id, self.stage, self.total = round_id, stage, total
        self._last_progress = 0.0
        self._count = 0
        round_services.clear_events(round_id, stage)

    def __call__(self, data: dict[str, Any]) -> None:
        self._count += 1
        step = int(data.get("step", self._count))
        total = int(data.get("total", data.get("total_steps", self.total)) or 0)
        round_services.record_event(self.round_id, self.stage, step, data)
        self.progress(step, total)

    def progress(self, done: int, total: int, message: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_progress >= 1.0 or (total and done >= total):
            self._last_progress = now
            round_services.report_progress(self.round_id, self.stage, done, total, message)


class _Heartbeat(threading.Thread):
    """Beats every PREFLOOP_HEARTBEAT_SECONDS while the stage runs: proof that its process lives.

    A thread, not the progress reports: a stage can be silent for minutes (loading a model,
    evaluating), and a process that is killed takes its thread with it."""

    def __init__(self, round_id: int, runner: str) -> None:
        super().__init__(daemon=True, name=f"heartbeat-round-{round_id}")
        self.round_id, self.runner = round_id, runner
        self.done = threading.Event()
        self.lost = threading.Event()  # cancelled, failed, or taken over by another attempt

    def run(self) -> None:
        try:
            while not self.done.wait(settings.PREFLOOP_HEARTBEAT_SECONDS):
                try:
                    if not state_machine.beat(self.round_id, self.runner):
                        self.lost.set()
                except Exception:  # a database hiccup must not kill the beat for good
                    log.exception("round %s: heartbeat failed", self.round_id)
        finally:
            connection.close()


@dataclass
class Stage:
    """What a stage body gets: the round as entered, and `should_stop` for training loops."""

    round: TrainingRound
    runner: str
    heartbeat: _Heartbeat
    _stopped: bool = False

    @property
    def attempt(self) -> int:
        return self.round.attempt

    def should_stop(self) -> bool:
        """True once the round was cancelled or another attempt took over. One indexed query; the
        training loops ask between optimizer steps, so a cancelled stage stops within a step."""
        if not self._stopped:
            self._stopped = self.heartbeat.lost.is_set() or not state_machine.still_runs(
                self.round.pk, self.runner
            )
        return self._stopped


def first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:500]


@contextlib.contextmanager
def run_stage(round_id: int, state: str) -> Iterator[Stage]:
    """Enter `state` and run the body with a heartbeat.

    A stage whose work is already stored (a redelivery, a resend) returns early in its task and
    sends the rest of its chain. A delivery that must not run (the round moved on, was cancelled,
    or a live attempt runs the stage) is ignored: the task ends without error and the rest of its chain is not sent. If the
    body raises, the round is failed: one line for everyone, the traceback below it for staff."""
    close_old_connections()
    runner = state_machine.this_process()
    try:
        training_round = state_machine.enter(round_id, state, runner)
    except state_machine.StageSkipped as exc:
        log.info("round %s: %s delivery skipped: %s", round_id, state, exc)
        raise Ignore() from exc
    log.info("round %s: %s (attempt %d)", training_round, state, training_round.attempt)
    heartbeat = _Heartbeat(round_id, runner)
    heartbeat.start()
    stage = Stage(training_round, runner, heartbeat)
    try:
        yield stage
    except Stopped as exc:
        log.info("round %s: %s stopped: %s", training_round, state, exc)
        raise Ignore() from exc
    except Exception as exc:
        state_machine.fail(round_id, f"{state} failed: {first_line(exc)}\n\n{traceback.format_exc()}", runner)
        raise
    else:
        if stage.should_stop():  # cancelled while the last step ran: nothing more to send
            raise Ignore()
        if state == state_machine.PIPELINE[-2]:  # the last stage: the round is done
            state_machine.enter(round_id, state_machine.State.DONE, runner)
        else:
            state_machine.finish_stage(round_id, runner)
    finally:
        heartbeat.done.set()
        heartbeat.join()
