"""Rows for the "did it learn?" pages: policy versions made by finished rounds, with stored metrics.

The metrics have the shapes the workers store (training.evaluate, training.reward, training.ppo);
no model is loaded anywhere.
"""

from __future__ import annotations

from typing import Any

from webapp.catalog.models import PolicyVersion
from webapp.projects.models import Project
from webapp.rounds.models import TrainingRound


def evaluation(
    win_rate: float | None = 0.75, prompts: int = 24, samples: list[dict] | None = None, **extra
) -> dict:
    return {
        "prompts": prompts,
        "win_rate": win_rate,
        "kl": 0.412,
        "new_length": 31.5,
        "old_length": 38.25,
        "new_eos_fraction": 0.875,
        "old_eos_fraction": 0.5,
        "new_reward_mean": 0.35,
        "old_reward_mean": -0.12,
        "samples": samples
        if samples is not None
        else [{"prompt": "What is 2+2?", "new": "4.", "old": "Let me think about that for a while..."}],
        **extra,
    }


def reward(accuracy: float | None = 0.68, pairs_eval: int = 26) -> dict:
    return {"eval_accuracy": accuracy, "pairs_train": 230, "pairs_eval": pairs_eval, "train_seconds": 146.2}


def ppo() -> dict:
    return {
        "reward_start": -0.21,
        "reward_end": 0.43,
        "kl_end": 0.05,
        "episodes": 48,
        "updates": 3,
        "seconds_total": 141.3,
        "response_length_end": 30.0,
    }


def trained_version(
    project: Project,
    number: int,
    parent: PolicyVersion,
    metrics: dict[str, Any] | None = None,
    *,
    status: str = PolicyVersion.Status.READY,
    state: str = TrainingRound.State.DONE,
    round_number: int | None = None,
) -> tuple[PolicyVersion, TrainingRound]:
    """Version `number` made from `parent` by a round (number `number` unless given) with `metrics`."""
    metrics = (
        metrics if metrics is not None else {"reward": reward(), "ppo": ppo(), "evaluation": evaluation()}
    )
    policy = PolicyVersion.objects.create(
        project=project,
        number=number,
        parent=parent,
        checkpoint=f"/tmp/policy-{number}",
        base_model="tiny",
        status=status,
        metrics={k: v for k, v in metrics.items() if k in ("ppo", "evaluation")},
    )
    training_round = TrainingRound.objects.create(
        project=project,
        number=round_number if round_number is not None else number,
        state=state,
        policy_in=parent,
        policy_out=policy,
        metrics=metrics,
    )
    return policy, training_round
