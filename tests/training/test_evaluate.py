"""training.evaluate: win rate, KL between policies, perplexity, on tiny models."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.tiny_models import build_tiny_model
from training.evaluate import evaluate_policies, perplexity, win_rate
from training.generate import GenerateArgs
from training.models import load_causal_lm, load_tokenizer, save_model

PROMPTS = [
    [{"role": "user", "content": f"say something about {topic}"}]
    for topic in ("cats", "tea", "rain", "maths")
]
ARGS = GenerateArgs(max_new_tokens=10, temperature=1.0, batch_size=4, seed=3)


def by_length(prompts, responses) -> torch.Tensor:
    return torch.tensor([float(len(r)) for r in responses])


def test_win_rate_counts_ties_half():
    new = torch.tensor([1.0, 2.0, 3.0, 0.0])
    old = torch.tensor([0.0, 2.0, 4.0, -1.0])
    # wins: yes, tie (0.5), no, yes -> 2.5 / 4
    assert win_rate(new, old) == pytest.approx(0.625)


@pytest.fixture(scope="module")
def two_policies(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("eval")
    old = build_tiny_model(root / "old", seed=0)
    model = load_causal_lm(old)
    with torch.no_grad():
        model.lm_head.weight.add_(0.5 * torch.randn_like(model.lm_head.weight))
    new = save_model(model, load_tokenizer(old), root / "new")
    return Path(new), Path(old)


def test_a_policy_against_itself_has_zero_kl_and_half_win_rate(two_policies):
    _, old = two_policies
    metrics = evaluate_policies(old, old, None, PROMPTS, ARGS, scorers={"length": by_length})
    assert metrics["kl"] == pytest.approx(0.0, abs=1e-5)
    assert metrics["win_rate_length"] == 0.5  # same seed, same samples: every pair ties
    assert metrics["new_length"] == metrics["old_length"]


def test_a_changed_policy_has_positive_kl_and_higher_perplexity_elsewhere(two_policies):
    new, old = two_policies
    texts = ["the cat sat on the mat", "tea is hot"]
    metrics = evaluate_policies(
        new, old, None, PROMPTS, ARGS, scorers={"length": by_length}, heldout_texts=texts
    )
    assert metrics["kl"] > 0.01  # KL(new||old) on the new policy's own samples
    # the length scorer's win rate is the share of prompts where the new answer is the longer one
    longer = [
        1.0 if len(x["new"]) > len(x["old"]) else 0.5 if len(x["new"]) == len(x["old"]) else 0.0
        for x in metrics["samples"]
    ]
    assert metrics["win_rate_length"] == pytest.approx(sum(longer) / len(longer))
    assert metrics["new_perplexity"] > 1.0 and metrics["old_perplexity"] > 1.0
    assert [s["prompt"] for s in metrics["samples"]] == [p[-1]["content"] for p in PROMPTS]


def test_perplexity_of_uniform_model_is_vocab_size(tmp_path):
    path = build_tiny_model(tmp_path / "m")
    model, tokenizer = load_causal_lm(path), load_tokenizer(path)
    with torch.no_grad():  # zero logits: every token equally likely
        model.lm_head.weight.zero_()
    ppl = perplexity(model, tokenizer, ["hello there, general kenobi"])
    assert ppl == pytest.approx(model.config.vocab_size, rel=1e-4)
