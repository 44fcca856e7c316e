"""Scoring with a reward model: how a (prompt, reply) pair becomes tokens, and what the model says.

One tokenization for everything that touches a reward model (training, scoring, PPO): the chat
template renders `prompt + [assistant reply]`, and the sequence ends at the reply's end-of-turn
token (EOS). Whatever the template adds after it (SmolLM2: a newline) is left out, so the reward
is read at the EOS, which is exactly where a PPO rollout ends: PPO scores the sampled token ids as
they are, without decoding and tokenizing them again.

Rewards are the model's output at the last token minus the `reward_offset` stored in the
checkpoint's config.json (see `training.reward.train`), so that normalised rewards average zero
on held-out responses.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import torch
from transformers import PreTrainedTokenizerBase

from training.data import PreferenceRecord
from training.models import Runtime, load_reward_model

Conversation = list[dict[str, str]]


def encode_pair(tokenizer: PreTrainedTokenizerBase, prompt: Conversation, response: str) -> list[int]:
    """Token ids of `prompt + [assistant response]` with the chat template, ending at the reply's EOS."""
    messages = [*prompt, {"role": "assistant", "content": response}]
    ids = list(
        tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True, tools=None)["input_ids"]
    )
    eos = tokenizer.eos_token_id
    if eos in ids:
        return ids[: len(ids) - ids[::-1].index(eos)]  # up to and including the last EOS
    return ids + [eos]  # a template that does not close the turn with EOS: close it


def reward_offset_of(path: str | Path) -> float:
    config = json.loads((Path(path) / "config.json").read_text())
    return float(config.get("reward_offset", 0.0))


class RewardScorer:
    """Score (prompt, response) pairs with a trained reward model: a float tensor [B] on the CPU.

    Sequences longer than `max_length` (default: the model's position limit) keep their last
    `max_length` tokens, where the reward is read.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        runtime: Runtime | None = None,
        batch_size: int = 16,
        max_length: int | None = None,
        *,
        model=None,
        tokenizer: PreTrainedTokenizerBase | None = None,
        offset: float | None = None,
    ):
        if model is None:
            if path is None:
                raise ValueError("RewardScorer needs a checkpoint path or a model and tokenizer")
            from training.models import load_tokenizer

            tokenizer = load_tokenizer(path)
            model = load_reward_model(path, runtime).eval()
        if tokenizer is None:
            raise ValueError("RewardScorer needs the model's tokenizer")
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_length = max_length or getattr(model.config, "max_position_embeddings", None)
        self.offset = float(getattr(model.config, "reward_offset", 0.0) if offset is None else offset)
        self.truncated = 0  # sequences cut to max_length so far

    @classmethod
    def from_model(
        cls, model, tokenizer, offset: float = 0.0, batch_size: int = 16, max_length: int | None = None
    ):
        return cls(
            model=model, tokenizer=tokenizer, offset=offset, batch_size=batch_size, max_length=max_length
        )

    def encode(self, prompts: Sequence[Conversation], responses: Sequence[str]) -> list[list[int]]:
        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        return [encode_pair(self.tokenizer, p, r) for p, r in zip(prompts, responses)]

    @torch.no_grad()
    def score_ids(self, sequences: Sequence[Sequence[int]], raw: bool = False) -> torch.Tensor:
        """Rewards of already tokenized sequences (offset subtracted unless `raw`)."""
        pad_id = self.tokenizer.pad_token_id
        device = next(self.model.parameters()).device
        if self.max_length:
            cut = [list(s[-self.max_length :]) for s in sequences]
            self.truncated += sum(len(s) > self.max_length for s in sequences)
        else:
            cut = [list(s) for s in sequences]
        order = sorted(range(len(cut)), key=lambda i: len(cut[i]), reverse=True)
        rewards = torch.zeros(len(cut), dtype=torch.float32)
        was_training = self.model.training
        self.model.eval()
        try:
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                width = max(len(cut[i]) for i in batch)
                ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):  # right padding, as RewardTrainer's collator
                    ids[row, : len(cut[i])] = torch.tensor(cut[i], dtype=torch.long)
                    mask[row, : len(cut[i])] = 1
                logits = self.model(
                    input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False
                ).logits
                rewards[torch.tensor(batch)] = logits[:, 0].float().cpu()
        finally:
            self.model.train(was_training)
        return rewards if raw else rewards - self.offset

    def __call__(self, prompts: Sequence[Conversation], responses: Sequence[str]) -> torch.Tensor:
        return self.score_ids(self.encode(prompts, responses))

    def score_records(self, records: Sequence[PreferenceRecord]) -> tuple[torch.Tensor, torch.Tensor]:
        """(chosen rewards, rejected rewards) of the records, scored in one pass."""
        prompts = [r.prompt for r in records]
        rewards = self(prompts + prompts, [r.chosen for r in records] + [r.rejected for r in records])
        return rewards[: len(records)], rewards[len(records) :]


def accuracy(scorer: RewardScorer, records: Sequence[PreferenceRecord]) -> dict:
    """Share of records whose chosen reply outscores the rejected one, overall and by strength.

    Returns {"accuracy", "accuracy_by_strength": {"1": .., ...} (only strengths present),
    "count_by_strength", "mean_margin" (mean r_chosen - r_rejected), "pairs",
    "mean_reward" (offset-normalised, over both replies)}. Ties count as wrong.
    """
    if not records:
        return {
            "accuracy": None,
            "accuracy_by_strength": {},
            "count_by_strength": {},
            "mean_margin": None,
            "pairs": 0,
            "mean_reward": None,
        }
    chosen, rejected = scorer.score_records(records)
    right = (chosen > rejected).float()
    buckets: dict[str, list[float]] = defaultdict(list)
    for record, ok in zip(records, right.tolist()):
        buckets[str(record.strength)].append(ok)
    return {
        "accuracy": right.mean().item(),
        "accuracy_by_strength": {k: sum(v) / len(v) for k, v in sorted(buckets.items())},
        "count_by_strength": {k: len(v) for k, v in sorted(buckets.items())},
        "mean_margin": (chosen - rejected).mean().item(),
        "pairs": len(records),
        "mean_reward": torch.cat([chosen, rejected]).mean().item(),
    }
