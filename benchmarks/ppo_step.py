"""Seconds per PPO update of training.ppo on a real model (SmolLM2-135M by default).

    .venv/bin/python benchmarks/ppo_step.py [--model DIR] [--updates 3] [--rollout 16] \
        [--max-new-tokens 48] [--epochs 2] [--minibatch 8] [--trainable-layers 4] [--cpu]

The model directory is converted from the bundled GGUF when it does not exist yet. The value model
is the policy's backbone with a fresh 1-label score head (a stand-in for a trained reward model);
the reward is synthetic (share of lowercase letters in the answer), so only the timing means
anything. The first update includes warm-up; the summary reports it apart from the rest. Prints
one JSON line prefixed RESULT (and writes $OUT/ppo_step.json when $OUT is set).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from training.models import Runtime, convert_base_model, load_tokenizer  # noqa: E402
from training.ppo import PPOArgs, train_ppo  # noqa: E402

QUESTIONS = [
    "What is the capital of France?",
    "Give me a tip for sleeping better.",
    "How do plants make food?",
    "Write a haiku about rain.",
    "Why is the sky blue?",
    "What should I cook tonight?",
    "Explain what a prime number is.",
    "How can I learn to swim as an adult?",
    "Tell me a fun fact about cats.",
    "What is a good name for a goldfish?",
    "How do I make tea?",
    "Summarise the water cycle.",
    "What does a librarian do?",
    "Suggest a board game for four people.",
    "How far away is the moon?",
    "Why do leaves change colour in autumn?",
]


def letter_share(prompts, texts):
    return torch.tensor([sum(c.islower() for c in t) / max(len(t), 1) for t in texts])


def add_workload_args(parser: argparse.ArgumentParser) -> None:
    """The PPO workload the PPO benchmarks time (ppo_vs_trl gives the same one to TRL)."""
    parser.add_argument("--model", default=str(ROOT / "var" / "models" / "smollm2-v0"))
    parser.add_argument("--updates", type=int, default=3)
    parser.add_argument("--rollout", type=int, default=16)
    parser.add_argument("--minibatch", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--trainable-layers", type=int, default=4)
    parser.add_argument("--cpu", action="store_true", help="stay on the CPU even when a GPU is present")


def ensure_model(path: str) -> Path:
    """The policy checkpoint at `path`, converted from the bundled GGUF the first time."""
    return Path(path) if Path(path, "config.json").exists() else convert_base_model("bundled", path)


def save_fresh_score_head(model_dir: Path, value_dir: Path) -> None:
    """A stand-in reward/value model: the policy backbone with one seeded fresh score head."""
    from transformers import AutoModelForSequenceClassification

    tokenizer = load_tokenizer(model_dir)
    torch.manual_seed(0)
    value = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=1)
    value.config.pad_token_id = tokenizer.pad_token_id
    value.save_pretrained(value_dir)
    tokenizer.save_pretrained(value_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_workload_args(parser)
    opts = parser.parse_args()

    runtime = Runtime.detect(prefer_cpu=opts.cpu)
    model_dir = ensure_model(opts.model)
    with tempfile.TemporaryDirectory() as tmp:
        value_dir = Path(tmp) / "value"
        save_fresh_score_head(model_dir, value_dir)
        args = PPOArgs(
            policy_path=str(model_dir),
            value_model_path=str(value_dir),
            out_dir=str(Path(tmp) / "policy"),
            total_episodes=opts.updates * opts.rollout,
            rollout_batch_size=opts.rollout,
            minibatch_size=opts.minibatch,
            ppo_epochs=opts.epochs,
            max_new_tokens=opts.max_new_tokens,
            trainable_layers=opts.trainable_layers,
        )
        prompts = [[{"role": "user", "content": q}] for q in QUESTIONS]
        started = time.perf_counter()
        result = train_ppo(args, prompts, letter_share, progress=True, runtime=runtime)
        wall = time.perf_counter() - started
    steady = result.history[1:] or result.history
    out = {
        "model": str(model_dir),
        "device": str(runtime.device),
        "dtype": str(runtime.dtype),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor(),
        "load_avg_1m": os.getloadavg()[0],
        "rollout_batch_size": opts.rollout,
        "minibatch_size": opts.minibatch,
        "ppo_epochs": opts.epochs,
        "max_new_tokens": opts.max_new_tokens,
        "trainable_layers": opts.trainable_layers,
        "first_update_s": round(result.history[0]["seconds"], 2),
        "steady_update_s": round(statistics.mean(r["seconds"] for r in steady), 2),
        "steady_generate_s": round(statistics.mean(r["seconds_generate"] for r in steady), 2),
        "steady_evaluate_s": round(statistics.mean(r["seconds_evaluate"] for r in steady), 2),
        "steady_train_s": round(statistics.mean(r["seconds_train"] for r in steady), 2),
        "mean_response_length": round(statistics.mean(r["response_length"] for r in result.history), 1),
        "wall_s_incl_load_and_save": round(wall, 1),
        "torch": torch.__version__,
    }
    line = json.dumps(out)
    print("RESULT " + line, flush=True)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "ppo_step.json").write_text(line + "\n")


if __name__ == "__main__":
    main()
