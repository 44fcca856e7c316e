"""How good is a new policy, and what did it cost? Numbers a round records before deploying.

* **Win rate** of the new policy over the old one: both answer the same held-out prompts; a
  scoring function (the round's reward model, or any other given) decides each pair; ties count
  half. 0.5 means no change.
* **KL(new || old)** per response, estimated on the new policy's own samples as the sum over
  the sampled tokens of log p_new - log p_old (the k1 estimator PPO's penalty uses), at the
  sampling temperature. The old policy is the reference of the round that produced the new one.
  The two share their frozen lower blocks (`training.trunk`): those run once for both.
* **Response length** and the share of responses that ended with EOS, for both policies:
  reward hacking by length shows up here first.
* **Perplexity** on texts the caller supplies (`heldout_texts`), for both: the alignment tax
  (language-modelling quality lost to RLHF) that the InstructGPT paper measured, when there is
  human-written text to measure it on.
* **Reward-model accuracy** on held-out preference pairs lives in `training.reward.accuracy`.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Callable

import torch
from transformers import PreTrainedTokenizerBase

from training.generate import Conversation, GenerateArgs, Generation, encode_prompts, generate, left_pad
from training.models import Runtime, decoder_layers, load_causal_lm, load_tokenizer
from training.ppo_math import logprobs_from_logits
from training.trunk import SharedTrunk, Top, TrunkState, position_ids_from_mask, shared_depth

ScoreFn = Callable[[list[Conversation], list[str]], torch.Tensor]


def win_rate(new_scores: torch.Tensor, old_scores: torch.Tensor) -> float:
    """Share of prompts where the new answer scores higher; a tie counts half."""
    wins = (new_scores > old_scores).float() + 0.5 * (new_scores == old_scores).float()
    return float(wins.mean())


@torch.no_grad()
def sequence_kl(
    new_model,
    old_model,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[Conversation],
    samples: list[Generation],
    temperature: float,
    batch_size: int = 16,
) -> torch.Tensor:
    """KL(new || old) of each sample: the sum over its sampled tokens (EOS only if it was sampled) of
    log p_new - log p_old at `temperature`. [N], float32."""
    layers = len(decoder_layers(new_model))
    depth = shared_depth([new_model, old_model], layers)
    own = depth < 0  # not even the embeddings are shared: each model runs whole
    trunk = SharedTrunk(new_model, max(depth, 0), used=not own)
    tops = [Top(model, max(depth, 0), own_embedding=own) for model in (new_model, old_model)]
    device = next(new_model.parameters()).device
    encoded = encode_prompts(tokenizer, prompts)
    out = []
    for start in range(0, len(prompts), batch_size):
        batch = samples[start : start + batch_size]
        query, query_mask = left_pad(encoded[start : start + batch_size], tokenizer.pad_token_id, device)
        answers = [g.token_ids + ([tokenizer.eos_token_id] if g.finished else []) for g in batch]
        width = max(max(len(a) for a in answers), 1)
        response = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long, device=device)
        response_mask = torch.zeros_like(response)
        for row, answer in enumerate(answers):
            response[row, : len(answer)] = torch.tensor(answer, dtype=torch.long, device=device)
            response_mask[row, : len(answer)] = 1
        ids, mask = torch.cat([query, response], 1), torch.cat([query_mask, response_mask], 1)
        state = trunk(ids, mask) if not own else TrunkState(ids, mask, position_ids_from_mask(mask), None)
        at = query.size(1) - 1
        new_lp, old_lp = (
            logprobs_from_logits(
                top.head(top.hidden(state)[:, at : at + width]).float() / temperature, response
            )
            for top in tops
        )
        out.append(((new_lp - old_lp) * response_mask).sum(1).cpu())
    return torch.cat(out) if out else torch.zeros(0)


@torch.no_grad()
def perplexity(model, tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int = 512) -> float:
    """Token-weighted perplexity of `texts`, one at a time (no padding effects)."""
    device = next(model.parameters()).device
    total_nll, total_tokens = 0.0, 0
    for text in texts:
        ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_length).input_ids.to(
            device
        )
        if ids.size(1) < 2:
            continue
        loss = model(input_ids=ids, labels=ids).loss.float()
        total_nll += float(loss) * (ids.size(1) - 1)
        total_tokens += ids.size(1) - 1
    return math.exp(total_nll / total_tokens) if total_tokens else float("nan")


def sampling_copy(model, runtime: Runtime):
    """The model itself, or a copy in the runtime's inference dtype when that differs (faster sampling)."""
    if runtime.inference_dtype == next(model.parameters()).dtype:
        return model
    return copy.deepcopy(model).to(runtime.inference_dtype).eval()


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
    samples_shown: int = 6,
) -> dict:
    """Compare the policy at `new_path` with the one at `old_path` on `prompts`.

    Both policies sample with the same seed. Every scorer (the reward model at `reward_path`
    as "reward", plus `scorers`) gives a win rate; the reward model also gives mean rewards.
    `samples` holds the first `samples_shown` prompts with both answers, side by side.
    """
    from training.reward import RewardScorer

    runtime = runtime or Runtime.detect()
    tokenizer = load_tokenizer(new_path)
    new_model = load_causal_lm(new_path, runtime).eval()
    old_model = load_causal_lm(old_path, runtime).eval()
    new_gen = generate(sampling_copy(new_model, runtime), tokenizer, prompts, gen_args, progress=progress)
    old_gen = generate(sampling_copy(old_model, runtime), tokenizer, prompts, gen_args, progress=progress)

    with runtime.autocast():
        kls = sequence_kl(new_model, old_model, tokenizer, prompts, new_gen, gen_args.temperature or 1.0)
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
        {"prompt": p[-1]["content"], "new": n, "old": o}
        for p, n, o in list(zip(prompts, new_texts, old_texts))[:samples_shown]
    ]
    return metrics
