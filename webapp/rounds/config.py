"""A round's configuration: web-side knobs plus overrides for the training dataclasses.

The training dataclasses (training.sft.SFTArgs, training.reward.RewardArgs, training.ppo.PPOArgs,
training.dpo.DPOArgs, training.generate.GenerateArgs) hold the library defaults; these are the platform defaults,
chosen for a round of SmolLM2-135M on a small CPU machine (what they cost and teach is measured
in benchmarks/README.md, not here). A project overrides any of them in Project.training_config, and a
round can be started with further overrides; the merged result is stored on the round.
"""

from __future__ import annotations

import copy
import json
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
        # include: imported judgments (Judgment.source not "", e.g. an HH-RLHF file) train with
        # the project's own; exclude: only judgments made in prefloop.
        "imported": "include",
    },
    # Supervised fine-tuning on the snapshot's demonstrations (answers people wrote), before the
    # reward model and the policy update, which then start from the SFT policy (InstructGPT's
    # order). Skipped when the snapshot holds none, or with enabled false. The same top blocks as
    # the other stages train, so DPO's base reference still differs from it only there.
    "sft": {
        "enabled": True,
        "epochs": 2,
        "learning_rate": 1e-4,
        "trainable_layers": 4,
        "batch_size": 8,
        "max_length": 512,
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
IMPORTED = ("include", "exclude")


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
    if merged["round"]["imported"] not in IMPORTED:
        raise ConfigError(
            f"round.imported must be one of {', '.join(IMPORTED)}, not {merged['round']['imported']!r}"
        )
    return merged


# What each section may override and the JSON type of its value: the round's knobs, and the fields
# of the training dataclass the section is passed to as keyword arguments (sft: SFTArgs, and its
# own switch "enabled"; reward: RewardArgs, ppo:
# PPOArgs, dpo: DPOArgs, generate: GenerateArgs), less those a worker sets itself (paths, seed).
# Listed here because the web process never imports torch; tests/rounds/test_config_keys.py keeps
# the lists equal to the dataclasses. "int?" and "float?" also take null.
OVERRIDABLE: dict[str, dict[str, str]] = {
    "round": {
        "min_pairs": "int",
        "algorithm": "str",
        "ppo_prompts": "int",
        "eval_prompts": "int",
        "next_comparisons": "int",
        "pairing": "str",
        "judgments": "str",
        "reference": "str",
        "imported": "str",
    },
    "sft": {
        "enabled": "bool",
        "epochs": "float",
        "learning_rate": "float",
        "batch_size": "int",
        "max_length": "int?",
        "trainable_layers": "int?",
        "logging_steps": "int",
    },
    "reward": {
        "max_length": "int",
        "epochs": "float",
        "learning_rate": "float",
        "batch_size": "int",
        "gradient_accumulation_steps": "int",
        "trainable_layers": "int?",
        "eval_fraction": "float",
        "use_margin": "bool",
        "center_rewards_coefficient": "float?",
        "lora_r": "int",
        "logging_steps": "int",
        "trim_prompt_turns": "bool",
        "gradient_checkpointing": "bool",
        "cache_trunk": "bool",
        "group_by_length": "bool",
    },
    "ppo": {
        "total_episodes": "int",
        "rollout_batch_size": "int",
        "minibatch_size": "int",
        "forward_batch_size": "int",
        "ppo_epochs": "int",
        "learning_rate": "float",
        "anneal_lr": "bool",
        "max_new_tokens": "int",
        "max_prompt_tokens": "int?",
        "temperature": "float",
        "kl_coef": "float",
        "adaptive_kl": "bool",
        "target_kl": "float",
        "kl_horizon": "int",
        "kl_estimator": "str",
        "gamma": "float",
        "lam": "float",
        "cliprange": "float",
        "cliprange_value": "float",
        "vf_coef": "float",
        "max_grad_norm": "float",
        "missing_eos_penalty": "float?",
        "close_truncated": "bool",
        "whiten_rewards": "bool",
        "trainable_layers": "int?",
        "lora_r": "int",
        "lora_alpha": "int",
        "logging_steps": "int",
    },
    "dpo": {
        "beta": "float",
        "learning_rate": "float",
        "epochs": "float",
        "batch_size": "int",
        "max_length": "int?",
        "sft_weight": "float",
        "trainable_layers": "int?",
        "eval_fraction": "float",
        "cache_trunk": "bool",
        "logging_steps": "int",
        "cpu_lm_head": "bool",
    },
    "generate": {
        "max_new_tokens": "int",
        "temperature": "float",
        "top_p": "float",
        "batch_size": "int",
        "static_cache": "bool",
    },
}


def _type_ok(value: Any, kind: str) -> bool:
    if value is None:
        return kind.endswith("?")
    kind = kind.rstrip("?")
    if isinstance(value, bool):  # JSON true/false: never a number here
        return kind == "bool"
    if kind == "int":
        return isinstance(value, int)
    if kind == "float":
        return isinstance(value, (int, float))
    return isinstance(value, {"bool": bool, "str": str}[kind])


def check_overrides(overrides: Any) -> dict[str, Any]:
    """`overrides` when a round could run with them, else ConfigError naming the section and key.

    merge() alone lets any key through to the training dataclasses, where a misspelt one fails the
    round's stage with a TypeError long after it was typed; the settings page asks here first.
    """
    if not isinstance(overrides, dict):
        raise ConfigError('the training config must be a JSON object of sections, e.g. {"ppo": {...}}')
    merge(overrides)  # unknown sections, values of the round's choices
    for section, values in overrides.items():
        allowed = OVERRIDABLE[section]
        for key, value in values.items():
            if key not in allowed:
                raise ConfigError(
                    f"{section}.{key} is not a setting of the {section} section; "
                    f"expected one of {', '.join(sorted(allowed))}"
                )
            kind = allowed[key]
            if not _type_ok(value, kind):
                wanted = {
                    "int": "an integer",
                    "float": "a number",
                    "bool": "true or false",
                    "str": "a string",
                }
                words = wanted[kind.rstrip("?")] + (" or null" if kind.endswith("?") else "")
                raise ConfigError(f"{section}.{key} must be {words}, not {json.dumps(value)}")
    return overrides
