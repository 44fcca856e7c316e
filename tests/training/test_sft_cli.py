"""`python -m training sft`: a demonstrations file in, a fine-tuned checkpoint and its metrics out;
a bad line is named and nothing is trained."""

from __future__ import annotations

import json

from tests.tiny_models import build_tiny_model
from tests.training.test_cli import run_cli
from tests.training.test_sft import demo_rows
from training.__main__ import main


def test_sft_trains_on_a_demonstrations_file(tmp_path):
    model = build_tiny_model(tmp_path / "model")
    data = tmp_path / "demonstrations.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in demo_rows()))
    out = run_cli(
        "sft", "--data", str(data), "--policy_path", str(model), "--out_dir", str(tmp_path / "sft"),
        "--epochs", "1", "--batch_size", "2",
    )  # fmt: skip
    assert out["demonstrations"] == 4 and out["steps"] == 2
    assert (tmp_path / "sft" / "config.json").exists()


def test_bad_demonstration_line_is_named(tmp_path, capsys):
    data = tmp_path / "demonstrations.jsonl"
    good = json.dumps(demo_rows()[0])
    data.write_text(
        good + "\n" + '{"messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "a"}]}\n'
    )
    code = main(
        ["sft", "--data", str(data), "--policy_path", str(tmp_path), "--out_dir", str(tmp_path / "o")]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert f"{data}:2: the last message must be the assistant" in err
    assert not (tmp_path / "o").exists()
