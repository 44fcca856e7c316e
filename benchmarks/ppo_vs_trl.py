"""prefloop's PPO against TRL 1.12.0's PPOTrainer (the last TRL with PPO), same work, same machine.

    .venv/bin/python -m benchmarks.ppo_vs_trl [--updates 3] [--rollout 16] [--minibatch 8] \
        [--max-new-tokens 48] [--epochs 2] [--trainable-layers 4] [--cpu]

TRL 1.12.0 is not a dependency of prefloop. The first run builds a baseline venv in
var/bench/trl112-venv that holds only trl==1.12.0 (`pip install --no-deps`) and sees every other
package of .venv through a .pth file, so both sides use the same torch and transformers.

Both sides get the same work: SmolLM2-135M as policy and frozen reference, a reward model and a
value model that are the same backbone with one seeded fresh score head, the same 16 prompts
(chat template, left padding), `--updates` PPO updates of `--rollout` episodes, temperature
0.7, `--max-new-tokens` tokens at most, stop at EOS with a missing-EOS penalty of 1, k1 KL at
0.05, `--epochs` PPO epochs over minibatches of `--minibatch`, and the same frozen layers (all
but the top `--trainable-layers` blocks of policy and value). Timed: the training loop only
(model loading is apart). Reported for each: seconds of the first update (warm-up) and of the
later ones, episodes per second, and prefloop's speed-up as TRL seconds / prefloop seconds per
steady update. Prints one JSON line
prefixed RESULT (and writes $OUT/ppo_vs_trl.json when $OUT is set).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE_VENV = ROOT / "var" / "bench" / "trl112-venv"
BASELINE_TRL = "trl==1.12.0"

sys.path.insert(0, str(ROOT))
from benchmarks.ppo_step import QUESTIONS, add_workload_args, ensure_model, save_fresh_score_head  # noqa: E402


def ensure_baseline_venv() -> Path:
    """A venv with only TRL 1.12.0 installed; everything else resolves to this .venv's packages."""
    python = BASELINE_VENV / "bin" / "python"
    if python.exists() and _trl_version(python) == "1.12.0":
        return python
    subprocess.run([sys.executable, "-m", "venv", str(BASELINE_VENV)], check=True)
    site = subprocess.run(
        [str(python), "-c", "import site; print(site.getsitepackages()[0])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    main_site = subprocess.run(
        [sys.executable, "-c", "import site; print(site.getsitepackages()[0])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "prefloop-main.pth").write_text(main_site + "\n")  # after the venv's own site-packages
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", BASELINE_TRL], check=True)
    return python


def _trl_version(python: Path) -> str:
    done = subprocess.run(
        [str(python), "-c", "import trl; print(trl.__version__)"], capture_output=True, text=True
    )
    return done.stdout.strip()


def run_side(side: str, python: str, model_dir: Path, value_dir: Path) -> dict:
    # this run's own workload arguments, then the side's (argparse keeps the last --model)
    cmd = [
        python,
        "-m",
        "benchmarks.ppo_vs_trl",
        *sys.argv[1:],
        "--side",
        side,
        "--model",
        str(model_dir),
        "--value",
        str(value_dir),
    ]
    env = {**os.environ, "TRL_EXPERIMENTAL_SILENCE": "1"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{side} side failed:\n{done.stderr[-4000:]}")
    line = next(line for line in done.stdout.splitlines() if line.startswith("SIDE "))
    return json.loads(line[len("SIDE ") :])


def prompts_and_tokenizer(model_dir: Path):
    from training.models import load_tokenizer

    return [[{"role": "user", "content": q}] for q in QUESTIONS], load_tokenizer(model_dir)


def side_prefloop(opts: argparse.Namespace) -> dict:
    import torch

    from training.models import Runtime
    from training.ppo import PPOArgs, train_ppo

    runtime = Runtime.detect(prefer_cpu=opts.cpu)
    prompts, _ = prompts_and_tokenizer(Path(opts.model))
    with tempfile.TemporaryDirectory() as tmp:
        args = PPOArgs(
            policy_path=opts.model,
            reward_model_path=opts.value,
            out_dir=str(Path(tmp) / "policy"),
            total_episodes=opts.updates * opts.rollout,
            rollout_batch_size=opts.rollout,
            minibatch_size=opts.minibatch,
            ppo_epochs=opts.epochs,
            max_new_tokens=opts.max_new_tokens,
            trainable_layers=opts.trainable_layers,
            temperature=0.7,
            kl_coef=0.05,
            kl_estimator="k1",
            missing_eos_penalty=1.0,
            seed=0,
        )
        result = train_ppo(
            args, prompts * (opts.rollout // len(prompts) or 1), progress=False, runtime=runtime
        )
    return {
        "seconds": [r["seconds"] for r in result.history],
        "device": str(runtime.device),
        "threads": torch.get_num_threads(),
        "mean_response_length": [r["response_length"] for r in result.history],
        "seconds_generate": [r["seconds_generate"] for r in result.history],
        "phases": {
            k: sum(r[k] for r in result.history[1:]) / max(len(result.history) - 1, 1)
            for k in result.history[0]
            if k.startswith("seconds_")
        },
    }


def side_trl(opts: argparse.Namespace) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, TrainerCallback
    from trl.experimental.ppo import PPOConfig, PPOTrainer

    from training.models import Runtime, freeze_all_but_top

    runtime = Runtime.detect(prefer_cpu=opts.cpu)
    prompts, tokenizer = prompts_and_tokenizer(Path(opts.model))
    tokenizer.padding_side = "left"
    ids = [
        tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=True, return_dict=True)[
            "input_ids"
        ]
        for p in prompts
    ]
    dataset = Dataset.from_dict({"input_ids": ids * (opts.rollout // len(ids) or 1) * opts.updates})

    policy = AutoModelForCausalLM.from_pretrained(opts.model)
    ref = AutoModelForCausalLM.from_pretrained(opts.model)
    value = AutoModelForSequenceClassification.from_pretrained(opts.value, num_labels=1)
    reward = AutoModelForSequenceClassification.from_pretrained(opts.value, num_labels=1)
    freeze_all_but_top(policy, opts.trainable_layers, heads=[])
    freeze_all_but_top(value, opts.trainable_layers, heads=[value.score])

    marks: list[float] = []
    generation: dict[str, list[float]] = {"seconds": [], "response_length": []}
    import trl.experimental.ppo.ppo_trainer as trl_ppo

    original_generation = trl_ppo.batch_generation

    def timed_generation(model, queries, *args, **kwargs):  # generation time and lengths, for the phase split
        started_at = time.perf_counter()
        query_responses, logits = original_generation(model, queries, *args, **kwargs)
        generation["seconds"].append(time.perf_counter() - started_at)
        generation.setdefault("rows", []).append(int(queries.shape[0]))
        response = query_responses[:, queries.shape[1] :]
        is_eos = response == tokenizer.eos_token_id
        first_eos = torch.where(
            is_eos.any(1),
            is_eos.float().argmax(1) + 1,
            torch.full_like(is_eos[:, 0], response.shape[1], dtype=torch.long),
        )
        generation["response_length"].append(float(first_eos.float().mean()))
        return query_responses, logits

    trl_ppo.batch_generation = timed_generation

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            marks.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as tmp:
        config = PPOConfig(
            # TRL 1.12's rollout per update is per_device_train_batch_size * gradient_accumulation_steps, cut into
            # num_mini_batches minibatches, each stepped in micro-batches of per_device_train_batch_size (a
            # micro-batch slice longer than the minibatch is the whole minibatch). So: rollout episodes per
            # update, minibatches of `--minibatch`, one optimizer step per minibatch, as prefloop does.
            output_dir=tmp,
            per_device_train_batch_size=opts.rollout,
            gradient_accumulation_steps=1,
            num_mini_batches=opts.rollout // opts.minibatch,
            num_ppo_epochs=opts.epochs,
            total_episodes=opts.updates * opts.rollout,
            local_rollout_forward_batch_size=opts.rollout,
            response_length=opts.max_new_tokens,
            temperature=0.7,
            stop_token="eos",
            missing_eos_penalty=1.0,
            kl_coef=0.05,
            kl_estimator="k1",
            learning_rate=1e-5,
            num_sample_generations=0,
            report_to="none",
            save_strategy="no",
            logging_steps=1,
            seed=0,
            use_cpu=runtime.device.type == "cpu",
            bf16=runtime.autocast_dtype == torch.bfloat16,
            disable_tqdm=True,  # the precision prefloop runs in
        )
        trainer = PPOTrainer(
            args=config,
            processing_class=tokenizer,
            model=policy,
            ref_model=ref,
            reward_model=reward,
            train_dataset=dataset,
            value_model=value,
            callbacks=[Clock()],
        )
        started = time.perf_counter()
        trainer.train()
    stamps = [started, *marks]
    seconds = [b - a for a, b in zip(stamps, stamps[1:])]
    logged = [h for h in trainer.state.log_history if "objective/entropy" in h]
    if generation["rows"] != [opts.rollout] * opts.updates:  # the same work as prefloop, or no comparison
        raise SystemExit(
            f"TRL sampled {generation['rows']} episodes per update, not {opts.rollout} x {opts.updates}"
        )
    return {
        "seconds": seconds,
        "device": str(runtime.device),
        "threads": torch.get_num_threads(),
        "mean_score": [h["objective/scores"] for h in logged],
        "seconds_generate": generation["seconds"],
        "mean_response_length": generation["response_length"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_workload_args(parser)
    parser.add_argument("--side", choices=["prefloop", "trl"], help=argparse.SUPPRESS)
    parser.add_argument("--value", help=argparse.SUPPRESS)
    opts = parser.parse_args()

    if opts.side:
        result = side_prefloop(opts) if opts.side == "prefloop" else side_trl(opts)
        print("SIDE " + json.dumps(result), flush=True)
        return

    model_dir = ensure_model(opts.model)
    baseline_python = ensure_baseline_venv()
    with tempfile.TemporaryDirectory() as tmp:
        value_dir = Path(tmp) / "value"
        save_fresh_score_head(model_dir, value_dir)
        sides = {
            "prefloop": run_side("prefloop", sys.executable, model_dir, value_dir),
            "trl_1_12_0": run_side("trl", str(baseline_python), model_dir, value_dir),
        }
    out = {
        "updates": opts.updates,
        "rollout_batch_size": opts.rollout,
        "minibatch_size": opts.minibatch,
        "ppo_epochs": opts.epochs,
        "max_new_tokens": opts.max_new_tokens,
        "trainable_layers": opts.trainable_layers,
        "precision": os.environ.get("PREFLOOP_PRECISION", "auto"),
        "load_avg_1m": os.getloadavg()[0],
    }
    for name, side in sides.items():
        steady = side["seconds"][1:] or side["seconds"]
        out[name] = {
            "device": side["device"],
            "threads": side["threads"],
            "first_update_s": round(side["seconds"][0], 2),
            "steady_update_s": round(sum(steady) / len(steady), 2),
            "episodes_per_s": round(opts.rollout * len(side["seconds"]) / sum(side["seconds"]), 3),
            "generate_s_per_update": round(sum(side["seconds_generate"]) / len(side["seconds_generate"]), 2),
            "mean_response_length": round(
                sum(side["mean_response_length"]) / len(side["mean_response_length"]), 1
            ),
        }
        if "phases" in side:
            out[name]["steady_phases_s"] = {k: round(v, 2) for k, v in side["phases"].items()}
    out["speedup_steady"] = round(
        out["trl_1_12_0"]["steady_update_s"] / out["prefloop"]["steady_update_s"], 2
    )
    line = json.dumps(out)
    print("RESULT " + line, flush=True)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "ppo_vs_trl.json").write_text(line + "\n")


if __name__ == "__main__":
    main()
