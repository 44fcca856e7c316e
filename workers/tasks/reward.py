"""reward: train a reward model on the snapshot with TRL's RewardTrainer (training.reward)."""

from __future__ import annotations

from pathlib import Path

from workers.celery_app import app
from workers.stage import Reporter, run_stage


@app.task(name="workers.tasks.reward.train_reward")
def train_reward(round_id: int) -> None:
    from training.data import read_preferences
    from training.reward import RewardArgs, train_reward_model
    from webapp.rounds.models import TrainingRound
    from webapp.rounds.services import add_metrics

    with run_stage(round_id, TrainingRound.State.REWARD) as stage:
        training_round = stage.round
        if training_round.reward_model_path and Path(training_round.reward_model_path).is_dir():
            return  # an earlier attempt trained and stored it; only its next stage was lost
        records = read_preferences(training_round.dataset_path)
        out_dir = Path(training_round.dataset_path).parent / "reward-model"
        args = RewardArgs(
            model_path=training_round.start_checkpoint,  # the SFT policy when the round ran SFT
            out_dir=str(out_dir),
            metrics_path=str(out_dir.parent / "reward-metrics.jsonl"),
            seed=training_round.number,
            **training_round.config["reward"],
        )
        result = train_reward_model(
            records, args, on_log=Reporter(round_id, "reward"), progress=False, should_stop=stage.should_stop
        )
        TrainingRound.objects.filter(pk=round_id).update(reward_model_path=str(result.checkpoint))
        add_metrics(round_id, "reward", result.metrics)
