"""A round's stages as one Celery chain: each link runs only if the one before succeeded."""
from __future__ import annotations

from celery import chain

from workers.tasks import deploy, evaluate, generate, policy, reward, snapshot


def round_chain(round_id: int):
    return chain(
        snapshot.snapshot_round.si(round_id),
        reward.train_reward.si(round_id),
        policy.train_policy.si(round_id),
        evaluate.evaluate_policy.si(round_id),
        deploy.deploy_policy.si(round_id),
        generate.generate_next_comparisons.si(round_id),
    )


def enqueue_round(round_id: int) -> None:
    round_chain(round_id).apply_async()
