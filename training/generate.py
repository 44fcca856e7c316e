"""Batched sampling from a causal LM: chat prompts in, responses (text and token ids) out.

Two layers:

* `sample_batch` works on token ids and returns padded tensors; PPO's rollouts use it directly.
* `generate` / `generate_from_checkpoint` work on conversations and return `Generation`s; the
  web app's "regenerate answers" step and evaluation use them.

Choices, and why:

* Left padding. A decoder-only model continues from the last position of every row, so the
  prompts must end at the same column; pad tokens sit on the left, masked out of attention
  (`generate` derives position ids from the attention mask, so a padded row sees the same
  positions as the unpadded prompt).
* Sort by prompt length before batching, restore the order afterwards: fewer pad tokens, less
  wasted compute.
* Sampling from the full distribution (`top_k=0`). Transformers silently applies `top_k=50`
  otherwise; PPO recomputes log-probabilities from the plain softmax(logits / temperature), so
  the sampler must draw from exactly that distribution (Huang et al. 2024, detail on sampling).
* `temperature=0` means greedy decoding.
* Seeded: `generate` seeds a forked RNG, so the same seed and prompts give the same outputs on
  the same hardware, and the caller's global RNG is left untouched. `sample_batch` draws from the
  global RNG, which PPO seeds once at the start of training.
* `static_cache=True` asks transformers for `cache_implementation="static"`, which on a GPU also
  makes `generate` torch.compile the forward pass (fixed shapes, CUDA graphs). It only pays off
  on a GPU, after a compile warm-up of tens of seconds; it has not been measured here (the
  development machine has no GPU), so it stays off by default.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import GenerationConfig, PreTrainedTokenizerBase

from training.models import Runtime, load_causal_lm, load_tokenizer

Conversation = list[dict[str, str]]  # [{"role": "user", "content": "..."}, ...]


@dataclass
class GenerateArgs:
    """How to sample answers. Cost on 2 CPU cores with SmolLM2-135M: roughly 1-2 s per batch of 16
    for each 10 new tokens; on a GPU, generation is dominated by the number of decode steps."""

    max_new_tokens: int = field(default=64, metadata={"help": "Most tokens generated per answer (EOS included)."})
    temperature: float = field(
        default=0.7, metadata={"help": "Softmax temperature; 0 means greedy decoding."}
    )
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling threshold; 1.0 samples the full distribution."})
    batch_size: int = field(default=16, metadata={"help": "Prompts generated together (one forward pass per token)."})
    seed: int = field(default=0, metadata={"help": "RNG seed; same seed and prompts give the same answers."})
    static_cache: bool = field(
        default=False,
        metadata={"help": "GPU only: static KV cache + torch.compile (faster after warm-up; unmeasured on CPU)."},
    )


@dataclass
class Generation:
    text: str  # decoded answer, special tokens (and the final EOS) left out
    token_ids: list[int]  # answer tokens, without the EOS
    finished: bool  # True when the model ended the answer with EOS, False when max_new_tokens cut it


@dataclass
class SampledBatch:
    """One batch of sampled continuations, as padded tensors on the model's device.

    `query` is left-padded; `response` is right-padded with pad tokens after the first EOS (the EOS
    itself is kept: PPO reads the reward there).
    """

    query: torch.Tensor  # [B, Lq] long
    query_mask: torch.Tensor  # [B, Lq] long, 1 = real token
    response: torch.Tensor  # [B, Lr] long
    response_mask: torch.Tensor  # [B, Lr] long, 1 = real token (EOS included)
    finished: torch.Tensor  # [B] bool, the response contains EOS


def first_true_indices(bools: torch.Tensor, dtype: torch.dtype = torch.long) -> torch.Tensor:
    """Index of the first True in each row of a [B, L] bool tensor; L where a row has none."""
    row_len = bools.size(-1)
    positions = torch.arange(row_len, dtype=dtype, device=bools.device)
    return torch.where(bools, positions, torch.full_like(positions, row_len)).min(dim=-1).values


def truncate_after_eos(response: torch.Tensor, eos_id: int, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace every token after the first EOS by pad; return (tokens, mask of kept tokens).

    The EOS itself is kept. Rows without EOS are left whole (their mask is all ones).
    """
    eos_at = first_true_indices(response == eos_id)  # L when there is no EOS
    positions = torch.arange(response.size(1), device=response.device)
    keep = positions[None, :] <= eos_at[:, None]
    return torch.where(keep, response, torch.full_like(response, pad_id)), keep.long()


def encode_prompts(tokenizer: PreTrainedTokenizerBase, prompts: list[Conversation]) -> list[list[int]]:
    """Render each conversation with the chat template (assistant turn opened) and tokenize it."""
    texts = [tokenizer.apply_chat_template(conv, add_generation_prompt=True, tokenize=False) for conv in prompts]
    # The template already holds every special token; don't let the tokenizer add a BOS twice.
    return [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]


def left_pad(seqs: list[list[int]], pad_id: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Stack token lists into [B, L] ids and attention mask, padding on the left."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        if seq:
            ids[row, width - len(seq):] = torch.tensor(seq, dtype=torch.long)
            mask[row, width - len(seq):] = 1
    return ids.to(device), mask.to(device)


def _generation_config(model, tokenizer, max_new_tokens: int, temperature: float, top_p: float, static_cache: bool):
    greedy = temperature <= 0
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        min_new_tokens=0,
        do_sample=not greedy,
        temperature=None if greedy else temperature,
        top_k=None if greedy else 0,  # 0 turns the top-k filter off: sample the full distribution
        top_p=None if greedy else top_p,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=getattr(model.config, "bos_token_id", None),
        use_cache=True,
    )
    if static_cache:
        config.cache_implementation = "static"
    return config


@torch.no_grad()
def sample_batch(
    model,
    tokenizer: PreTrainedTokenizerBase,
    query_ids: list[list[int]],
    *,
    max_new_tokens: int,
    temperature: float,
    top_p: float = 1.0,
    static_cache: bool = False,
) -> SampledBatch:
    """Sample one continuation per query with the KV cache; draws from the global torch RNG."""
    device = next(model.parameters()).device
    query, query_mask = left_pad(query_ids, tokenizer.pad_token_id, device)
    config = _generation_config(model, tokenizer, max_new_tokens, temperature, top_p, static_cache)
    was_training = model.training
    model.eval()
    try:
        out = model.generate(input_ids=query, attention_mask=query_mask, generation_config=config)
    finally:
        model.train(was_training)
    response, response_mask = truncate_after_eos(out[:, query.size(1):], tokenizer.eos_token_id, tokenizer.pad_token_id)
    finished = (response == tokenizer.eos_token_id).any(dim=1)
    return SampledBatch(query, query_mask, response, response_mask, finished)


def generate(
    model,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[Conversation],
    args: GenerateArgs,
    progress: bool = False,
) -> list[Generation]:
    """Answer every conversation; results come back in the order of `prompts`."""
    if not prompts:
        return []
    encoded = encode_prompts(tokenizer, prompts)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]), reverse=True)
    results: list[Generation | None] = [None] * len(prompts)
    device = next(model.parameters()).device
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(args.seed)
        starts = range(0, len(order), args.batch_size)
        for start in tqdm(starts, desc="generate", unit="batch", disable=not progress):
            batch_idx = order[start:start + args.batch_size]
            batch = sample_batch(
                model,
                tokenizer,
                [encoded[i] for i in batch_idx],
                max_new_tokens=args.max_new_tokens,
                temperature=args.temperature,
                top_p=args.top_p,
                static_cache=args.static_cache,
            )
            for row, i in enumerate(batch_idx):
                finished = bool(batch.finished[row])
                length = int(batch.response_mask[row].sum()) - int(finished)  # drop the EOS
                tokens = batch.response[row, :length].tolist()
                text = tokenizer.decode(tokens, skip_special_tokens=True)
                results[i] = Generation(text=text, token_ids=tokens, finished=finished)
    return results  # type: ignore[return-value]


def generate_from_checkpoint(
    path: str | Path,
    prompts: list[Conversation],
    args: GenerateArgs,
    runtime: Runtime | None = None,
    progress: bool = False,
) -> list[Generation]:
    """Load a causal LM checkpoint directory and answer `prompts` with it."""
    runtime = runtime or Runtime.detect()
    tokenizer = load_tokenizer(path)
    model = load_causal_lm(path, runtime)
    model.eval()
    return generate(model, tokenizer, prompts, args, progress=progress)
