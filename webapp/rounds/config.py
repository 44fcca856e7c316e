"""A round's configuration: web-side knobs plus overrides for the training dataclasses.

The training dataclasses (training.reward.RewardArgs, training.ppo.PPOArgs,
training.generate.GenerateArgs) hold the library defaults; these are the platform defaults,
chosen so one round with SmolLM2-135M finishes in about ten minutes on 2 CPU cores (see the
README's "Round cost" table). A project overrides any of them in Project.training_config, and a
round can be started with further overrides; the merged result is stored on the round.
"""
from __future__ import annotations

import copy
from typing import Any

DEFAULTS: dict[str, Any] = {
    "round": {
        "min_pairs": 8,  # refuse to start a round with fewer usable preference pairs
        "ppo_prompts": 64,  # train-split prompts the policy practises on
        "eval_prompts": 12,  # eval-split prompts for win rate and KL
        "next_comparisons": 48,  # prompts that get a new pair of responses after deploy
    },
    "reward": {"max_length": 384, "epochs": 1, "trainable_layers": 4, "learning_rate": 5e-5, "batch_size": 8},
    # 3 updates of 16 episodes: ~55 s each on 2 CPU cores; raise total_episodes on a GPU.
    "ppo": {"max_new_tokens": 48, "trainable_layers": 4, "total_episodes": 48, "rollout_batch_size": 16},
    "generate": {"max_new_tokens": 96, "temperature": 0.7, "batch_size": 16},
}

SECTIONS = tuple(DEFAULTS)


class ConfigError(ValueError):
    pass


def merge(*layers: dict[str, Any] | None) -> dict[str, Any]:
    """Merge override layers section by section onto DEFAULTS; unknown sections are an error."""
    merged = copy.deepcopy(DEFAULTS)
    for layer in layers:
        for section, values in (layer or {}).items():
            if section not in merged:
                raise ConfigError(f"unknown config section {section!r}; expected one of {', '.join(SECTIONS)}")
            if not isinstance(values, dict):
                raise ConfigError(f"config section {section!r} must be an object")
            merged[section].update(values)
    return merged
