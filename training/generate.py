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
* Sampling from exactly softmax(logits / temperature) (top-p optional), by prefloop's own
  `InverseCdfSampler`: transformers applies `top_k=50` unless told otherwise, and its multinomial
  draws an exponential variate for every vocabulary entry at every step (a tenth of the decode
  time of SmolLM2 on a CPU). The sampler draws one uniform per row and records the
  log-probability of the token it drew: PPO's "old" log-probabilities come for free.
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
from transformers import GenerationConfig, LogitsProcessor, PreTrainedTokenizerBase

from training.models import Runtime, load_causal_lm, load_tokenizer

Conversation = list[dict[str, str]]  # [{"role": "user", "content": "..."}, ...]


@dataclass
class GenerateArgs:
    """How to sample answers. Cost on 2 CPU cores with SmolLM2-135M: roughly 1-2 s per batch of 16
    for each 10 new tokens; on a GPU, generation is dominated by the number of decode steps."""

    max_new_tokens: int = field(
        default=64, metadata={"help": "Most tokens generated per answer (EOS included)."}
    )
    temperature: float = field(
        default=0.7, metadata={"help": "Softmax temperature; 0 means greedy decoding."}
    )
    top_p: float = field(
        default=1.0, metadata={"help": "Nucleus sampling threshold; 1.0 samples the full distribution."}
    )
    batch_size: int = field(
        default=16, metadata={"help": "Prompts generated together (one forward pass per token)."}
    )
    seed: int = field(default=0, metadata={"help": "RNG seed; same seed and prompts give the same answers."})
    static_cache: bool = field(
        default=False,
        metadata={
            "help": "GPU only: static KV cache + torch.compile (faster after warm-up; unmeasured on CPU)."
        },
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
    logprobs: torch.Tensor | None = (
        None  # [B, Lr] float32, log-probability of each sampled token (0 on padding)
    )
    hidden: torch.Tensor | None = None  # [B, Lq + Lr, H], the `capture` module's output, when asked for
    # [B, 1, H]: the `capture` module's output for an EOS placed after the last column (`close_with`)
    closing_hidden: torch.Tensor | None = None


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
    texts = [
        tokenizer.apply_chat_template(conv, add_generation_prompt=True, tokenize=False) for conv in prompts
    ]
    # The template already holds every special token; don't let the tokenizer add a BOS twice.
    return [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]


def left_pad(
    seqs: list[list[int]], pad_id: int, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack token lists into [B, L] ids and attention mask, padding on the left."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        if seq:
            ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
            mask[row, width - len(seq) :] = 1
    return ids.to(device), mask.to(device)


class InverseCdfSampler(LogitsProcessor):
    """Draw the next token from softmax(logits / temperature), nucleus-filtered when top_p < 1.

    Used as the last logits processor of a greedy `generate`: it returns scores that are -inf
    everywhere but at the token it drew, so greedy decoding takes exactly that token. One uniform
    per row through the cumulative distribution (in float64) replaces torch.multinomial, whose CPU
    kernel draws a random number for every vocabulary entry. Draws from the global torch RNG.
    `logprobs` collects, step by step, the log-probability of each drawn token under the
    unfiltered softmax(logits / temperature): the distribution PPO scores.
    """

    def __init__(self, temperature: float, top_p: float = 1.0):
        if temperature <= 0:
            raise ValueError("sampling needs temperature > 0 (0 means greedy: use no sampler)")
        self.temperature, self.top_p = temperature, top_p
        self.logprobs: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        logprobs = torch.log_softmax(scores.float() / self.temperature, dim=-1)
        probs = logprobs.exp().double()
        if self.top_p < 1.0:
            sorted_probs, order = probs.sort(dim=-1, descending=True)
            outside = (
                sorted_probs.cumsum(-1) - sorted_probs >= self.top_p
            )  # keep the smallest set reaching top_p
            probs = probs.scatter(-1, order, sorted_probs.masked_fill(outside, 0.0))
        cdf = probs.cumsum(-1)
        # u in (0, 1]: the first index whose cumulative sum reaches u * total has non-zero probability
        draw = (1.0 - torch.rand(cdf.size(0), 1, dtype=cdf.dtype, device=cdf.device)) * cdf[:, -1:]
        tokens = torch.searchsorted(cdf, draw).clamp_(max=cdf.size(-1) - 1)
        self.logprobs.append(logprobs.gather(1, tokens).squeeze(1))
        return torch.full_like(scores, float("-inf")).scatter_(1, tokens, 0.0)


def _generation_config(model, tokenizer, max_new_tokens: int, static_cache: bool) -> GenerationConfig:
    """Greedy decoding over whatever the processors leave: sampling is `InverseCdfSampler`'s job."""
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        min_new_tokens=0,
        do_sample=False,
        temperature=None,
        top_k=None,
        top_p=None,
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
    capture: torch.nn.Module | None = None,
    close_with: int | None = None,
) -> SampledBatch:
    """Sample one continuation per query with the KV cache; draws from the global torch RNG.

    With `capture` (a module of `model`, such as the last block of a shared trunk), its output
    for every position of query + response is returned too (`SampledBatch.hidden`): generation
    computes it anyway, and PPO then need not run those blocks again. `generate` never runs the
    model on the token it samples last, so one more cached step computes that position. With
    `close_with` (a token id, the EOS) that step also feeds this token after the last column:
    `closing_hidden` is then the state of a reply closed where the sampling stopped, which is how
    PPO scores a reply that ran out of tokens (the reward model only ever saw closed replies).
    """
    device = next(model.parameters()).device
    query, query_mask = left_pad(query_ids, tokenizer.pad_token_id, device)
    config = _generation_config(model, tokenizer, max_new_tokens, static_cache)
    config.return_dict_in_generate = capture is not None  # the cache comes back with the sequences
    sampler = InverseCdfSampler(temperature, top_p) if temperature > 0 else None
    captured: list[torch.Tensor] = []
    hook = None
    if capture is not None:
        hook = capture.register_forward_hook(
            lambda module, args, output: captured.append(
                (output[0] if isinstance(output, tuple) else output).detach()
            )
        )
    was_training = model.training
    model.eval()
    try:
        out = model.generate(
            input_ids=query,
            attention_mask=query_mask,
            generation_config=config,
            logits_processor=[sampler] if sampler else None,
        )
        sequences = out.sequences if capture is not None else out
        if capture is not None:  # run the last sampled column through the cache: its states are needed too
            tail = sequences[:, -1:]
            if close_with is not None:
                tail = torch.cat([tail, torch.full_like(tail, close_with)], 1)
            mask = torch.cat(
                [query_mask, torch.ones_like(sequences[:, query.size(1) :]), torch.ones_like(tail[:, 1:])], 1
            )
            positions = mask.sum(1, keepdim=True) - tail.size(1) + torch.arange(tail.size(1), device=device)
            model(
                input_ids=tail,
                attention_mask=mask,
                position_ids=positions,
                past_key_values=out.past_key_values,
                use_cache=True,
                logits_to_keep=1,
            )
    finally:
        model.train(was_training)
        if hook is not None:
            hook.remove()
    response, response_mask = truncate_after_eos(
        sequences[:, query.size(1) :], tokenizer.eos_token_id, tokenizer.pad_token_id
    )
    finished = (response == tokenizer.eos_token_id).any(dim=1)
    logprobs = None
    if sampler is not None and sampler.logprobs:
        logprobs = torch.stack(sampler.logprobs, 1)[:, : response.size(1)] * response_mask
    hidden = closing = None
    if capture is not None:
        every = torch.cat(captured, 1)
        hidden = every[:, : sequences.size(1)]
        if close_with is not None:
            closing = every[:, sequences.size(1) : sequences.size(1) + 1]
    return SampledBatch(query, query_mask, response, response_mask, finished, logprobs, hidden, closing)


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
            batch_idx = order[start : start + args.batch_size]
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
    model = load_causal_lm(path, runtime, dtype=runtime.inference_dtype)
    model.eval()
    return generate(model, tokenizer, prompts, args, progress=progress)
