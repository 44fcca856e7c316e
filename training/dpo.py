"""DPO: update the policy directly on the judged pairs, with TRL's DPOTrainer.

The round's other algorithm (`algorithm: dpo` in the round settings; PPO is the default). DPO
(Rafailov et al. 2023) needs no reward model and no sampling: it raises the policy's
log-probability of each chosen reply over the rejected one, relative to the frozen starting
policy, with `beta` setting how far it may move.

* Pairs go to DPOTrainer in TRL's conversational format (it renders and tokenizes them with the
  chat template); pairs longer than `max_length` tokens are left out first, and counted.
* The reference log-probabilities are computed once before training
  (`precompute_ref_log_probs`): the reference is the starting policy, or `reference_path` (a
  round anchors every round to the project's base version, so KL to it stays bounded round
  after round). No second model is kept: the reference's trainable blocks are swapped into the
  policy for the reference pass, then the policy's own are put back.
* With all but the top `trainable_layers` frozen, the frozen blocks' output is computed once per
  sequence and cached (`training.trunk.CachedTrunkBackbone`) before the trainer is built: the
  reference pass and every epoch then run only the top blocks.
* `should_stop()` is asked at every step; True raises `training.stopping.Stopped` (a cancelled round).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from transformers import PrinterCallback

from training.data import PreferenceRecord, to_trl_rows
from training.generate import encode_prompts
from training.models import (
    Runtime,
    decoder_layers,
    freeze_all_but_top,
    load_causal_lm,
    load_tokenizer,
    save_model,
)
from training.reward.scorer import encode_pair
from training.reward.train import _LogRelay, split_records
from training.stopping import Stopped
from training.trainer_run import run_settings, trainer_run
from training.trl_cpu import cpu_lm_head
from training.trunk import CachedTrunkBackbone


@dataclass
class DPOArgs:
    """DPO hyper-parameters (every field is a `python -m training dpo --FIELD` flag)."""

    policy_path: str = field(
        metadata={"help": "Causal LM checkpoint to start from; also the frozen reference by default."}
    )
    out_dir: str = field(metadata={"help": "Where the trained policy is saved (must not exist yet)."})
    reference_path: str | None = field(
        default=None,
        metadata={
            "help": "Frozen reference of the DPO loss, when not the starting policy (an ancestor that differs "
            "from it only in the trainable blocks)."
        },
    )
    metrics_path: str | None = field(
        default=None, metadata={"help": "JSON lines file: one line per training log."}
    )
    seed: int = field(default=0, metadata={"help": "Seeds the data order and the held-out split."})
    beta: float = field(
        default=0.1, metadata={"help": "How far from the reference the policy may move (higher: less)."}
    )
    learning_rate: float = field(default=1e-5, metadata={"help": "Peak AdamW learning rate (linear decay)."})
    epochs: float = field(default=2, metadata={"help": "Passes over the pairs."})
    batch_size: int = field(default=8, metadata={"help": "Pairs per optimizer step."})
    max_length: int | None = field(
        default=512,
        metadata={"help": "Pairs longer than this (prompt + reply tokens) are left out, counted."},
    )
    sft_weight: float = field(
        default=0.0,
        metadata={
            "help": "Weight of an added NLL loss on the chosen replies (RPO, Pang et al. 2024); 0 is plain DPO."
        },
    )
    trainable_layers: int | None = field(
        default=None, metadata={"help": "Train only the top N blocks and the final norm (None: every block)."}
    )
    eval_fraction: float = field(
        default=0.1,
        metadata={"help": "Share of pairs held out to measure preference accuracy of the implicit reward."},
    )
    cache_trunk: bool = field(
        default=True,
        metadata={"help": "Compute the frozen blocks once per sequence (with trainable_layers)."},
    )
    logging_steps: int = field(default=1, metadata={"help": "Optimizer steps between logs."})
    cpu_lm_head: bool = field(
        default=True,
        metadata={
            "help": "On a CPU, score completions with plain ops instead of TRL's GPU kernel path (training.trl_cpu)."
        },
    )


@dataclass
class DPOResult:
    checkpoint: Path
    metrics: dict
    history: list[dict]


def chat_ids(tokenizer, messages: list[dict]) -> list[int]:
    """The token ids of a conversation rendered with the chat template, as DPOTrainer renders prompt + reply."""
    return list(
        tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True, tools=None)["input_ids"]
    )


def dpo_rows(tokenizer, records: Sequence[PreferenceRecord]) -> list[dict]:
    """DPOTrainer's pre-tokenized rows: the rendered prompt, then each reply's tokens up to its EOS."""
    prompts = encode_prompts(tokenizer, [r.prompt for r in records])
    rows = []
    for record, prompt_ids in zip(records, prompts):
        row = {"prompt_ids": prompt_ids}
        for side in ("chosen", "rejected"):
            ids = encode_pair(tokenizer, record.prompt, getattr(record, side))
            if ids[: len(prompt_ids)] != prompt_ids:
                raise ValueError("the chat template renders the prompt differently with a reply after it")
            row[f"{side}_ids"] = ids[len(prompt_ids) :]
        rows.append(row)
    return rows


class _Relay(_LogRelay):
    """The reward trainer's log relay with TRL's "rewards/chosen"-style keys made flat."""

    @staticmethod
    def key(name: str) -> str:
        return name.replace("/", "_")


@torch.no_grad()
def implicit_reward_accuracy(model, tokenizer, reference, rows: list[dict], beta: float) -> float | None:
    """Share of held-out pairs where beta * (log pi/pi_ref) of chosen beats rejected (DPO's implicit reward)."""
    if not rows:
        return None

    def logp(m, prompt_ids, reply_ids) -> float:
        device = next(m.parameters()).device
        ids = torch.tensor([prompt_ids + reply_ids], device=device)
        logits = m(input_ids=ids, use_cache=False).logits[0, len(prompt_ids) - 1 : -1].float()
        return float(torch.log_softmax(logits, -1).gather(1, ids[0, len(prompt_ids) :, None]).sum())

    right = 0
    for row in rows:
        margin = [
            logp(model, row["prompt_ids"], row[side]) - logp(reference, row["prompt_ids"], row[side])
            for side in ("chosen_ids", "rejected_ids")
        ]
        right += beta * margin[0] > beta * margin[1]
    return right / len(rows)


def hold_reference(model, reference_path: str | None, runtime: Runtime) -> Callable[[], None]:
    """Put the reference's weights into `model`'s trainable parameters; the returned function puts
    the policy's back. The frozen ones must already be equal (they are the cached trunk). Called
    before the trunk cache is installed, which renames the modules, not the parameters."""
    if not reference_path:
        return lambda: None
    reference = load_causal_lm(reference_path, runtime).state_dict()
    params = dict(model.named_parameters())
    differs = [k for k, p in params.items() if not p.requires_grad and not torch.equal(p, reference[k])]
    if differs:
        raise ValueError(
            f"the reference {reference_path} differs from the policy in frozen weights ({differs[0]}, "
            f"{len(differs)} in all): train those layers too, or use the policy as its reference"
        )
    trained = [(p, p.detach().clone()) for p in params.values() if p.requires_grad]
    with torch.no_grad():
        for k, p in params.items():
            if p.requires_grad:
                p.copy_(reference[k])

    def restore() -> None:
        with torch.no_grad():
            for p, value in trained:
                p.copy_(value)

    return restore


def train_dpo(
    records: Sequence[PreferenceRecord],
    args: DPOArgs,
    on_log: Callable[[dict], None] | None = None,
    progress: bool = True,
    should_stop: Callable[[], bool] | None = None,
) -> DPOResult:
    """Train the policy at `args.policy_path` on `records` with DPO; save it to `args.out_dir`."""
    from datasets import Dataset
    from transformers import set_seed
    from trl import DPOConfig, DPOTrainer

    records = list(records)
    if not records:
        raise ValueError("no preference pairs to train on")
    if Path(args.out_dir).exists():
        raise FileExistsError(args.out_dir)
    runtime = Runtime.detect()
    set_seed(args.seed)
    tokenizer = load_tokenizer(args.policy_path)
    train_records, eval_records = split_records(records, args.eval_fraction, args.seed)
    lengths = [
        len(r["prompt_ids"]) + max(len(r["chosen_ids"]), len(r["rejected_ids"]))
        for r in dpo_rows(tokenizer, train_records)
    ]
    kept = [r for r, n in zip(train_records, lengths) if not args.max_length or n <= args.max_length]
    if not kept:
        raise ValueError(f"every training pair is longer than max_length={args.max_length} tokens")
    rows = [
        {k: v for k, v in row.items() if k in ("prompt", "chosen", "rejected")} for row in to_trl_rows(kept)
    ]

    model = load_causal_lm(args.policy_path, runtime).train()
    heads = (
        []
        if model.get_output_embeddings().weight is model.get_input_embeddings().weight
        else [model.get_output_embeddings()]
    )
    freeze_all_but_top(model, args.trainable_layers, heads)
    depth = len(decoder_layers(model)) - (args.trainable_layers or 0)
    use_cache = args.cache_trunk and args.trainable_layers is not None and depth > 0

    history: list[dict] = []
    with trainer_run(args.metrics_path, "dpo") as run, contextlib.ExitStack() as stack:
        relay = _Relay(on_log, history, run.metrics_file, should_stop)
        config = DPOConfig(
            output_dir=str(run.work_dir),
            per_device_train_batch_size=args.batch_size,
            num_train_epochs=args.epochs,
            learning_rate=args.learning_rate,
            beta=args.beta,
            max_length=None,
            precompute_ref_log_probs=True,
            loss_type=["sigmoid", "sft"] if args.sft_weight else ["sigmoid"],
            loss_weights=[1.0, args.sft_weight] if args.sft_weight else None,
            logging_steps=args.logging_steps,
            **run_settings(args.seed, progress, runtime.device.type, runtime.autocast_dtype),
            pad_to_multiple_of=None,
        )
        head = (
            cpu_lm_head() if runtime.device.type == "cpu" and args.cpu_lm_head else contextlib.nullcontext()
        )
        stack.enter_context(head)  # the reference pass runs inside the trainer's constructor
        # Cache the frozen blocks first, for every sequence the trainer will see (TRL renders
        # prompt + reply with the chat template), so that the reference pass in the trainer's
        # constructor and every epoch after it run only the top blocks. The untrained model is the
        # reference. A sequence the cache lacks is computed on the spot (`misses`), never wrong.
        restore_policy = hold_reference(model, args.reference_path, runtime)
        started = time.perf_counter()
        cache = None
        if use_cache:
            cache = CachedTrunkBackbone(model, depth)
            cache.fill(
                [
                    chat_ids(tokenizer, row["prompt"] + row[side])
                    for row in rows
                    for side in ("chosen", "rejected")
                ],
                tokenizer.pad_token_id,
            )
            cache.install()
        cache_seconds = time.perf_counter() - started
        try:
            try:  # the reference pass runs in the constructor
                trainer = DPOTrainer(
                    model=model,
                    args=config,
                    train_dataset=Dataset.from_list(rows),
                    processing_class=tokenizer,
                    callbacks=[relay],
                )
            finally:
                restore_policy()
            if not progress:
                trainer.remove_callback(PrinterCallback)
            train_started = time.perf_counter()
            output = trainer.train()
        finally:
            if cache is not None:
                cache.uninstall()
        train_seconds = time.perf_counter() - train_started
        if relay.stopped:
            raise Stopped(f"stopped at step {trainer.state.global_step} of {trainer.state.max_steps}")
        model = trainer.model.eval()
        reference = load_causal_lm(args.reference_path or args.policy_path, runtime).eval()
        held = implicit_reward_accuracy(
            model, tokenizer, reference, dpo_rows(tokenizer, eval_records), args.beta
        )
        checkpoint = save_model(model, tokenizer, args.out_dir)
        last = history[-1] if history else {}
        metrics = {
            "pairs_train": len(rows),
            "pairs_eval": len(eval_records),
            "dropped_too_long": len(train_records) - len(kept),
            "steps": output.global_step,
            "train_loss": output.training_loss,
            "final_loss": last.get("loss"),
            "eval_accuracy": held,
            "reward_accuracy_train_end": last.get("rewards_accuracies"),
            "reward_margin_train_end": last.get("rewards_margins"),
            "cached_trunk_blocks": cache.top.depth if cache is not None else 0,
            "cache_seconds": round(cache_seconds, 2),
            "cache_misses": cache.misses if cache is not None else 0,
            "train_seconds": round(train_seconds, 2),
            "args": asdict(args),
        }
        run.write_final(metrics)
        return DPOResult(checkpoint=checkpoint, metrics=metrics, history=history)
