"""policy: PPO from the active policy against the new reward model (training.ppo)."""
from __future__ import annotations

from pathlib import Path

from workers.celery_app import app
from workers.stage import Reporter, run_stage


@app.task(name="workers.tasks.policy.train_policy")
def train_policy(round_id: int) -> None:
    from training.ppo import PPOArgs, train_ppo
    from training.reward import RewardScorer
    from webapp.catalog import services as catalog
    from webapp.catalog.models import PolicyVersion, Prompt
    from webapp.rounds.models import TrainingRound
    from webapp.rounds.services import add_metrics

    with run_stage(round_id, TrainingRound.State.POLICY) as training_round:
        project, config = training_round.project, training_round.config
        prompts = catalog.sample_prompts(
            project, Prompt.Split.TRAIN, config["round"]["ppo_prompts"], seed=training_round.number
        )
        number = catalog.next_policy_number(project)
        out_dir = catalog.policy_dir(project, number)
        args = PPOArgs(
            policy_path=training_round.policy_in.checkpoint,
            value_model_path=training_round.reward_model_path,
            out_dir=str(out_dir),
            metrics_path=str(Path(training_round.dataset_path).parent / "ppo-metrics.jsonl"),
            seed=training_round.number,
            **config["ppo"],
        )
        result = train_ppo(
            args,
            [p.conversation for p in prompts],
            RewardScorer(training_round.reward_model_path),
            on_log=Reporter(round_id, "policy"),
            progress=False,
        )
        policy = catalog.register_policy(
            project, result.checkpoint, training_round.policy_in.base_model, training_round.policy_in, number
        )
        PolicyVersion.objects.filter(pk=policy.pk).update(metrics={"ppo": result.metrics})
        TrainingRound.objects.filter(pk=round_id).update(policy_out=policy)
        add_metrics(round_id, "ppo", result.metrics)
