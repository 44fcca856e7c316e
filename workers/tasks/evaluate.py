"""evaluate: new policy vs the one it came from, on held-out prompts (training.evaluate)."""

from __future__ import annotations

from workers.celery_app import app
from workers.stage import run_stage


@app.task(name="workers.tasks.evaluate.evaluate_policy")
def evaluate_policy(round_id: int) -> None:
    from training.evaluate import evaluate_policies
    from training.generate import GenerateArgs
    from webapp.catalog import services as catalog
    from webapp.catalog.models import PolicyVersion, Prompt
    from webapp.catalog.text import json_safe
    from webapp.rounds.models import TrainingRound
    from webapp.rounds.services import add_metrics

    with run_stage(round_id, TrainingRound.State.EVALUATE) as stage:
        training_round = stage.round
        if "evaluation" in training_round.metrics:
            return  # an earlier attempt evaluated this round's policy; only its next stage was lost
        project, config = training_round.project, training_round.config
        prompts = catalog.sample_prompts(project, Prompt.Split.EVAL, config["round"]["eval_prompts"], seed=0)
        if not prompts:  # a project without an eval split still gets a number, on train prompts
            prompts = catalog.sample_prompts(
                project, Prompt.Split.TRAIN, config["round"]["eval_prompts"], seed=0
            )
        metrics = evaluate_policies(
            training_round.policy_out.checkpoint,
            training_round.policy_in.checkpoint,
            training_round.reward_model_path,
            [p.conversation for p in prompts],
            GenerateArgs(**{**config["generate"], "seed": training_round.number}),
        )
        policy = training_round.policy_out
        PolicyVersion.objects.filter(pk=policy.pk).update(
            metrics={**policy.metrics, "evaluation": json_safe(metrics)}  # sample answers may hold NUL
        )
        add_metrics(round_id, "evaluation", metrics)
