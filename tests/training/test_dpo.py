"""DPO with TRL's DPOTrainer on a tiny model: it learns the preference, and caching the frozen
trunk changes nothing but the cost."""

from __future__ import annotations

import pytest
import torch

from tests.tiny_models import build_tiny_model
from tests.training.test_reward import marker_records
from training.dpo import DPOArgs, dpo_rows, train_dpo
from training.models import load_causal_lm, load_tokenizer
from training.reward.scorer import encode_pair


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("dpo") / "model")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_rows_are_the_prompt_then_each_reply_to_its_eos(tiny):
    tokenizer = load_tokenizer(tiny)
    record = marker_records(1)[0]
    row = dpo_rows(tokenizer, [record])[0]
    assert row["prompt_ids"] + row["chosen_ids"] == encode_pair(tokenizer, record.prompt, record.chosen)
    assert row["rejected_ids"][-1] == tokenizer.eos_token_id


def test_learns_the_preference_and_reports_it(tiny, tmp_path):
    records = marker_records(64, seed=5)
    logged = []
    args = DPOArgs(
        policy_path=str(tiny),
        out_dir=str(tmp_path / "policy"),
        metrics_path=str(tmp_path / "m.jsonl"),
        beta=0.1,
        learning_rate=1e-3,
        epochs=4,
        batch_size=8,
        eval_fraction=0.25,
        trainable_layers=None,
    )
    result = train_dpo(records, args, on_log=logged.append, progress=False)
    assert result.metrics["pairs_train"] == 48 and result.metrics["pairs_eval"] == 16
    assert result.metrics["eval_accuracy"] >= 0.9  # held-out pairs: the implicit reward orders them
    assert logged == result.history and logged[-1]["loss"] < logged[0]["loss"]
    trained, start = load_causal_lm(result.checkpoint), load_causal_lm(tiny)
    assert any(not torch.equal(a, b) for a, b in zip(trained.parameters(), start.parameters()))


def test_cached_trunk_trains_the_same_policy(tiny, tmp_path):
    """The frozen blocks cached before the trainer exists (reference pass included) change nothing:
    same losses, same weights, and every sequence the trainer asked for was in the cache."""
    records = marker_records(24, seed=6)
    common = dict(
        policy_path=str(tiny),
        beta=0.1,
        learning_rate=1e-3,
        epochs=2,
        batch_size=8,
        eval_fraction=0.0,
        trainable_layers=1,
    )
    cached = train_dpo(
        records, DPOArgs(out_dir=str(tmp_path / "a"), cache_trunk=True, **common), progress=False
    )
    plain = train_dpo(
        records, DPOArgs(out_dir=str(tmp_path / "b"), cache_trunk=False, **common), progress=False
    )
    assert cached.metrics["cached_trunk_blocks"] == 1 and plain.metrics["cached_trunk_blocks"] == 0
    assert cached.metrics["cache_misses"] == 0  # the cache was filled with exactly TRL's tokenization
    assert [h["loss"] for h in cached.history] == pytest.approx([h["loss"] for h in plain.history], abs=1e-5)
    a, b = load_causal_lm(cached.checkpoint), load_causal_lm(plain.checkpoint)
    for (name, x), (_, y) in zip(a.named_parameters(), b.named_parameters()):
        torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-4, msg=name)


def test_the_cpu_lm_head_gives_trls_losses(tiny, tmp_path):
    """training.trl_cpu's plain log-probabilities train exactly what TRL's own kernel path trains."""
    records = marker_records(16, seed=7)
    common = dict(
        policy_path=str(tiny),
        beta=0.1,
        learning_rate=1e-3,
        epochs=1,
        batch_size=8,
        eval_fraction=0.0,
        trainable_layers=None,
    )
    ours = train_dpo(
        records, DPOArgs(out_dir=str(tmp_path / "a"), cpu_lm_head=True, **common), progress=False
    )
    trls = train_dpo(
        records, DPOArgs(out_dir=str(tmp_path / "b"), cpu_lm_head=False, **common), progress=False
    )
    for a, b in zip(ours.history, trls.history):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-5)
        assert a["rewards_margins"] == pytest.approx(b["rewards_margins"], abs=1e-5)
    import trl.trainer.utils as trl_utils

    assert trl_utils._ChunkedLogProbFunction.__name__ == "ChunkedLogProbFunction"  # restored afterwards


def test_an_ancestor_as_reference_anchors_the_loss(tiny, tmp_path):
    """A round anchored to v0: DPO from v1 measures its log-ratios against v0, so the pairs v1
    already prefers start with a margin (loss below log 2) instead of from zero."""
    records = marker_records(32, seed=8)
    common = dict(beta=0.1, learning_rate=1e-3, batch_size=8, eval_fraction=0.0, trainable_layers=1)
    v1 = train_dpo(
        records,
        DPOArgs(policy_path=str(tiny), out_dir=str(tmp_path / "v1"), epochs=4, **common),
        progress=False,
    ).checkpoint
    from_parent = train_dpo(
        records, DPOArgs(policy_path=str(v1), out_dir=str(tmp_path / "a"), epochs=1, **common), progress=False
    )
    anchored = train_dpo(
        records,
        DPOArgs(
            policy_path=str(v1), reference_path=str(tiny), out_dir=str(tmp_path / "b"), epochs=1, **common
        ),
        progress=False,
    )
    assert from_parent.history[0]["loss"] == pytest.approx(
        0.6931, abs=1e-3
    )  # reference = itself: no margin yet
    # v1's preference for the chosen replies counts from the start
    assert anchored.history[0]["loss"] < from_parent.history[0]["loss"] - 0.05
    assert anchored.history[0]["rewards_margins"] > 0.05 and from_parent.history[0][
        "rewards_margins"
    ] == pytest.approx(0, abs=1e-4)


def test_a_reference_that_differs_in_frozen_blocks_is_refused(tiny, tmp_path):
    other = build_tiny_model(tmp_path / "other", seed=1)
    args = DPOArgs(
        policy_path=str(tiny), reference_path=str(other), out_dir=str(tmp_path / "p"), trainable_layers=1
    )
    with pytest.raises(ValueError, match="differs from the policy in frozen weights"):
        train_dpo(marker_records(8), args, progress=False)
    assert not (tmp_path / "p").exists()
