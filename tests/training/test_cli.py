"""`python -m training ...` as a researcher runs it: export file in, checkpoints and metrics out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tiny_models import build_tiny_model
from training.__main__ import main
from training.data import PreferenceRecord, write_trl_conversational

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "training", *args], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)  # stdout holds only the result; logs go to stderr


def test_bad_preference_file_names_the_line(tmp_path, capsys):
    data = tmp_path / "prefs.jsonl"
    data.write_text(
        '{"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}\nnot json\n'
    )
    assert (
        main(
            ["reward", "--data", str(data), "--model_path", str(tmp_path), "--out_dir", str(tmp_path / "rm")]
        )
        == 1
    )
    assert "line 2" in capsys.readouterr().err


def test_unknown_command_prints_usage(capsys):
    assert main(["nope"]) == 2
    assert "reward" in capsys.readouterr().err


@pytest.mark.slow
def test_reward_then_ppo_then_evaluate_on_an_exported_file(tmp_path):
    base = build_tiny_model(tmp_path / "base")
    records = [
        PreferenceRecord(
            prompt=[{"role": "user", "content": f"question {i}"}],
            chosen=f"good answer {i}",
            rejected=f"bad {i}",
            strength=1 + i % 3,
        )
        for i in range(16)
    ]
    data = write_trl_conversational(records, tmp_path / "prefs.jsonl")

    reward = run_cli(
        "reward",
        "--data",
        str(data),
        "--model_path",
        str(base),
        "--out_dir",
        str(tmp_path / "rm"),
        "--epochs",
        "1",
        "--batch_size",
        "4",
        "--metrics_path",
        str(tmp_path / "rm.jsonl"),
    )
    assert Path(reward["checkpoint"], "config.json").exists()
    assert reward["pairs_train"] + reward["pairs_eval"] + reward["dropped_too_long"] == 16

    ppo = run_cli(
        "ppo",
        "--policy_path",
        str(base),
        "--reward_model_path",
        reward["checkpoint"],
        "--prompts",
        str(data),
        "--out_dir",
        str(tmp_path / "policy"),
        "--total_episodes",
        "8",
        "--rollout_batch_size",
        "4",
        "--minibatch_size",
        "2",
        "--max_new_tokens",
        "6",
        "--metrics_path",
        str(tmp_path / "ppo.jsonl"),
    )
    assert Path(ppo["checkpoint"], "model.safetensors").exists()
    lines = [json.loads(line) for line in (tmp_path / "ppo.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and {"kl", "entropy"} <= set(lines[-1])

    answers = run_cli(
        "generate",
        "--model",
        ppo["checkpoint"],
        "--prompts",
        str(data),
        "--prompt_limit",
        "3",
        "--max_new_tokens",
        "5",
        "--out",
        str(tmp_path / "answers.jsonl"),
    )
    assert answers["answers"] == 3

    heldout = tmp_path / "reference.jsonl"
    heldout.write_text(
        "".join(json.dumps({"text": t}) + "\n" for t in ["the sky is blue", "a short and kind answer"])
    )
    metrics = run_cli(
        "evaluate",
        "--new",
        ppo["checkpoint"],
        "--old",
        str(base),
        "--reward_model",
        reward["checkpoint"],
        "--prompts",
        str(data),
        "--prompt_limit",
        "4",
        "--data",
        str(data),
        "--heldout_texts",
        str(heldout),
        "--max_new_tokens",
        "6",
        "--out",
        str(tmp_path / "eval.json"),
    )
    assert (
        metrics["new_perplexity"] > 1.0 and metrics["old_perplexity"] > 1.0
    )  # computed on the reference texts
    assert metrics["kl"] >= -1e-3
    assert (metrics["win_rate"] * 2 * 4) == pytest.approx(
        round(metrics["win_rate"] * 8)
    )  # 4 prompts, ties half
    held = metrics["reward_accuracy"]
    assert held["pairs"] == 16 and held["accuracy"] * 16 == pytest.approx(round(held["accuracy"] * 16))
