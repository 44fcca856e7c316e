"""The SFT stage through a real Celery worker on a tiny model: a round whose snapshot holds
demonstrations fine-tunes on them first and the reward model and DPO start from that policy; a
round without any (or with sft.enabled false) records the stage skipped and runs the rest."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.platform_factories import make_demonstrations
from tests.tiny_rounds import GENERATE, tiny_project, until
from webapp.rounds import services
from webapp.rounds.models import TrainingRound

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SFT_ROUND = {
    "round": {
        "min_pairs": 4,
        "eval_prompts": 4,
        "next_comparisons": 4,
        "algorithm": "dpo",
        "reference": "base",
    },
    "sft": {"epochs": 3, "batch_size": 2, "learning_rate": 1e-3, "trainable_layers": 1},
    "reward": {"max_length": 256, "epochs": 1, "trainable_layers": 1, "batch_size": 4, "learning_rate": 1e-3},
    "dpo": {"epochs": 1, "batch_size": 4, "trainable_layers": 1, "learning_rate": 1e-3},
    "generate": GENERATE,
}


def weights(checkpoint: str) -> dict[str, torch.Tensor]:
    return load_file(str(Path(checkpoint) / "model.safetensors"))


def run_round(project) -> TrainingRound:
    training_round = services.start_round(project)
    until(lambda: not TrainingRound.objects.get(pk=training_round.pk).is_active, "the round to end")
    training_round.refresh_from_db()
    assert training_round.state == TrainingRound.State.DONE, training_round.error
    return training_round


def test_a_round_with_demonstrations_runs_sft_then_the_rest(celery_worker_process, tmp_path):
    project = tiny_project(tmp_path, SFT_ROUND)
    make_demonstrations(project, 6)
    v0 = project.active_policy
    training_round = run_round(project)

    demos = Path(training_round.dataset_path).parent / "demonstrations.jsonl"
    rows = [json.loads(line) for line in demos.read_text().splitlines()]
    assert len(rows) == 6 == training_round.dataset_counts["demonstrations"]
    assert rows[0]["messages"][-1]["role"] == "assistant" and not demos.stat().st_mode & stat.S_IWUSR
    sft = training_round.metrics["sft"]
    assert "skipped" not in sft and sft["demonstrations"] == 6 and sft["trained_tokens"] < sft["tokens"]
    timeline = training_round.timeline
    assert timeline["snapshot"] < timeline["sft"] < timeline["reward"]
    assert len(services.curves(training_round)["sft"]["loss"]) == sft["steps"]  # the round page's curve
    # The reward model and DPO start from the SFT policy, which is also DPO's reference.
    sft_path = training_round.sft_policy_path
    assert Path(sft_path).is_dir()
    assert training_round.metrics["reward"]["args"]["model_path"] == sft_path
    assert training_round.metrics["dpo"]["args"]["policy_path"] == sft_path
    assert training_round.metrics["dpo"]["args"]["reference_path"] is None
    base, tuned, v1 = weights(v0.checkpoint), weights(sft_path), weights(training_round.policy_out.checkpoint)
    assert any(not torch.equal(base[k], tuned[k]) for k in base)
    assert any(not torch.equal(tuned[k], v1[k]) for k in tuned)
    assert training_round.policy_out.parent_id == v0.pk


@pytest.mark.parametrize(
    ("demonstrations", "enabled", "reason"),
    [(0, True, "the snapshot holds no demonstrations"), (3, False, "sft.enabled is false")],
)
def test_without_demonstrations_or_disabled_sft_is_recorded_skipped(
    celery_worker_process, tmp_path, demonstrations, enabled, reason
):
    config = {**SFT_ROUND, "sft": {**SFT_ROUND["sft"], "enabled": enabled}}
    project = tiny_project(tmp_path, config)
    make_demonstrations(project, demonstrations)
    v0 = project.active_policy
    training_round = run_round(project)

    assert training_round.metrics["sft"] == {"skipped": reason, "demonstrations": demonstrations}
    assert training_round.dataset_counts["demonstrations"] == demonstrations
    assert training_round.sft_policy_path == "" and "sft" in training_round.timeline
    assert not training_round.events.filter(stage="sft").exists()
    assert training_round.metrics["reward"]["args"]["model_path"] == v0.checkpoint
    assert training_round.metrics["dpo"]["args"]["reference_path"] == v0.checkpoint  # round.reference: base
