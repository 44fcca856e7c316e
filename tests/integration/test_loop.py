"""The whole loop through a real Celery worker over real Redis, on a tiny model.

judgments in -> a round out -> a new active policy whose weights differ from the old one ->
next comparisons whose responses come from the new version.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.tiny_models import build_tiny_model
from webapp.annotation.judges import shorter
from webapp.annotation.models import Comparison
from webapp.annotation.simulate import simulate
from webapp.catalog.generation import generate_comparisons
from webapp.catalog.models import PolicyVersion, Prompt
from webapp.catalog.services import create_base_policy
from webapp.datasets.services import sha256_file
from webapp.projects.models import Project
from webapp.rounds import services
from webapp.rounds.models import TrainingRound

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TINY_ROUND = {
    "round": {"min_pairs": 4, "ppo_prompts": 8, "eval_prompts": 4, "next_comparisons": 6},
    "reward": {
        "max_length": 256,
        "epochs": 2,
        "trainable_layers": None,
        "batch_size": 4,
        "learning_rate": 1e-3,
    },
    "ppo": {
        "max_new_tokens": 12,
        "trainable_layers": None,
        "total_episodes": 16,
        "rollout_batch_size": 8,
        "minibatch_size": 4,
        "learning_rate": 1e-3,
    },
    "generate": {"max_new_tokens": 12, "batch_size": 8},
}
ROUND_DEADLINE_S = 600


def weights(policy: PolicyVersion) -> dict[str, torch.Tensor]:
    return load_file(str(Path(policy.checkpoint) / "model.safetensors"))


def wait_for_round(training_round: TrainingRound) -> TrainingRound:
    """Follow the round in the database until it ends (the worker is another process)."""
    deadline = time.monotonic() + ROUND_DEADLINE_S
    while training_round.is_active:
        assert time.monotonic() < deadline, (
            f"round stuck in {training_round.state}: {training_round.progress}"
        )
        time.sleep(0.5)
        training_round.refresh_from_db()
    return training_round


def test_whole_loop_through_celery(celery_worker_process, settings, tmp_path):
    base = build_tiny_model(tmp_path / "tiny-base")
    project = Project.objects.create(name="Loop", slug="loop", training_config=TINY_ROUND)
    for i in range(12):
        Prompt.objects.create(
            project=project, conversation=[{"role": "user", "content": f"tell me a joke {i}"}]
        )
    for i in range(4):
        Prompt.objects.create(
            project=project,
            split=Prompt.Split.EVAL,
            conversation=[{"role": "user", "content": f"what is {i}?"}],
        )
    v0 = create_base_policy(project, str(base))
    assert generate_comparisons(project.pk, 10, TINY_ROUND["generate"], seed=0) == 10
    old_unjudged = set(Comparison.objects.filter(project=project).values_list("pk", flat=True))
    assert simulate(project, 8, shorter) == 8

    training_round = wait_for_round(services.start_round(project))

    assert training_round.state == TrainingRound.State.DONE, training_round.error
    project.refresh_from_db()
    v1 = training_round.policy_out
    assert v1.number == 1 and v1.parent_id == v0.pk
    assert project.active_policy_id == v1.pk
    assert PolicyVersion.objects.get(pk=v0.pk).status == PolicyVersion.Status.RETIRED
    # The policy really changed.
    before, after = weights(v0), weights(v1)
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    # The snapshot is the immutable dataset the reward model trained on.
    assert training_round.dataset_counts["pairs"] >= 4
    assert sha256_file(Path(training_round.dataset_path)) == training_round.dataset_sha256
    reward = training_round.metrics["reward"]
    right = reward["eval_accuracy"] * reward["pairs_eval"]  # a share of the held-out pairs, counted
    assert reward["pairs_eval"] >= 1 and right == pytest.approx(round(right))
    assert "win_rate" in training_round.metrics["evaluation"]
    assert training_round.events.filter(stage="policy").exists()
    # The next comparisons put the new version against its parent; stale unjudged ones are retired.
    fresh = Comparison.objects.filter(project=project, round=training_round)
    assert fresh.count() == TINY_ROUND["round"]["next_comparisons"]
    assert all(c.response_a.policy_id == v1.pk and c.response_b.policy_id == v0.pk for c in fresh)
    judged = set(Comparison.objects.filter(judgments__isnull=False).values_list("pk", flat=True))
    stale = Comparison.objects.filter(pk__in=old_unjudged - judged)
    assert stale.exists() and all(c.status == Comparison.Status.RETIRED for c in stale)
