"""A round's configuration: web-side knobs plus overrides for the training dataclasses.

The training dataclasses (training.reward.RewardArgs, training.ppo.PPOArgs,
training.generate.GenerateArgs) hold the library defaults; these are the platform defaults,
chosen for a round of SmolLM2-135M on a small CPU machine (what they cost and teach is measured
in benchmarks/README.md, not here). A project overrides any of them in Project.training_config, and a
round can be started with further overrides; the merged result is stored on the round.
"""

from __future__ import annotations

import copy
from typing import Any

DEFAULTS: dict[str, Any] = {
    "round": {
        "min_pairs": 8,  # refuse to start a round with fewer usable preference pairs
        # ppo (reward model, then PPO against it), dpo (DPO on the judged pairs), or auto: PPO on a GPU
        # worker, DPO on a CPU one, where PPO cannot move the policy far enough in a ten-minute round
        # (benchmarks/README.md, "Rounds that teach").
        "algorithm": "auto",
        "ppo_prompts": 512,  # train-split prompts the policy practises on (PPO)
        "eval_prompts": 24,  # eval-split prompts for the win rate, KL and samples of the evaluate stage
        "next_comparisons": 48,  # prompts that get a new pair of responses after deploy
        "pairing": "parent",  # next pairs: new policy vs its parent ("parent") or two samples of it ("policy")
        # new: train on the judgments made since the last finished round (each trains once; the
        # round's cost stays flat as the project grows); all: on every judgment of the project.
        "judgments": "new",
        # DPO's frozen reference: the project's base version ("base"), so that every round is
        # anchored to v0 as InstructGPT's KL term is to its SFT model, or the round's starting
        # policy ("parent"). Measured: benchmarks/README.md, "Rounds that teach".
        "reference": "base",
    },
    "reward": {"max_length": 384, "epochs": 4, "trainable_layers": 4, "learning_rate": 3e-4, "batch_size": 8},
    "ppo": {
        "max_new_tokens": 64,
        "trainable_layers": 4,
        "total_episodes": 320,
        "rollout_batch_size": 64,
        "minibatch_size": 16,
        "ppo_epochs": 2,
        "learning_rate": 5e-5,
    },
    # sft_weight: an NLL term on the chosen replies (RPO) keeps DPO near the data; measured on CPU it
    # held KL(v1||v0) at 4 nats where plain DPO at the same rate went to 24 for a similar win rate.
    "dpo": {
        "trainable_layers": 4,
        "epochs": 3,
        "learning_rate": 2e-4,
        "beta": 0.1,
        "batch_size": 8,
        "sft_weight": 1.0,
    },
    "generate": {"max_new_tokens": 96, "temperature": 0.7, "batch_size": 64},
}

SECTIONS = tuple(DEFAULTS)
ALGORITHMS = ("auto", "ppo", "dpo")
PAIRINGS = ("parent", "policy")
JUDGMENT_WINDOWS = ("new", "all")
REFERENCES = ("parent", "base")


class ConfigError(ValueError):
    pass


def merge(*layers: dict[str, Any] | None) -> dict[str, Any]:
    """Merge override layers section by section onto DEFAULTS; unknown sections are an error."""
    merged = copy.deepcopy(DEFAULTS)
    for layer in layers:
        for section, values in (layer or {}).items():
            if section not in merged:
                raise ConfigError(
                    f"unknown config section {section!r}; expected one of {', '.join(SECTIONS)}"
                )
            if not isinstance(values, dict):
                raise ConfigError(f"config section {section!r} must be an object")
            merged[section].update(values)
    if merged["round"]["algorithm"] not in ALGORITHMS:
        raise ConfigError(
            f"round.algorithm must be one of {', '.join(ALGORITHMS)}, not {merged['round']['algorithm']!r}"
        )
    if merged["round"]["pairing"] not in PAIRINGS:
        raise ConfigError(
            f"round.pairing must be one of {', '.join(PAIRINGS)}, not {merged['round']['pairing']!r}"
        )
    if merged["round"]["judgments"] not in JUDGMENT_WINDOWS:
        raise ConfigError(
            f"round.judgments must be one of {', '.join(JUDGMENT_WINDOWS)}, not {merged['round']['judgments']!r}"
        )
    if merged["round"]["reference"] not in REFERENCES:
        raise ConfigError(
            f"round.reference must be one of {', '.join(REFERENCES)}, not {merged['round']['reference']!r}"
        )
    return merged
