"""How good is a new policy, and what did it cost? Numbers a round records before deploying.

* **Win rate** of the new policy over the old one: both answer the same held-out prompts; a
  scoring function (the round's reward model, or any other given) decides each pair; ties count
  half. 0.5 means no change.
* **KL(new || old)** per response, estimated on the new policy's own samples as the sum over
  response tokens of log p_new - log p_old (the k1 estimator PPO's penalty uses), at the
  sampling temperature. The old policy is the reference of the round that produced the new one.
* **Response length** and the share of responses that ended with EOS, for both policies:
  reward hacking by length shows up here first.
* **Perplexity on held-out text** for both: the alignment tax (language-modelling quality lost
  to RLHF) that the InstructGPT paper measured.
* **Reward-model accuracy** on held-out preference pairs lives in `training.reward.accuracy`.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import torch
from transformers import PreTrainedTokenizerBase

from training.generate import Conversation, GenerateArgs, encode_prompts, generate, left_pad
from training.models import Runtime, load_causal_lm, load_tokenizer

ScoreFn = Callable[[list[Conversation], list[str]], torch.Tensor]


def win_rate(new_scores: torch.Tensor, old_scores: torch.Tensor) -> float:
    """Share of prompts where the new answer scores higher; a tie counts half."""
    wins = (new_scores > old_scores).float() + 0.5 * (new_scores == old_scores).float()
    return float(wins.mean())


@torch.no_grad()
def response_logprobs(
    model,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[Conversation],
    responses: list[list[int]],
    temperature: float,
    batch_size: int = 16,
) -> list[torch.Tensor]:
    """Log-probability of each response token given its prompt, at `temperature`."""
    from training.ppo import policy_forward
    from training.ppo_math import logprobs_from_logits

    device = next(model.parameters()).device
    encoded = encode_prompts(tokenizer, prompts)
    out: list[torch.Tensor] = []
    for start in range(0, len(prompts), batch_size):
        queries = encoded[start:start + batch_size]
        answers = [r + [tokenizer.eos_token_id] for r in responses[start:start + batch_size]]
        query, query_mask = left_pad(queries, tokenizer.pad_token_id, device)
        width = max(len(a) for a in answers)
        response = torch.full((len(answers), width), tokenizer.pad_token_id, dtype=torch.long, device=device)
        response_mask = torch.zeros_like(response)
        for row, answer in enumerate(answers):
            response[row, : len(answer)] = torch.tensor(answer, device=device)
            response_mask[row, : len(answer)] = 1
        logits = policy_forward(model, query, query_mask, response, response_mask, temperature)
        logprobs = logprobs_from_logits(logits.float(), response)
        for row, answer in enumerate(answers):
            out.append(logprobs[row, : len(answer)].cpu())
    return out


@torch.no_grad()
def perplexity(model, tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int = 512) -> float:
    """Token-weighted perplexity of `texts`, one at a time (no padding effects)."""
    device = next(model.parameters()).device
    total_nll, total_tokens = 0.0, 0
    for text in texts:
        ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_length).input_ids.to(device)
        if ids.size(1) < 2:
            continue
        loss = model(input_ids=ids, labels=ids).loss.float()
        total_nll += float(loss) * (ids.size(1) - 1)
        total_tokens += ids.size(1) - 1
    return math.exp(total_nll / total_tokens) if total_tokens else float("nan")


def evaluate_policies(
    new_path: str | Path,
    old_path: str | Path,
    reward_path: str | Path | None,
    prompts: list[Conversation],
    gen_args: GenerateArgs,
    scorers: dict[str, ScoreFn] | None = None,
    heldout_texts: list[str] | None = None,
    runtime: Runtime | None = None,
    progress: bool = False,
) -> dict:
    """Compare the policy at `new_path` with the one at `old_path` on `prompts`.

    Both policies sample with the same seed. Every scorer (the reward model at `reward_path`
    as "reward", plus `scorers`) gives a win rate; the reward model also gives mean rewards.
    """
    from training.reward import RewardScorer

    runtime = runtime or Runtime.detect()
    tokenizer = load_tokenizer(new_path)
    new_model = load_causal_lm(new_path, runtime).eval()
    old_model = load_causal_lm(old_path, runtime).eval()
    new_gen = generate(new_model, tokenizer, prompts, gen_args, progress=progress)
    old_gen = generate(old_model, tokenizer, prompts, gen_args, progress=progress)

    temperature = gen_args.temperature or 1.0
    new_ids = [g.token_ids for g in new_gen]
    lp_new = response_logprobs(new_model, tokenizer, prompts, new_ids, temperature)
    lp_old = response_logprobs(old_model, tokenizer, prompts, new_ids, temperature)
    kls = torch.tensor([float((a - b).sum()) for a, b in zip(lp_new, lp_old)])

    metrics: dict = {
        "prompts": len(prompts),
        "kl": float(kls.mean()),
        "new_length": sum(len(g.token_ids) for g in new_gen) / len(new_gen),
        "old_length": sum(len(g.token_ids) for g in old_gen) / len(old_gen),
        "new_eos_fraction": sum(g.finished for g in new_gen) / len(new_gen),
        "old_eos_fraction": sum(g.finished for g in old_gen) / len(old_gen),
    }
    all_scorers = dict(scorers or {})
    if reward_path:
        all_scorers = {"reward": RewardScorer(reward_path, runtime=runtime), **all_scorers}
    new_texts, old_texts = [g.text for g in new_gen], [g.text for g in old_gen]
    for name, score in all_scorers.items():
        new_scores = torch.as_tensor(score(prompts, new_texts), dtype=torch.float32)
        old_scores = torch.as_tensor(score(prompts, old_texts), dtype=torch.float32)
        suffix = "" if name == "reward" else f"_{name}"
        metrics[f"win_rate{suffix}"] = win_rate(new_scores, old_scores)
        metrics[f"new_{name}_mean"] = float(new_scores.mean())
        metrics[f"old_{name}_mean"] = float(old_scores.mean())
    if heldout_texts:
        metrics["new_perplexity"] = perplexity(new_model, tokenizer, heldout_texts)
        metrics["old_perplexity"] = perplexity(old_model, tokenizer, heldout_texts)
    metrics["samples"] = [
        {"prompt": p[-1]["content"], "new": n, "old": o} for p, n, o in list(zip(prompts, new_texts, old_texts))[:3]
    ]
    return metrics
