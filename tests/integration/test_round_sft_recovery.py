"""The SFT stage recovers and cancels like the others: a worker killed mid-SFT is resumed by the
next worker as attempt 2 and the round ends with one SFT policy and one curve; a cancelled SFT
stage stops at its next step, saving nothing."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.integration.test_round_sft import SFT_ROUND
from tests.integration.test_worker_dies import ended, stage_under_way
from tests.platform_factories import make_demonstrations
from tests.tiny_rounds import tiny_project, until
from webapp.catalog.models import PolicyVersion
from webapp.rounds import services
from webapp.rounds.models import TrainingRound

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def long_sft(epochs: int) -> dict:
    return {**SFT_ROUND, "sft": {**SFT_ROUND["sft"], "epochs": epochs, "batch_size": 1}}


def test_a_worker_killed_mid_sft_is_resumed_by_the_next_worker(start_worker, tmp_path):
    project = tiny_project(tmp_path, long_sft(60))  # 360 steps: seconds, long enough to be killed in
    make_demonstrations(project, 6)
    first = start_worker()
    training_round = services.start_round(project)
    until(lambda: stage_under_way(training_round.pk, "sft"), "SFT to start training")
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    start_worker()
    until(
        lambda: TrainingRound.objects.filter(pk=training_round.pk, state="sft", attempt=2).exists(),
        "SFT to run again",
    )
    done = until(lambda: ended(training_round.pk), "the round to end")
    assert done.state == TrainingRound.State.DONE, done.error
    assert Path(done.sft_policy_path).is_dir() and done.metrics["sft"]["steps"] == 360
    steps = list(done.events.filter(stage="sft").values_list("step", flat=True))
    assert steps == list(range(1, 361))  # the retried stage's curve is one attempt's
    assert PolicyVersion.objects.filter(project=project).count() == 2


def test_cancel_stops_sft_at_the_next_step(start_worker, tmp_path):
    project = tiny_project(tmp_path, long_sft(20_000))  # 120,000 steps: an hour if not stopped
    make_demonstrations(project, 6)
    worker = start_worker()
    training_round = services.start_round(project)
    until(lambda: stage_under_way(training_round.pk, "sft"), "SFT to start training")

    services.cancel_round(project)
    logged_at_cancel = training_round.events.filter(stage="sft").count()
    log = Path(tmp_path / "worker-1.log")
    until(lambda: "sft stopped: stopped at step" in log.read_text(), "the SFT stage to stop", deadline_s=120)
    assert training_round.events.filter(stage="sft").count() - logged_at_cancel <= 2
    assert worker.poll() is None
    training_round.refresh_from_db()
    assert training_round.state == TrainingRound.State.CANCELLED and training_round.stopped_stage == "sft"
    assert training_round.sft_policy_path == "" and "sft" not in training_round.metrics
    assert not (Path(training_round.dataset_path).parent / "sft-policy").exists()
