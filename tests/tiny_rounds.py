"""A tiny-model project ready for a round, for the tests that run rounds through real workers."""

from __future__ import annotations

import time
from pathlib import Path

from tests.tiny_models import build_tiny_model
from webapp.annotation.judges import shorter
from webapp.annotation.simulate import simulate
from webapp.catalog.generation import generate_comparisons
from webapp.catalog.models import Prompt
from webapp.catalog.services import create_base_policy
from webapp.projects.models import Project

GENERATE = {"max_new_tokens": 12, "batch_size": 8}
ROUND = {
    "round": {"min_pairs": 4, "ppo_prompts": 8, "eval_prompts": 4, "next_comparisons": 4, "algorithm": "ppo"},
    # long enough stages to be killed in the middle (a few hundred tiny steps), short enough for CI
    "reward": {
        "max_length": 256,
        "epochs": 60,
        "trainable_layers": None,
        "batch_size": 4,
        "learning_rate": 1e-3,
        "logging_steps": 1,
    },
    "ppo": {
        "max_new_tokens": 12,
        "trainable_layers": None,
        "total_episodes": 400,
        "rollout_batch_size": 8,
        "minibatch_size": 4,
        "learning_rate": 1e-3,
    },
    "generate": GENERATE,
}
DEADLINE_S = 600


def until(condition, what: str, deadline_s: float = DEADLINE_S, poll: float = 0.2):
    """Follow the database until `condition()` is truthy (the worker is another process)."""
    deadline = time.monotonic() + deadline_s
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(poll)
    return value


def tiny_project(tmp_path: Path, config: dict) -> Project:
    project = Project.objects.create(name="Crash", slug="crash", training_config=config)
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
    create_base_policy(project, str(build_tiny_model(tmp_path / "tiny-base")))
    assert generate_comparisons(project.pk, 10, GENERATE, seed=0) == 10
    assert simulate(project, 10, shorter) == 10
    project.refresh_from_db()  # v0 was deployed on another instance of the row
    return project
