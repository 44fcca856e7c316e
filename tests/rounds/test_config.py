"""Round config: project and round overrides merge onto the defaults, unknown sections refused."""

from __future__ import annotations

import pytest

from webapp.rounds import config


def test_layers_override_in_order():
    merged = config.merge({"reward": {"epochs": 3}}, {"reward": {"epochs": 5}, "ppo": {"kl_coef": 0.1}})
    assert merged["reward"]["epochs"] == 5
    assert merged["ppo"]["kl_coef"] == 0.1
    assert merged["reward"]["max_length"] == config.DEFAULTS["reward"]["max_length"]


def test_defaults_are_not_mutated():
    config.merge({"round": {"min_pairs": 1}})
    assert config.DEFAULTS["round"]["min_pairs"] != 1


@pytest.mark.parametrize("bad", [{"rewrd": {}}, {"reward": 3}])
def test_bad_sections_are_refused(bad):
    with pytest.raises(config.ConfigError):
        config.merge(bad)
