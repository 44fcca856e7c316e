"""Torch threads on a shared machine: sampling speed by thread count, idle and next to a busy process.

    .venv/bin/python -m benchmarks.threads [--batch 8] [--tokens 32] [--repeats 2]

`make run` puts the web server, the worker, Redis and the database on one machine, and annotators
keep judging while a round trains. torch's OpenMP pool spins at every barrier; when another
process takes one of its cores, every parallel region waits for the descheduled thread. This
benchmark samples with the bundled SmolLM2 (batch `--batch`, `--tokens` new tokens, bf16 or fp32
as the runtime picks) in a fresh subprocess per setting, once on the idle machine and once while a
second process keeps one core busy, and reports tokens/s for each thread count, with OpenMP's
default waiting (threads spin at every barrier) and with OMP_WAIT_POLICY=PASSIVE (they sleep).
The worker's default (`PREFLOOP_TORCH_THREADS`, see README) comes from these numbers; results
are in benchmarks/README.md. Prints one JSON line prefixed RESULT.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "var" / "models" / "smollm2-v0"


def measure(threads: int, batch: int, tokens: int, repeats: int, wait_policy: str | None = None) -> float:
    """Tokens per second of one sampling subprocess with `threads` torch threads (best of `repeats`);
    `wait_policy` sets OMP_WAIT_POLICY (PASSIVE: idle OpenMP threads sleep instead of spinning)."""
    code = f"""
import sys, time, torch
sys.path.insert(0, {str(ROOT)!r})
torch.set_num_threads({threads})
from training.models import Runtime, load_causal_lm, load_tokenizer
from training.generate import encode_prompts, sample_batch
runtime = Runtime.detect(prefer_cpu=True)
tok = load_tokenizer({str(MODEL)!r}); model = load_causal_lm({str(MODEL)!r}, runtime, dtype=runtime.inference_dtype).eval()
q = encode_prompts(tok, [[{{"role": "user", "content": "Tell me about the sea, please."}}]] * {batch})
best = 0.0
for _ in range({repeats}):
    torch.manual_seed(0)
    t = time.perf_counter()
    b = sample_batch(model, tok, q, max_new_tokens={tokens}, temperature=0.7)
    best = max(best, {batch} * b.response.size(1) / (time.perf_counter() - t))
print(best)
"""
    env = {**os.environ, **({"OMP_WAIT_POLICY": wait_policy} if wait_policy else {})}
    env.pop("PREFLOOP_TORCH_THREADS", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return float(done.stdout.strip().splitlines()[-1])


def busy_process() -> subprocess.Popen:
    """One process that keeps one core busy (a pure-Python loop: it never yields the core)."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    opts = parser.parse_args()
    if not (MODEL / "config.json").exists():
        from benchmarks.ppo_step import ensure_model

        ensure_model(str(MODEL))
    cores = os.cpu_count() or 1
    counts = sorted({1, max(1, cores // 2), max(1, cores - 1), cores})
    result: dict = {
        "cores": cores,
        "batch": opts.batch,
        "tokens": opts.tokens,
        "load_avg_1m_before": os.getloadavg()[0],
    }
    for label in ("idle", "one_core_busy"):
        busy = busy_process() if label != "idle" else None
        try:
            result[label] = {
                str(n): round(measure(n, opts.batch, opts.tokens, opts.repeats), 1) for n in counts
            }
            result[label + "_passive"] = {
                str(n): round(measure(n, opts.batch, opts.tokens, opts.repeats, "PASSIVE"), 1)
                for n in counts
                if n > 1
            }
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
