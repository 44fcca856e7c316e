"""SFT with TRL's SFTTrainer on a tiny model: it memorises the demonstrations, the loss is on the
replies only, and bad rows are refused by index and field."""

from __future__ import annotations

import pytest
import torch

from tests.tiny_models import build_tiny_model
from training.models import load_causal_lm, load_tokenizer
from training.sft import SFTArgs, check_rows, train_sft
from training.stopping import Stopped

DEMOS = [
    ("what is the capital of france?", "paris is the capital of france."),
    ("hello how are you today?", "i am fine thank you."),
    ("tell me a joke about cats", "the quick brown fox jumps over the lazy dog"),
    ("explain why the sky is blue", "a good answer is short and kind"),
]


def demo_rows() -> list[dict]:
    return [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]} for q, a in DEMOS
    ]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("sft") / "model")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def reply_tokens(tokenizer, row: dict) -> int:
    """Tokens after the rendered prompt (with its generation prompt): the reply and its end-of-turn."""
    prompt = tokenizer.apply_chat_template(row["messages"][:-1], tokenize=True, add_generation_prompt=True)
    whole = tokenizer.apply_chat_template(row["messages"], tokenize=True)
    prompt = prompt["input_ids"] if isinstance(prompt, dict) or hasattr(prompt, "keys") else prompt
    whole = whole["input_ids"] if isinstance(whole, dict) or hasattr(whole, "keys") else whole
    assert whole[: len(prompt)] == prompt
    return len(whole) - len(prompt)


def test_memorises_the_demonstrations_with_the_loss_on_the_replies(tiny, tmp_path):
    rows = demo_rows()
    logged = []
    args = SFTArgs(
        policy_path=str(tiny),
        out_dir=str(tmp_path / "policy"),
        metrics_path=str(tmp_path / "m.jsonl"),
        learning_rate=1e-2,
        epochs=40,
        batch_size=4,
    )
    result = train_sft(args, rows * 2, on_log=logged.append, progress=False)
    tokenizer = load_tokenizer(tiny)
    expected = 2 * sum(reply_tokens(tokenizer, row) for row in rows)
    assert result.metrics["trained_tokens"] == expected  # the prompt tokens are masked (-100)
    assert result.metrics["tokens"] > expected
    assert logged == result.history and len(logged) == result.metrics["steps"]
    assert logged[-1]["loss"] < 0.3 * logged[0]["loss"]  # memorised
    trained, start = load_causal_lm(result.checkpoint), load_causal_lm(tiny)
    assert any(not torch.equal(a, b) for a, b in zip(trained.parameters(), start.parameters()))
    assert (tmp_path / "m.jsonl").read_text().count("\n") == len(logged) + 1


def test_trainable_layers_leaves_the_rest_untouched(tiny, tmp_path):
    args = SFTArgs(
        policy_path=str(tiny), out_dir=str(tmp_path / "p"), epochs=1, learning_rate=1e-2, trainable_layers=1
    )
    result = train_sft(args, demo_rows(), progress=False)
    trained = dict(load_causal_lm(result.checkpoint).named_parameters())
    start = dict(load_causal_lm(tiny).named_parameters())
    assert torch.equal(
        trained["model.layers.0.self_attn.q_proj.weight"], start["model.layers.0.self_attn.q_proj.weight"]
    )
    assert not torch.equal(
        trained["model.layers.1.self_attn.q_proj.weight"], start["model.layers.1.self_attn.q_proj.weight"]
    )


def test_over_long_demonstrations_are_left_out_and_counted(tiny, tmp_path):
    rows = demo_rows() + [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yes no " * 200}]}
    ]
    args = SFTArgs(policy_path=str(tiny), out_dir=str(tmp_path / "p"), epochs=1, max_length=64)
    result = train_sft(args, rows, progress=False)
    assert result.metrics["demonstrations"] == 4 and result.metrics["dropped_too_long"] == 1


def test_a_stop_request_ends_it_unsaved(tiny, tmp_path):
    args = SFTArgs(policy_path=str(tiny), out_dir=str(tmp_path / "p"), epochs=5, batch_size=1)
    with pytest.raises(Stopped, match="stopped at step 1 of"):
        train_sft(args, demo_rows(), progress=False, should_stop=lambda: True)
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize(
    "row, message",
    [
        ({"messages": [{"role": "user", "content": "q"}]}, r"row 1: messages must be a list of at least two"),
        (
            {"messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "a"}]},
            r"row 1: the last message must be the assistant",
        ),
        (
            {"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "a"}]},
            r"row 1: messages\[0\].content must be a string",
        ),
        (
            {"messages": [{"role": "bot", "content": "q"}, {"role": "assistant", "content": "a"}]},
            r"row 1: messages\[0\].role must be",
        ),
    ],
)
def test_bad_rows_name_the_row_and_field(row, message):
    with pytest.raises(ValueError, match=message):
        check_rows([demo_rows()[0], row])
