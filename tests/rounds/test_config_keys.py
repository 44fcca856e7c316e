"""The settings page's list of overridable keys (rounds.config.OVERRIDABLE) is the training
dataclasses' fields, less those a worker sets, with their types: the web cannot import them."""

from __future__ import annotations

import dataclasses

import pytest

from webapp.rounds import config

WORKER_SET = {"model_path", "policy_path", "reward_model_path", "value_model_path", "reference_path"}
WORKER_SET |= {"out_dir", "metrics_path", "seed"}
KINDS = {"int": "int", "float": "float", "bool": "bool", "str": "str", "int | None": "int?"}
KINDS["float | None"] = "float?"


def dataclass_of(section: str):
    from training.dpo import DPOArgs
    from training.generate import GenerateArgs
    from training.ppo import PPOArgs
    from training.reward import RewardArgs
    from training.sft import SFTArgs

    return {"sft": SFTArgs, "reward": RewardArgs, "ppo": PPOArgs, "dpo": DPOArgs, "generate": GenerateArgs}[
        section
    ]


# Keys a section has beside its dataclass's fields: the stage reads them itself.
STAGE_KEYS = {"sft": {"enabled": "bool"}}


@pytest.mark.parametrize("section", ["sft", "reward", "ppo", "dpo", "generate"])
def test_a_section_lists_its_dataclass_fields(section):
    fields = [f for f in dataclasses.fields(dataclass_of(section)) if f.name not in WORKER_SET]
    expected = {**STAGE_KEYS.get(section, {}), **{f.name: KINDS[str(f.type)] for f in fields}}
    assert config.OVERRIDABLE[section] == expected


def test_every_default_is_overridable_with_its_own_type():
    assert set(config.OVERRIDABLE) == set(config.DEFAULTS)
    for section, values in config.DEFAULTS.items():
        assert config.check_overrides({section: values}) == {section: values}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ([], "must be a JSON object"),
        ({"rewrd": {}}, "unknown config section 'rewrd'"),
        ({"ppo": {"kl_coeff": 0.1}}, "ppo.kl_coeff is not a setting of the ppo section"),
        ({"ppo": {"seed": 1}}, "ppo.seed is not a setting"),
        ({"reward": {"epochs": "four"}}, 'reward.epochs must be a number, not "four"'),
        ({"reward": {"batch_size": 2.5}}, "reward.batch_size must be an integer, not 2.5"),
        ({"dpo": {"cache_trunk": 1}}, "dpo.cache_trunk must be true or false, not 1"),
        ({"sft": {"enabled": "no"}}, 'sft.enabled must be true or false, not "no"'),
        ({"sft": {"seed": 3}}, "sft.seed is not a setting of the sft section"),
        ({"round": {"min_pairs": True}}, "round.min_pairs must be an integer, not true"),
        ({"round": {"algorithm": "sft"}}, "round.algorithm must be one of auto, ppo, dpo, not 'sft'"),
        ({"round": {"imported": "yes"}}, "round.imported must be one of include, exclude, not 'yes'"),
    ],
)
def test_a_bad_override_names_its_key(overrides, message):
    with pytest.raises(config.ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        config.check_overrides(overrides)


def test_nullable_fields_take_null():
    assert config.check_overrides({"reward": {"trainable_layers": None}, "ppo": {"kl_coef": 1}})
