"""policy: the new policy version from the active one: PPO against the round's reward model
(training.ppo), or DPO on the round's judged pairs (training.dpo), as `round.algorithm` says."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.db import transaction

from workers.celery_app import app
from workers.stage import Reporter, run_stage


def _ppo(training_round, out_dir: Path, reporter: Reporter, should_stop) -> tuple[str, dict, Path]:
    from training.ppo import PPOArgs, train_ppo
    from webapp.catalog import services as catalog
    from webapp.catalog.models import Prompt

    config = training_round.config
    prompts = catalog.sample_prompts(
        training_round.project, Prompt.Split.TRAIN, config["round"]["ppo_prompts"], seed=training_round.number
    )
    args = PPOArgs(
        policy_path=training_round.start_checkpoint,  # also PPO's KL reference: the SFT policy if any
        reward_model_path=training_round.reward_model_path,
        out_dir=str(out_dir),
        metrics_path=str(Path(training_round.dataset_path).parent / "ppo-metrics.jsonl"),
        seed=training_round.number,
        **config["ppo"],
    )
    result = train_ppo(
        args, [p.conversation for p in prompts], on_log=reporter, progress=False, should_stop=should_stop
    )
    return "ppo", result.metrics, result.checkpoint


def _dpo(training_round, out_dir: Path, reporter: Reporter, should_stop) -> tuple[str, dict, Path]:
    from training.data import read_preferences
    from training.dpo import DPOArgs, train_dpo
    from webapp.catalog.services import lineage_root

    # After an SFT stage its policy is the reference whatever round.reference says: InstructGPT's
    # reference is the SFT model, and anchoring to v0 would pull DPO back from what SFT taught.
    anchor = training_round.config["round"].get("reference", "parent") == "base"
    anchor = anchor and not training_round.sft_policy_path
    args = DPOArgs(
        policy_path=training_round.start_checkpoint,
        reference_path=lineage_root(training_round.policy_in).checkpoint if anchor else None,
        out_dir=str(out_dir),
        metrics_path=str(Path(training_round.dataset_path).parent / "dpo-metrics.jsonl"),
        seed=training_round.number,
        **training_round.config["dpo"],
    )
    result = train_dpo(
        read_preferences(training_round.dataset_path),
        args,
        on_log=reporter,
        progress=False,
        should_stop=should_stop,
    )
    return "dpo", result.metrics, result.checkpoint


def resolve_algorithm(algorithm: str) -> str:
    """`auto` is decided where the work runs: PPO with a GPU, DPO on a CPU (see rounds/config.py)."""
    if algorithm != "auto":
        return algorithm
    import torch

    return "ppo" if torch.cuda.is_available() else "dpo"


@app.task(name="workers.tasks.policy.train_policy")
def train_policy(round_id: int) -> None:
    from webapp.catalog import services as catalog
    from webapp.catalog.models import PolicyVersion
    from webapp.rounds.models import TrainingRound
    from webapp.rounds.services import add_metrics

    with run_stage(round_id, TrainingRound.State.POLICY) as stage:
        training_round = stage.round
        if training_round.policy_out_id is not None:
            return  # an earlier attempt trained and registered it; only its next stage was lost
        project = training_round.project
        number = catalog.next_policy_number(project)
        out_dir = catalog.policy_dir(project, number)
        if out_dir.exists():  # a killed attempt saved it but never registered it: no version owns it
            shutil.rmtree(out_dir)
        train = _dpo if resolve_algorithm(training_round.config["round"]["algorithm"]) == "dpo" else _ppo
        section, metrics, checkpoint = train(
            training_round, out_dir, Reporter(round_id, "policy"), stage.should_stop
        )
        with transaction.atomic():  # the version, its metrics and the round's link to it, or none
            policy = catalog.register_policy(
                project, checkpoint, training_round.policy_in.base_model, training_round.policy_in, number
            )
            PolicyVersion.objects.filter(pk=policy.pk).update(metrics={section: metrics})
            TrainingRound.objects.filter(pk=round_id).update(policy_out=policy)
            add_metrics(round_id, section, metrics)
