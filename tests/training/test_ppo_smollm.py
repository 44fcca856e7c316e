"""One PPO update on the real SmolLM2-135M (converted from the bundled GGUF): the same code path as
production, shapes and vocabulary included. Slow (tens of seconds on 2 CPU cores)."""

import math
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from training.models import Runtime, load_causal_lm, load_tokenizer
from training.ppo import PPOArgs, train_ppo

pytestmark = pytest.mark.slow

CPU = Runtime.detect(prefer_cpu=True)
PROMPTS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "user", "content": "Write a haiku about rain."}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Why is the sky blue?"}],
    [
        {"role": "user", "content": "Hi!"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Tell me a fact."},
    ],
]


@pytest.fixture(scope="session")
def smollm2_value(smollm2, tmp_path_factory) -> Path:
    """A value-model checkpoint: SmolLM2's backbone with a fresh one-output score head."""
    out = tmp_path_factory.mktemp("smol_value") / "value"
    tokenizer = load_tokenizer(smollm2)
    value = AutoModelForSequenceClassification.from_pretrained(smollm2, num_labels=1)
    value.config.pad_token_id = tokenizer.pad_token_id
    value.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def test_one_ppo_update_on_smollm2(smollm2, smollm2_value, tmp_path):
    args = PPOArgs(
        policy_path=str(smollm2),
        value_model_path=str(smollm2_value),
        out_dir=str(tmp_path / "policy"),
        total_episodes=4,
        rollout_batch_size=4,
        minibatch_size=2,
        ppo_epochs=1,
        max_new_tokens=8,
        trainable_layers=2,
        learning_rate=1e-4,
        metrics_path=str(tmp_path / "metrics.jsonl"),
    )
    lengths = lambda prompts, texts: torch.tensor([len(t) / 40.0 for t in texts])  # noqa: E731
    result = train_ppo(args, PROMPTS, lengths, progress=False, runtime=CPU)

    assert len(result.history) == 1
    record = result.history[0]
    for key, value in record.items():
        assert math.isfinite(value), (key, record)
    assert record["kl"] == pytest.approx(0.0, abs=1e-4)  # the rollout comes from the initial policy
    assert 1 <= record["response_length"] <= 8
    assert record["entropy"] > 0
    assert (tmp_path / "metrics.jsonl").read_text().count("\n") == 1

    trained = load_causal_lm(result.checkpoint, CPU)
    original = load_causal_lm(smollm2, CPU)
    with torch.no_grad():
        changed = {
            name
            for (name, a), (_, b) in zip(trained.named_parameters(), original.named_parameters())
            if not torch.equal(a, b)
        }
    assert changed, "PPO changed no weight"
    # trainable_layers=2: only the top two of 30 blocks and the final norm may move
    assert all(n.startswith(("model.layers.28.", "model.layers.29.", "model.norm.")) for n in changed), (
        changed
    )
    assert load_tokenizer(result.checkpoint).pad_token_id == load_tokenizer(smollm2).pad_token_id
