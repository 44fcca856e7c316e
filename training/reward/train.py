"""Training a reward model with TRL's RewardTrainer (`train_reward_model`).

* The reward model starts from the policy checkpoint: AutoModelForSequenceClassification with one
  output (a fresh, seeded linear `score` head on the last hidden state), `config.pad_token_id` the
  tokenizer's real pad token (never EOS, or a padded EOS would hide the real one).
* Pairs are tokenized here, by `training.reward.scorer.encode_pair` (chat template, ending at the
  reply's EOS), and handed to RewardTrainer as `chosen_ids` / `rejected_ids`, so training,
  scoring and PPO read the reward at the same token. The loss is
  `-logsigmoid(r_chosen - r_rejected - margin)` with the margin from the judged strength
  (`training.data.margin_for_strength`, `use_margin`), plus
  `center_rewards_coefficient * mean((r_chosen + r_rejected)^2)`.
* Pairs longer than `max_length` first lose their oldest prompt turns (`trimmed_pairs`); those
  that still do not fit are dropped by RewardTrainer and counted (`dropped_too_long`).
* A seeded `eval_fraction` of the pairs is held out. After training, held-out accuracy is
  measured overall and per strength bucket with `RewardScorer` (held-out pairs longer than
  `max_length` are kept and left-truncated to it, so every held-out pair counts; their number is
  `eval_truncated`).
* Offset normalisation: the mean reward over the held-out pairs' responses (chosen and
  rejected; the train pairs' when nothing is held out, up to 256 of them) is stored as
  `reward_offset` in the checkpoint's config.json, and `RewardScorer` subtracts it, so
  normalised rewards average zero on that reference.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import torch
from transformers import AutoModelForSequenceClassification, PrinterCallback, TrainerCallback

from training.data import PreferenceRecord, margin_for_strength
from training.models import Runtime, decoder_layers, freeze_all_but_top, load_tokenizer, save_model
from training.reward.scorer import RewardScorer, accuracy, encode_pair
from training.stopping import Stopped
from training.trainer_run import run_settings, trainer_run
from training.trunk import CachedTrunkBackbone

if TYPE_CHECKING:
    from datasets import Dataset

Conversation = list[dict[str, str]]


@dataclass
class RewardArgs:
    """How to train a reward model with TRL's RewardTrainer.

    Cost on 2 idle CPU cores with SmolLM2-135M, batch_size=8, length-grouped batches: HH-RLHF,
    1,952 pairs x 2 epochs at max_length=256 with trainable_layers=6 took 3,421 s (0.88 s per
    pair and epoch; benchmarks/README.md); a platform round's 230 short pairs x 1 epoch at
    trainable_layers=4 took 146 s. The forward pass through the frozen layers dominates, so
    cost follows the token count more than the number of trainable layers.
    On a GPU in bf16 it is seconds.
    """

    model_path: str = field(
        metadata={"help": "Checkpoint the reward model starts from (the policy): a local HF directory."}
    )
    out_dir: str = field(
        metadata={
            "help": "Where the trained reward model (with its tokenizer) is saved; replaced if it exists."
        }
    )
    metrics_path: str | None = field(
        default=None, metadata={"help": "JSON lines file: one line per training log, then the final metrics."}
    )
    seed: int = field(
        default=0,
        metadata={"help": "Seed for the head initialisation, the held-out split and the data order."},
    )
    max_length: int = field(
        default=512,
        metadata={
            "help": "Longest pair (prompt + reply, in tokens) trained on; longer pairs lose their oldest prompt turns first (trim_prompt_turns), then are dropped."
        },
    )
    epochs: float = field(default=1, metadata={"help": "Passes over the training pairs (fractions allowed)."})
    learning_rate: float = field(default=5e-5, metadata={"help": "Peak AdamW learning rate (linear decay)."})
    batch_size: int = field(
        default=8, metadata={"help": "Pairs per device per step (each pair is two sequences)."}
    )
    gradient_accumulation_steps: int = field(
        default=1, metadata={"help": "Steps accumulated per optimizer update."}
    )
    trainable_layers: int | None = field(
        default=None,
        metadata={
            "help": "Train only the top N transformer layers plus the final norm and the score head "
            "(None trains everything; 0 only the norm and the head)."
        },
    )
    eval_fraction: float = field(
        default=0.1, metadata={"help": "Share of pairs held out (seeded) for accuracy and the reward offset."}
    )
    use_margin: bool = field(
        default=True,
        metadata={"help": "Ask for a reward margin that grows with the judged strength (see data.py)."},
    )
    center_rewards_coefficient: float | None = field(
        default=0.01,
        metadata={"help": "Weight of the mean((r_chosen + r_rejected)^2) penalty that keeps rewards near 0."},
    )
    lora_r: int = field(
        default=0,
        metadata={
            "help": "LoRA rank on the trainable layers' linear maps (0 = full fine-tuning of those layers)."
        },
    )
    logging_steps: int = field(default=5, metadata={"help": "Optimizer steps between training logs."})
    trim_prompt_turns: bool = field(
        default=True,
        metadata={
            "help": "Drop the oldest prompt turns of a pair longer than max_length until it fits (the last user "
            "turn is always kept) instead of losing the pair; counted as trimmed_pairs. False: TRL's plain drop."
        },
    )
    gradient_checkpointing: bool = field(
        default=False,
        metadata={
            "help": "Recompute activations in the backward pass: less memory, more compute (big models on a GPU)."
        },
    )
    cache_trunk: bool = field(
        default=True,
        metadata={
            "help": "With trainable_layers set (no LoRA), compute the frozen blocks once per sequence and train the "
            "top blocks on the cached states: every epoch after the first costs only the top blocks."
        },
    )
    group_by_length: bool = field(
        default=True,
        metadata={
            "help": "Batch pairs of similar token length (transformers' LengthGroupedSampler: random megabatches of "
            "up to 50 batches, sorted inside; no effect below 8 batches). A padding token costs "
            "as much as a real one, and chat data mixes short and long pairs; the metrics report the padded "
            "tokens per epoch with and without grouping."
        },
    )


@dataclass
class RewardResult:
    checkpoint: Path
    metrics: dict
    history: list[dict]


# ---------------------------------------------------------------------------------------------
# Tokenization and scoring


# ---------------------------------------------------------------------------------------------
# Training


def split_records(records: Sequence[PreferenceRecord], eval_fraction: float, seed: int):
    """Seeded (train, held-out) split; at least one pair on each side when there are two or more."""
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    n_eval = int(round(len(records) * eval_fraction)) if eval_fraction > 0 else 0
    if eval_fraction > 0 and len(records) >= 2:
        n_eval = min(max(n_eval, 1), len(records) - 1)
    held = sorted(order[:n_eval])
    train = sorted(order[n_eval:])
    return [records[i] for i in train], [records[i] for i in held]


def _head(model) -> torch.nn.Module:
    for name in ("score", "classifier"):
        if isinstance(getattr(model, name, None), torch.nn.Module):
            return getattr(model, name)
    raise ValueError(f"cannot find the score head of {type(model).__name__}")


def freeze_to_top_layers(model, trainable_layers: int | None) -> None:
    """Freeze everything but the top `trainable_layers` layers, the final norm and the score head."""
    freeze_all_but_top(model, trainable_layers, [_head(model)])


def _apply_lora(model, args: RewardArgs):
    from peft import LoraConfig, TaskType, get_peft_model

    layers = decoder_layers(model)
    top = len(layers) if args.trainable_layers is None else min(args.trainable_layers, len(layers))
    head_name = "score" if hasattr(model, "score") else "classifier"
    config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=args.lora_r,
        lora_alpha=2 * args.lora_r,
        lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        layers_to_transform=list(range(len(layers) - top, len(layers))) if top > 0 else None,
        modules_to_save=[head_name],
    )
    return get_peft_model(model, config)


def padded_tokens(lengths: Sequence[int], order: Sequence[int], batch_size: int) -> int:
    """Tokens one pass over `order` computes: a batch of n pairs is 2n rows padded to its longest sequence."""
    total = 0
    for start in range(0, len(order), batch_size):
        batch = [lengths[i] for i in order[start : start + batch_size]]
        total += 2 * len(batch) * max(batch)
    return total


def _length_grouped_reward_trainer() -> type:
    """RewardTrainer whose batches hold pairs of similar length.

    transformers' own `group_by_length` cannot see the lengths: it reads an `input_ids` column and
    a reward dataset has `chosen_ids` and `rejected_ids` (both padded into one batch). Built on
    first use because trl is imported lazily."""
    from transformers.trainer_pt_utils import LengthGroupedSampler
    from trl import RewardTrainer

    class LengthGroupedRewardTrainer(RewardTrainer):
        def _get_train_sampler(self, train_dataset=None):
            dataset = self.train_dataset if train_dataset is None else train_dataset
            return LengthGroupedSampler(
                self.args.train_batch_size * self.args.gradient_accumulation_steps,
                lengths=pair_lengths(dataset),
            )

    return LengthGroupedRewardTrainer


def pair_lengths(dataset: Dataset) -> list[int]:
    return [max(len(c), len(r)) for c, r in zip(dataset["chosen_ids"], dataset["rejected_ids"])]


def padding_report(dataset: Dataset, batch_size: int, seed: int) -> dict:
    """Padded tokens per epoch for grouped and plain shuffled batches (same data, one seeded draw each).

    `tokens_per_epoch_real` is the floor: every pair padded only to its own longer side."""
    from transformers.trainer_pt_utils import LengthGroupedSampler

    lengths = pair_lengths(dataset)
    generator = torch.Generator().manual_seed(seed)
    grouped = list(LengthGroupedSampler(batch_size, lengths=lengths, generator=generator))
    shuffled = torch.randperm(len(lengths), generator=generator).tolist()
    return {
        "tokens_per_epoch_real": 2 * sum(lengths),
        "tokens_per_epoch_grouped": padded_tokens(lengths, grouped, batch_size),
        "tokens_per_epoch_shuffled": padded_tokens(lengths, shuffled, batch_size),
    }


class _LogRelay(TrainerCallback):
    """Turns Trainer logs into {"step", "total", "epoch", "loss", "accuracy", ...} dicts, and asks
    `should_stop` after every step (a cancelled round ends within one step)."""

    def __init__(
        self,
        on_log: Callable[[dict], None] | None,
        history: list[dict],
        metrics_file,
        should_stop: Callable[[], bool] | None = None,
    ):
        self.sink, self.history, self.metrics_file = on_log, history, metrics_file
        self.should_stop, self.stopped = should_stop, False

    def on_step_end(self, args, state, control, **kwargs):
        if self.should_stop is not None and self.should_stop():
            self.stopped = control.should_training_stop = True

    @staticmethod
    def key(name: str) -> str:
        """The record's name for a Trainer log key (as it is here; subclasses rename)."""
        return name

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = dict(logs or {})
        if "loss" not in logs:  # the end-of-training summary (train_runtime, ...) is reported separately
            return
        entry = {"step": state.global_step, "total": state.max_steps, "epoch": state.epoch}
        entry.update(
            {self.key(k): v for k, v in logs.items() if isinstance(v, (int, float)) and k != "epoch"}
        )
        self.history.append(entry)
        if self.metrics_file is not None:
            self.metrics_file.write(json.dumps(entry) + "\n")
            self.metrics_file.flush()
        if self.sink is not None:
            self.sink(entry)


def _too_long(tokenizer, record: PreferenceRecord, max_length: int) -> bool:
    return (
        len(encode_pair(tokenizer, record.prompt, record.chosen)) > max_length
        or len(encode_pair(tokenizer, record.prompt, record.rejected)) > max_length
    )


def trim_prompt_turns(
    tokenizer, records: Sequence[PreferenceRecord], max_length: int | None
) -> tuple[list[PreferenceRecord], int]:
    """Shorten over-long pairs by dropping their oldest prompt turns; returns (records, trimmed).

    Why: RewardTrainer drops a pair that does not fit. In multi-turn data (HH-RLHF) most of a
    long pair is early conversation; the judgment is about the last reply, so the recent turns
    carry the signal. A leading system message is kept; the last user turn always stays.
    """
    if max_length is None:
        return list(records), 0
    out, trimmed = [], 0
    for record in records:
        prompt = list(record.prompt)
        system = prompt[:1] if prompt and prompt[0]["role"] == "system" else []
        turns = prompt[len(system) :]
        changed = False
        while len(turns) > 1 and _too_long(tokenizer, replace(record, prompt=system + turns), max_length):
            turns = turns[1:]
            while len(turns) > 1 and turns[0]["role"] != "user":  # a prompt starts with a user turn
                turns = turns[1:]
            changed = True
        trimmed += changed
        out.append(replace(record, prompt=system + turns) if changed else record)
    return out, trimmed


def count_too_long(tokenizer, records: Sequence[PreferenceRecord], max_length: int | None) -> int:
    """How many pairs RewardTrainer will drop: chosen or rejected longer than max_length tokens."""
    if max_length is None:
        return 0
    return sum(_too_long(tokenizer, r, max_length) for r in records)


def load_reward_backbone(model_path: str | Path, tokenizer, runtime: Runtime, seed: int):
    """The policy checkpoint as a one-output sequence classifier with a fresh seeded head, fp32 weights."""
    from transformers import set_seed

    set_seed(seed)  # the score head is initialised randomly when the model is loaded
    model = AutoModelForSequenceClassification.from_pretrained(
        str(model_path), num_labels=1, dtype=torch.float32
    )
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer))
    model.config.pad_token_id = tokenizer.pad_token_id
    return model.to(runtime.device)


def tokenized_rows(tokenizer, records: Sequence[PreferenceRecord], use_margin: bool) -> list[dict]:
    """RewardTrainer's pre-tokenized rows: `chosen_ids`, `rejected_ids` (`encode_pair`), and `margin`."""
    return [
        {
            "chosen_ids": encode_pair(tokenizer, r.prompt, r.chosen),
            "rejected_ids": encode_pair(tokenizer, r.prompt, r.rejected),
            **({"margin": margin_for_strength(r.strength)} if use_margin else {}),
        }
        for r in records
    ]


def _trunk_cache(model, args: RewardArgs, rows: list[dict], pad_id: int) -> CachedTrunkBackbone | None:
    """Cache the frozen blocks' output for every training sequence and put the cache in the model, if it applies."""
    if (
        not args.cache_trunk
        or args.trainable_layers is None
        or args.lora_r > 0
        or args.gradient_checkpointing
    ):
        return None
    depth = len(decoder_layers(model)) - args.trainable_layers
    if depth <= 0:
        return None
    cache = CachedTrunkBackbone(model, depth)
    fits = [
        ids
        for row in rows
        for ids in (row["chosen_ids"], row["rejected_ids"])
        if args.max_length is None or max(len(row["chosen_ids"]), len(row["rejected_ids"])) <= args.max_length
    ]
    cache.fill(fits, pad_id)
    cache.install()
    return cache


def train_reward_model(
    records: Sequence[PreferenceRecord],
    args: RewardArgs,
    on_log: Callable[[dict], None] | None = None,
    progress: bool = True,
    should_stop: Callable[[], bool] | None = None,
) -> RewardResult:
    """Train a reward model on `records` with TRL's RewardTrainer; save it (and its tokenizer) to out_dir.

    `should_stop()` is asked after every step; True raises `training.stopping.Stopped`."""
    from datasets import Dataset
    from transformers import set_seed
    from trl import RewardConfig, RewardTrainer

    records = list(records)
    if not records:
        raise ValueError("no preference pairs to train on")
    runtime = Runtime.detect()
    tokenizer = load_tokenizer(args.model_path)
    train_records, eval_records = split_records(records, args.eval_fraction, args.seed)
    trimmed = 0
    if args.trim_prompt_turns:
        train_records, trimmed = trim_prompt_turns(tokenizer, train_records, args.max_length)
    dropped = count_too_long(tokenizer, train_records, args.max_length)
    if dropped == len(train_records):
        raise ValueError(f"every training pair is longer than max_length={args.max_length} tokens")

    model = load_reward_backbone(args.model_path, tokenizer, runtime, args.seed)
    freeze_to_top_layers(model, args.trainable_layers)
    if args.lora_r > 0:
        model = _apply_lora(model, args)

    rows = tokenized_rows(tokenizer, train_records, args.use_margin)
    train_dataset = Dataset.from_list(rows)
    cache_started = time.perf_counter()
    cache = _trunk_cache(model, args, rows, tokenizer.pad_token_id)
    cache_seconds = time.perf_counter() - cache_started

    out_dir = Path(args.out_dir)
    history: list[dict] = []
    with trainer_run(args.metrics_path, "reward") as run:
        relay = _LogRelay(on_log, history, run.metrics_file, should_stop)
        config = RewardConfig(
            output_dir=str(run.work_dir),
            per_device_train_batch_size=args.batch_size,
            gradient_accumulation_steps=args.gradient_accumulation_steps,
            num_train_epochs=args.epochs,
            learning_rate=args.learning_rate,
            logging_steps=args.logging_steps,
            max_length=args.max_length,
            center_rewards_coefficient=args.center_rewards_coefficient,
            **run_settings(args.seed, progress, runtime.device.type, runtime.dtype),
            gradient_checkpointing=args.gradient_checkpointing,
        )
        set_seed(args.seed)
        trainer_class = _length_grouped_reward_trainer() if args.group_by_length else RewardTrainer
        trainer = trainer_class(
            model=model,
            args=config,
            train_dataset=train_dataset,
            processing_class=tokenizer,
            callbacks=[relay],
        )
        if not progress:
            trainer.remove_callback(PrinterCallback)  # it prints every log dict when tqdm is off
        started = time.perf_counter()
        try:
            output = trainer.train()
        finally:
            if cache is not None:
                cache.uninstall()
        train_seconds = time.perf_counter() - started
        if relay.stopped:
            raise Stopped(f"stopped at step {trainer.state.global_step} of {trainer.state.max_steps}")

        model = trainer.model
        if args.lora_r > 0:
            model = model.merge_and_unload()
        model.eval()
        pairs_trained = len(trainer.train_dataset)
        padding = padding_report(
            trainer.train_dataset, config.train_batch_size * args.gradient_accumulation_steps, args.seed
        )

        scorer = RewardScorer.from_model(model, tokenizer, offset=0.0, max_length=args.max_length)
        held = accuracy(scorer, eval_records)
        reference = eval_records or train_records[:256]
        if eval_records:
            offset = held["mean_reward"]
        else:
            offset = accuracy(scorer, reference)["mean_reward"]
        model.config.reward_offset = float(offset)
        model.config.pad_token_id = tokenizer.pad_token_id

        out_dir.parent.mkdir(parents=True, exist_ok=True)
        save_model(model, tokenizer, out_dir, replace=True)  # a retried stage replaces the dead attempt's

        final_loss = history[-1]["loss"] if history else output.training_loss
        metrics = {
            "pairs_train": pairs_trained,
            "pairs_eval": len(eval_records),
            "dropped_too_long": dropped,
            "trimmed_pairs": trimmed,
            "eval_truncated": scorer.truncated,
            "train_seconds": round(train_seconds, 2),
            "cached_trunk_blocks": cache.top.depth if cache is not None else 0,
            "cache_seconds": round(cache_seconds, 2),
            "pairs_per_second": round(pairs_trained * float(args.epochs) / train_seconds, 3)
            if train_seconds
            else None,
            "steps": output.global_step,
            **padding,
            "train_loss": output.training_loss,
            "final_loss": final_loss,
            "eval_accuracy": held["accuracy"],
            "accuracy_by_strength": held["accuracy_by_strength"],
            "count_by_strength": held["count_by_strength"],
            "mean_margin": held["mean_margin"],
            "reward_offset": float(offset),
            "reward_offset_reference": "held-out chosen+rejected"
            if eval_records
            else "train chosen+rejected",
            "args": asdict(args),
        }
        if not all(math.isfinite(h["loss"]) for h in history):
            metrics["warning"] = "non-finite training loss"
        run.write_final(metrics)
        return RewardResult(checkpoint=out_dir, metrics=metrics, history=history)
