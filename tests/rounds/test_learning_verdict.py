"""The verdict on a win rate: a change is claimed only outside a 95% binomial (Wilson) band."""

from __future__ import annotations

import pytest

from webapp.rounds import learning


def test_wilson_interval_matches_hand_computed_values():
    # 7 of 10: the textbook Wilson 95% interval is 0.3968 to 0.8922.
    low, high = learning.wilson_interval(0.7, 10)
    assert low == pytest.approx(0.3968, abs=1e-4)
    assert high == pytest.approx(0.8922, abs=1e-4)
    # Symmetric around one half, and never outside [0, 1].
    low, high = learning.wilson_interval(0.5, 24)
    assert low == pytest.approx(1 - high)
    assert learning.wilson_interval(1.0, 3)[1] == pytest.approx(1.0)
    assert learning.wilson_interval(0.0, 3)[0] == pytest.approx(0.0, abs=1e-12)


def test_clear_win_names_both_versions_the_rate_and_the_prompts():
    verdict = learning.verdict(0.9, 24, "v1", "v0")
    assert verdict.tone == "better"
    assert verdict.text == "v1 beats v0 on 90% of 24 held-out prompts under this round's reward model."
    assert "95% binomial (Wilson) interval for 24 prompts" in verdict.band


def test_small_edge_on_few_prompts_is_no_measurable_change():
    verdict = learning.verdict(0.6, 24, "v2", "v1")
    assert verdict.tone == "same"
    assert verdict.text.startswith("No measurable change: v2 wins 60% of 24 held-out prompts")
    assert "40% to 77%" in verdict.band  # 0.404 to 0.769: contains 50%


def test_the_same_edge_on_many_prompts_is_a_change():
    assert learning.verdict(0.6, 400, "v2", "v1").tone == "better"


def test_clear_loss_is_said_as_a_loss():
    verdict = learning.verdict(0.1, 24, "v3", "v2")
    assert verdict.tone == "worse"
    assert (
        verdict.text
        == "v3 loses to v2: it wins only 10% of 24 held-out prompts under this round's reward model."
    )


@pytest.mark.parametrize("win_rate, prompts", [(None, 24), (0.9, 0), (0.9, None)])
def test_no_verdict_without_a_win_rate_or_prompts(win_rate, prompts):
    assert learning.verdict(win_rate, prompts, "v1", "v0") is None


def test_no_panel_before_evaluation_and_malformed_values_show_as_dashes():
    assert learning.summarize({"reward": {"eval_accuracy": 0.7}}, "v1", "v0") is None
    assert learning.summarize(None, "v1", "v0") is None
    panel = learning.summarize(
        {"evaluation": {"prompts": "many", "win_rate": "nan", "kl": True, "samples": "x"}}, "v1", "v0"
    )
    assert panel.verdict is None
    assert panel.samples == []
    assert {tile.value for tile in panel.tiles[:2]} == {"—"}
