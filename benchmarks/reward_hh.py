"""Reward-model benchmark on real human preferences: HH-RLHF harmless-base (test split, 2,312 pairs).

    .venv/bin/python -m benchmarks.reward_hh [--train 2000 --eval 312 --trainable-layers 4 --epochs 1
        --max-length 256 --model bundled|PATH --out var/bench/reward_hh]

A seeded split of the pairs into train and held-out; a reward model trained with
`training.reward.train_reward_model` (TRL's RewardTrainer) on the SmolLM2-135M backbone
(`bundled` is converted once and cached under var/models/smollm2-v0). Reported, all on the same
held-out pairs: the trained model's accuracy, the untrained backbone with a fresh seeded head
(same run), the trivial "longer response wins" rule; dropped pairs, training time, pairs/s.
Writes `result.json` in --out and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

import torch

from training.data import read_hh
from training.models import BUNDLED, Runtime, convert_base_model, load_tokenizer
from training.reward import (
    RewardArgs,
    RewardScorer,
    accuracy,
    load_reward_backbone,
    split_records,
    train_reward_model,
)

DEFAULT_DATA = (
    Path(__file__).resolve().parent.parent
    / ".."
    / "shared"
    / "data"
    / "hh-rlhf"
    / "harmless-base-test.jsonl.gz"
)
BUNDLED_CACHE = Path("var/models/smollm2-v0")


def longer_wins(records) -> float:
    """Accuracy of 'the longer reply (in characters) is chosen'; ties count as wrong."""
    return sum(len(r.chosen) > len(r.rejected) for r in records) / len(records)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.reward_hh", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DEFAULT_DATA), help="HH-RLHF jsonl(.gz)")
    p.add_argument("--train", type=int, default=2000, help="training pairs (before dropping too-long ones)")
    p.add_argument("--eval", type=int, default=312, help="held-out pairs")
    p.add_argument(
        "--model", default=BUNDLED, help="'bundled' (SmolLM2-135M-Instruct) or a checkpoint directory"
    )
    p.add_argument("--trainable-layers", type=int, default=4)
    p.add_argument("--epochs", type=float, default=1)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lora-r", type=int, default=0)
    p.add_argument(
        "--margin", action="store_true", help="use strength margins (HH has no strengths: constant 0.5)"
    )
    p.add_argument(
        "--no-trim",
        action="store_true",
        help="drop over-long pairs (TRL's behaviour) instead of trimming old turns",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-baseline", action="store_true", help="skip scoring the untrained backbone")
    p.add_argument("--out", default="var/bench/reward_hh")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model_path = str(convert_base_model(BUNDLED, BUNDLED_CACHE)) if args.model == BUNDLED else args.model

    records = read_hh(args.data)
    random.Random(args.seed).shuffle(records)
    records = records[: args.train + args.eval]
    fraction = args.eval / len(records)
    _, held_out = split_records(records, fraction, args.seed)  # the split train_reward_model makes
    result: dict = {
        "command": " ".join(
            [Path(sys.executable).name, "-m", "benchmarks.reward_hh", *(argv or sys.argv[1:])]
        ),
        "data": Path(args.data).name,
        "model": args.model,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"{'cuda' if torch.cuda.is_available() else 'cpu'}",
        "settings": {k: v for k, v in vars(args).items() if k not in ("data", "out")},
        "pairs_eval": len(held_out),
        "baseline_longer_wins": longer_wins(held_out),
    }
    print(f"held-out 'longer wins' accuracy: {result['baseline_longer_wins']:.3f}", flush=True)

    reward_args = RewardArgs(
        model_path=model_path,
        out_dir=str(out / "reward-model"),
        metrics_path=str(out / "metrics.jsonl"),
        seed=args.seed,
        max_length=args.max_length,
        epochs=args.epochs,
        learning_rate=args.lr,
        batch_size=args.batch_size,
        trainable_layers=args.trainable_layers,
        eval_fraction=fraction,
        use_margin=args.margin,
        lora_r=args.lora_r,
        trim_prompt_turns=not args.no_trim,
        logging_steps=10,
    )
    trained = train_reward_model(records, reward_args, on_log=lambda e: print(json.dumps(e), flush=True))
    metrics = trained.metrics
    result.update(
        {
            "accuracy": metrics["eval_accuracy"],
            "pairs_train": metrics["pairs_train"],
            "dropped_too_long": metrics["dropped_too_long"],
            "trimmed_pairs": metrics.get("trimmed_pairs", 0),
            "eval_truncated": metrics["eval_truncated"],
            "train_seconds": metrics["train_seconds"],
            "pairs_per_second": metrics["pairs_per_second"],
            "mean_margin": metrics["mean_margin"],
            "final_loss": metrics["final_loss"],
            "reward_offset": metrics["reward_offset"],
            **{k: v for k, v in metrics.items() if k.startswith("tokens_per_epoch")},
        }
    )
    (out / "result.json").write_text(json.dumps(result, indent=2))

    if not args.skip_baseline:
        runtime = Runtime.detect()
        tokenizer = load_tokenizer(model_path)
        fresh = load_reward_backbone(model_path, tokenizer, runtime, args.seed).eval()
        started = time.perf_counter()
        base = accuracy(RewardScorer.from_model(fresh, tokenizer, max_length=args.max_length), held_out)
        result["baseline_fresh_head"] = base["accuracy"]
        result["eval_seconds"] = round(time.perf_counter() - started, 1)
        (out / "result.json").write_text(json.dumps(result, indent=2))

    rows = [
        ("held-out pairs", result["pairs_eval"]),
        ("train pairs used (after dropping)", result["pairs_train"]),
        (f"dropped (> {args.max_length} tokens)", result["dropped_too_long"]),
        ("trimmed (oldest prompt turns cut to fit)", result["trimmed_pairs"]),
        ("accuracy, trained reward model", f"{result['accuracy']:.3f}"),
        (
            "accuracy, untrained backbone + fresh head",
            f"{result.get('baseline_fresh_head', float('nan')):.3f}",
        ),
        ("accuracy, longer response wins", f"{result['baseline_longer_wins']:.3f}"),
        ("training seconds", result["train_seconds"]),
        ("pairs/s (training)", result["pairs_per_second"]),
        (
            "padded tokens/epoch, grouped / shuffled",
            f"{result['tokens_per_epoch_grouped']} / {result['tokens_per_epoch_shuffled']}",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    print("\n".join(f"{name:<{width}}  {value}" for name, value in rows))
    print(f"written: {out / 'result.json'}")
    return result


if __name__ == "__main__":
    main()
