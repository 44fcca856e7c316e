"""SFT: supervised fine-tuning of the policy on demonstrations, with TRL's SFTTrainer.

The seed pipeline's middle step (pretraining, then SFT on demonstrations, then RLHF): when a
round's snapshot holds answers people wrote, the round fine-tunes the policy on them before the
reward model and the policy update, which then start from the SFT model (InstructGPT's order).

* Rows are TRL's conversational `messages` (the prompt's turns, then the written reply). Each is
  given to SFTTrainer as prompt-completion (`prompt` = every turn but the last, `completion` =
  the last assistant turn), so that the loss is on the reply only (`completion_only_loss`): the
  prompt tokens are labelled -100. TRL's `assistant_only_loss` would need `{% generation %}`
  markers in the chat template, which SmolLM2's (and prefloop's ChatML) lacks.
* Rows longer than `max_length` tokens are left out, counted (not truncated: a cut reply would
  teach the model to stop mid-sentence without its end-of-turn token).
* `trainable_layers` freezes all but the top blocks, as in the reward model, PPO and DPO, so the
  SFT policy differs from its parent only there (DPO's reference swap relies on it).
* `should_stop()` is asked at every step; True raises `training.stopping.Stopped`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from transformers import PrinterCallback

from training.models import Runtime, freeze_all_but_top, load_causal_lm, load_tokenizer, save_model
from training.reward.train import _LogRelay
from training.stopping import Stopped
from training.trainer_run import run_settings, trainer_run


@dataclass
class SFTArgs:
    """SFT hyper-parameters (every field is a `python -m training sft --FIELD` flag)."""

    policy_path: str = field(metadata={"help": "Causal LM checkpoint to fine-tune."})
    out_dir: str = field(metadata={"help": "Where the fine-tuned policy is saved (must not exist yet)."})
    metrics_path: str | None = field(
        default=None, metadata={"help": "JSON lines file: one line per training log."}
    )
    seed: int = field(default=0, metadata={"help": "Seeds the data order."})
    epochs: float = field(default=2, metadata={"help": "Passes over the demonstrations."})
    learning_rate: float = field(default=1e-4, metadata={"help": "Peak AdamW learning rate (linear decay)."})
    batch_size: int = field(default=8, metadata={"help": "Demonstrations per optimizer step."})
    max_length: int | None = field(
        default=512,
        metadata={"help": "Demonstrations longer than this (prompt + reply tokens) are left out, counted."},
    )
    trainable_layers: int | None = field(
        default=None, metadata={"help": "Train only the top N blocks and the final norm (None: every block)."}
    )
    logging_steps: int = field(default=1, metadata={"help": "Optimizer steps between logs."})


@dataclass
class SFTResult:
    checkpoint: Path
    metrics: dict
    history: list[dict]


def check_rows(rows: Sequence[dict]) -> list[dict]:
    """Each row as prompt-completion; ValueError naming the row and field when one is malformed."""
    out = []
    for index, row in enumerate(rows):
        messages = row.get("messages") if isinstance(row, dict) else None
        if not isinstance(messages, list) or len(messages) < 2:
            raise ValueError(f"row {index}: messages must be a list of at least two turns")
        for turn, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("content"), str):
                raise ValueError(f"row {index}: messages[{turn}].content must be a string")
            if message.get("role") not in ("system", "user", "assistant"):
                raise ValueError(f"row {index}: messages[{turn}].role must be system, user or assistant")
        if messages[-1]["role"] != "assistant":
            raise ValueError(f"row {index}: the last message must be the assistant's reply")
        out.append(
            {
                "prompt": [{"role": m["role"], "content": m["content"]} for m in messages[:-1]],
                "completion": [{"role": "assistant", "content": messages[-1]["content"]}],
            }
        )
    return out


def read_demonstrations(path: str | Path) -> list[dict]:
    """The `messages` rows of a JSON lines file (a snapshot's demonstrations.jsonl, an `sft` export);
    ValueError naming the file, line and field of the first bad one."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                check_rows([row])
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from exc
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: {str(exc).removeprefix('row 0: ')}") from exc
            rows.append(row)
    return rows


def row_length(tokenizer, row: dict) -> int:
    """Tokens of prompt + reply as SFTTrainer renders them (the chat template, no generation prompt)."""
    rendered = tokenizer.apply_chat_template(
        row["prompt"] + row["completion"], tokenize=True, return_dict=True, tools=None
    )
    return len(rendered["input_ids"])


def train_sft(
    args: SFTArgs,
    rows: Sequence[dict],
    on_log: Callable[[dict], None] | None = None,
    progress: bool = True,
    should_stop: Callable[[], bool] | None = None,
) -> SFTResult:
    """Fine-tune the policy at `args.policy_path` on `rows` (`messages`); save it to `args.out_dir`."""
    from datasets import Dataset
    from transformers import set_seed
    from trl import SFTConfig, SFTTrainer

    pairs = check_rows(list(rows))
    if not pairs:
        raise ValueError("no demonstrations to train on")
    if Path(args.out_dir).exists():
        raise FileExistsError(args.out_dir)
    runtime = Runtime.detect()
    set_seed(args.seed)
    tokenizer = load_tokenizer(args.policy_path)
    kept = [r for r in pairs if not args.max_length or row_length(tokenizer, r) <= args.max_length]
    if not kept:
        raise ValueError(f"every demonstration is longer than max_length={args.max_length} tokens")

    model = load_causal_lm(args.policy_path, runtime).train()
    heads = (
        []
        if model.get_output_embeddings().weight is model.get_input_embeddings().weight
        else [model.get_output_embeddings()]
    )
    freeze_all_but_top(model, args.trainable_layers, heads)

    history: list[dict] = []
    with trainer_run(args.metrics_path, "sft") as run:
        relay = _LogRelay(on_log, history, run.metrics_file, should_stop)
        config = SFTConfig(
            output_dir=str(run.work_dir),
            per_device_train_batch_size=args.batch_size,
            num_train_epochs=args.epochs,
            learning_rate=args.learning_rate,
            max_length=None,  # over-long rows were left out above, not cut
            completion_only_loss=True,
            packing=False,
            logging_steps=args.logging_steps,
            **run_settings(args.seed, progress, runtime.device.type, runtime.autocast_dtype),
            gradient_checkpointing=False,
        )
        trainer = SFTTrainer(
            model=model,
            args=config,
            train_dataset=Dataset.from_list(kept),
            processing_class=tokenizer,
            callbacks=[relay],
        )
        if not progress:
            trainer.remove_callback(PrinterCallback)
        labels = trainer.train_dataset["labels"]
        tokens = sum(len(seq) for seq in labels)
        trained_tokens = sum(sum(1 for t in seq if t != -100) for seq in labels)
        started = time.perf_counter()
        output = trainer.train()
        train_seconds = time.perf_counter() - started
        if relay.stopped:
            raise Stopped(f"stopped at step {trainer.state.global_step} of {trainer.state.max_steps}")
        model = trainer.model.eval()
        checkpoint = save_model(model, tokenizer, args.out_dir)
        first = history[0] if history else {}
        last = history[-1] if history else {}
        metrics = {
            "demonstrations": len(kept),
            "dropped_too_long": len(pairs) - len(kept),
            "tokens": tokens,
            "trained_tokens": trained_tokens,  # the replies' tokens: the prompts' are masked out
            "steps": output.global_step,
            "train_loss": output.training_loss,
            "first_loss": first.get("loss"),
            "final_loss": last.get("loss"),
            "train_seconds": round(train_seconds, 2),
            "args": asdict(args),
        }
        run.write_final(metrics)
        return SFTResult(checkpoint=checkpoint, metrics=metrics, history=history)
