"""Every training stage of a round, SFT included, goes to the `train` queue (the workers with the
accelerator and the memory for models); the others stay on theirs."""

from __future__ import annotations

from webapp.config.celery import app
from webapp.rounds.dispatch import STAGES, TASKS
from webapp.rounds.models import TrainingRound

State = TrainingRound.State
TRAINING = {State.SFT, State.REWARD, State.POLICY, State.EVALUATE}


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_the_stages_run_in_order_with_sft_after_the_snapshot():
    assert STAGES[:3] == [State.SNAPSHOT, State.SFT, State.REWARD]


def test_training_stages_go_to_the_train_queue():
    queues = {stage: queue_of(TASKS[stage]) for stage in STAGES}
    assert {stage for stage, queue in queues.items() if queue == "train"} == TRAINING
