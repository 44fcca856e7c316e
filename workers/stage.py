"""What every round stage shares: entering its state, failing the round, reporting progress."""
from __future__ import annotations

import contextlib
import logging
import time
import traceback
from typing import Any, Iterator

from webapp.rounds import services as round_services
from webapp.rounds import state_machine
from webapp.rounds.models import TrainingRound

log = logging.getLogger(__name__)


class Reporter:
    """An `on_log` callback for training/: each call is a metric point and a progress update.

    Progress writes are throttled to one a second (a fast loop must not hammer the database);
    every metric point is kept, since the round page plots them.
    """

    def __init__(self, round_id: int, stage: str, total: int = 0) -> None:
        self.round_id, self.stage, self.total = round_id, stage, total
        self._last_progress = 0.0
        self._count = 0

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


@contextlib.contextmanager
def run_stage(round_id: int, state: str) -> Iterator[TrainingRound]:
    """Enter `state`; if the body raises, mark the round failed with the traceback and re-raise."""
    training_round = state_machine.enter(round_id, state)
    log.info("round %s: %s", training_round, state)
    try:
        yield training_round
    except Exception:
        state_machine.fail(round_id, f"{state} failed:\n{traceback.format_exc()}")
        raise
