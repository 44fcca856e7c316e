"""Reward models with TRL's RewardTrainer on tiny models: learning, dropping, offset, scoring."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, HfArgumentParser
from trl import RewardConfig, RewardTrainer

from tests.tiny_models import build_tiny_model
from training.data import PreferenceRecord
from training.models import Runtime, load_tokenizer
from training.reward import (
    RewardArgs,
    RewardScorer,
    accuracy,
    count_too_long,
    encode_pair,
    freeze_to_top_layers,
    load_reward_backbone,
    padded_tokens,
    padding_report,
    reward_offset_of,
    split_records,
    tokenized_rows,
    train_reward_model,
    trim_prompt_turns,
)
from training.reward.train import _length_grouped_reward_trainer
from training.stopping import Stopped

WORDS = "the quick brown fox jumps over lazy dog good answer short kind sea sky blue".split()


def marker_records(n: int, seed: int = 0) -> list[PreferenceRecord]:
    """Separable preferences: the chosen reply ends in 'yes', the rejected one in 'no'."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))
        records.append(
            PreferenceRecord(
                prompt=[{"role": "user", "content": f"question {i}: {rng.choice(WORDS)}?"}],
                chosen=f"{body} yes",
                rejected=f"{body} no",
                strength=rng.choice([1, 2, 3]),
            )
        )
    return records


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    """One small training run shared by the tests that only read its results."""
    out = tmp_path_factory.mktemp("rm")
    logs: list[dict] = []
    records = marker_records(80)
    args = RewardArgs(
        model_path=str(tiny),
        out_dir=str(out / "reward-model"),
        metrics_path=str(out / "metrics.jsonl"),
        epochs=4,
        learning_rate=1e-3,
        batch_size=8,
        eval_fraction=0.25,
        logging_steps=5,
    )
    result = train_reward_model(records, args, on_log=logs.append, progress=False)
    return result, records, args, logs


def test_learns_separable_preferences(trained):
    result, records, args, logs = trained
    metrics = result.metrics
    assert metrics["pairs_train"] == 60 and metrics["pairs_eval"] == 20 and metrics["dropped_too_long"] == 0
    assert metrics["eval_accuracy"] >= 0.9
    assert set(metrics["accuracy_by_strength"]) <= {"1", "2", "3"}
    assert sum(metrics["count_by_strength"].values()) == 20
    assert metrics["mean_margin"] > 0 and metrics["train_seconds"] > 0 and metrics["pairs_per_second"] > 0
    # on_log gets every training log with progress fields; history and the metrics file hold the same
    assert logs and logs == result.history
    assert {"step", "total", "epoch", "loss", "accuracy"} <= set(logs[-1])
    assert logs[-1]["total"] == metrics["steps"] == 32  # ceil(60 / 8) steps x 4 epochs
    lines = [json.loads(line) for line in Path(args.metrics_path).read_text().splitlines()]
    assert lines[:-1] == logs and lines[-1]["final"]["eval_accuracy"] == metrics["eval_accuracy"]


def test_padded_tokens_by_hand():
    lengths = [2, 10, 3, 9]
    assert padded_tokens(lengths, [0, 1, 2, 3], batch_size=2) == 2 * 2 * 10 + 2 * 2 * 9
    assert padded_tokens(lengths, [0, 2, 1, 3], batch_size=2) == 2 * 2 * 3 + 2 * 2 * 10
    assert padded_tokens(lengths, [0, 1, 2], batch_size=2) == 2 * 2 * 10 + 2 * 1 * 3  # a short last batch


def test_grouping_by_length_cuts_padding():
    rng = random.Random(0)
    ids = [[1] * rng.choice([5, 10, 40, 200]) for _ in range(400)]
    dataset = Dataset.from_dict({"chosen_ids": ids, "rejected_ids": [row[:-1] or [1] for row in ids]})
    report = padding_report(dataset, batch_size=8, seed=0)
    assert report["tokens_per_epoch_real"] == 2 * sum(len(row) for row in ids)
    assert report["tokens_per_epoch_real"] <= report["tokens_per_epoch_grouped"]
    assert report["tokens_per_epoch_grouped"] < 0.5 * report["tokens_per_epoch_shuffled"]


def test_the_reward_trainer_draws_length_grouped_batches():
    rng = random.Random(1)
    ids = [[1] * rng.choice([5, 10, 40, 200]) for _ in range(400)]
    dataset = Dataset.from_dict({"chosen_ids": ids, "rejected_ids": [row[:-1] or [1] for row in ids]})
    trainer = SimpleNamespace(
        args=SimpleNamespace(train_batch_size=8, gradient_accumulation_steps=1), train_dataset=dataset
    )
    grouped = list(_length_grouped_reward_trainer()._get_train_sampler(trainer))
    lengths = [len(row) for row in ids]
    shuffled = list(range(len(ids)))
    random.Random(0).shuffle(shuffled)
    assert sorted(grouped) == list(range(len(ids)))  # every pair once
    assert padded_tokens(lengths, grouped, 8) < 0.5 * padded_tokens(lengths, shuffled, 8)


def test_checkpoint_offset_centres_reference_rewards(trained):
    result, records, args, _ = trained
    _, held_out = split_records(records, args.eval_fraction, args.seed)
    assert reward_offset_of(result.checkpoint) == pytest.approx(result.metrics["reward_offset"])
    scorer = RewardScorer(result.checkpoint, runtime=Runtime.detect(prefer_cpu=True))
    assert scorer.offset == pytest.approx(result.metrics["reward_offset"])
    chosen, rejected = scorer.score_records(held_out)
    assert torch.cat([chosen, rejected]).mean().item() == pytest.approx(0.0, abs=1e-4)
    assert (chosen - rejected).mean().item() == pytest.approx(result.metrics["mean_margin"], abs=1e-4)
    assert accuracy(scorer, held_out)["accuracy"] == result.metrics["eval_accuracy"]
    rewards = scorer([r.prompt for r in held_out[:3]], [r.chosen for r in held_out[:3]])
    assert rewards.shape == (3,) and rewards.dtype == torch.float32 and rewards.device.type == "cpu"


def test_scorer_matches_reward_trainer_batches(trained, tmp_path):
    """The scorer's reward for a training pair is what the model gives the RewardTrainer's batch of it."""
    result, records, _, _ = trained
    path = result.checkpoint
    tokenizer = load_tokenizer(path)
    model = AutoModelForSequenceClassification.from_pretrained(str(path), num_labels=1)
    model.eval()
    pairs = records[:5]
    trainer = RewardTrainer(
        model=model,
        args=RewardConfig(output_dir=str(tmp_path / "t"), report_to="none", use_cpu=True, max_length=None),
        train_dataset=Dataset.from_list(tokenized_rows(tokenizer, pairs, use_margin=True)),
        processing_class=tokenizer,
    )
    examples = [trainer.train_dataset[i] for i in range(len(pairs))]
    for example, record in zip(examples, pairs):
        assert example["chosen_ids"] == encode_pair(tokenizer, record.prompt, record.chosen)
        assert example["chosen_ids"][-1] == tokenizer.eos_token_id  # the reward is read at the reply's EOS
        assert tokenizer.pad_token_id not in example["chosen_ids"]
    batch = trainer.data_collator(examples)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, 0]
    trainer_chosen, trainer_rejected = torch.chunk(logits, 2)
    scorer = RewardScorer(path, runtime=Runtime.detect(prefer_cpu=True), batch_size=3)
    chosen, rejected = scorer.score_records(pairs)
    torch.testing.assert_close(chosen + scorer.offset, trainer_chosen, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(rejected + scorer.offset, trainer_rejected, atol=1e-5, rtol=1e-5)


def test_a_pair_is_the_rollout_ppo_samples(tiny):
    """encode_pair is the rendered prompt that PPO samples from, the reply's tokens, then EOS: PPO can
    score its sampled ids as they are."""
    from training.generate import encode_prompts

    tokenizer = load_tokenizer(tiny)
    prompt = [{"role": "user", "content": "what is the sky"}]
    reply = "the sky is blue"
    ids = encode_pair(tokenizer, prompt, reply)
    query = encode_prompts(tokenizer, [prompt])[0]
    assert ids == query + tokenizer(reply, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]


def test_cached_trunk_trains_the_same_model(tiny, tmp_path):
    """Training the top block on cached trunk states gives the model that plain training gives."""
    records = marker_records(24, seed=3)
    common = dict(
        model_path=str(tiny),
        epochs=2,
        learning_rate=1e-3,
        batch_size=8,
        eval_fraction=0.25,
        trainable_layers=1,
        logging_steps=1,
    )
    cached = train_reward_model(
        records, RewardArgs(out_dir=str(tmp_path / "a"), cache_trunk=True, **common), progress=False
    )
    plain = train_reward_model(
        records, RewardArgs(out_dir=str(tmp_path / "b"), cache_trunk=False, **common), progress=False
    )
    assert cached.metrics["cached_trunk_blocks"] == 1 and plain.metrics["cached_trunk_blocks"] == 0
    assert [h["loss"] for h in cached.history] == pytest.approx([h["loss"] for h in plain.history], abs=1e-5)
    a = AutoModelForSequenceClassification.from_pretrained(str(cached.checkpoint), num_labels=1)
    b = AutoModelForSequenceClassification.from_pretrained(str(plain.checkpoint), num_labels=1)
    for (name, x), (_, y) in zip(a.named_parameters(), b.named_parameters()):
        torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-4, msg=name)


def test_counts_pairs_dropped_for_length(tiny, tmp_path):
    records = marker_records(12, seed=1)
    tokenizer = load_tokenizer(tiny)
    lengths = [len(encode_pair(tokenizer, r.prompt, r.chosen)) for r in records]
    max_length = max(lengths) + 2
    for record in records[:3]:  # three pairs get a rejected reply far past max_length
        record.rejected = record.rejected + " and so on" * 40
    args = RewardArgs(
        model_path=str(tiny),
        out_dir=str(tmp_path / "rm"),
        max_length=max_length,
        eval_fraction=0.0,
        epochs=1,
        batch_size=4,
        center_rewards_coefficient=None,
        use_margin=False,
    )
    result = train_reward_model(records, args, progress=False)
    assert result.metrics["dropped_too_long"] == 3
    assert result.metrics["pairs_train"] == 9  # what RewardTrainer actually kept
    assert result.metrics["pairs_eval"] == 0 and result.metrics["eval_accuracy"] is None
    assert result.metrics["reward_offset_reference"] == "train chosen+rejected"
    with pytest.raises(ValueError, match="max_length"):
        train_reward_model(
            records[:3],
            RewardArgs(str(tiny), str(tmp_path / "rm2"), max_length=max_length, eval_fraction=0.0),
            progress=False,
        )


def test_trainable_layers_freeze_the_rest(tiny):
    tokenizer = load_tokenizer(tiny)
    model = load_reward_backbone(tiny, tokenizer, Runtime.detect(prefer_cpu=True), seed=0)
    freeze_to_top_layers(model, 1)
    trainable = {name.split(".weight")[0] for name, p in model.named_parameters() if p.requires_grad}
    assert "score" in trainable and "model.norm" in trainable
    assert any(name.startswith("model.layers.1.") for name in trainable)
    assert not any(name.startswith(("model.layers.0.", "model.embed_tokens")) for name in trainable)


def test_lora_checkpoint_is_a_plain_reward_model(tiny, tmp_path):
    records = marker_records(16, seed=2)
    args = RewardArgs(
        model_path=str(tiny),
        out_dir=str(tmp_path / "rm"),
        lora_r=4,
        trainable_layers=1,
        epochs=1,
        learning_rate=1e-3,
    )
    result = train_reward_model(records, args, progress=False)
    assert not any("lora" in key for key in json.loads((result.checkpoint / "config.json").read_text()))
    assert not (result.checkpoint / "adapter_config.json").exists()
    scorer = RewardScorer(result.checkpoint, runtime=Runtime.detect(prefer_cpu=True))
    assert torch.isfinite(scorer([records[0].prompt], [records[0].chosen])).all()


def test_reward_args_parse_from_command_line():
    (args,) = HfArgumentParser(RewardArgs).parse_args_into_dataclasses(
        [
            "--model_path",
            "m",
            "--out_dir",
            "o",
            "--trainable_layers",
            "4",
            "--use_margin",
            "false",
            "--lora_r",
            "8",
        ]
    )
    assert args.trainable_layers == 4 and args.use_margin is False and args.lora_r == 8
    assert args.center_rewards_coefficient == 0.01 and args.eval_fraction == 0.1


@pytest.mark.slow
def test_smollm2_reward_steps_write_a_scorable_checkpoint(smollm2, tmp_path):
    records = marker_records(16, seed=3)
    args = RewardArgs(
        model_path=str(smollm2),
        out_dir=str(tmp_path / "rm"),
        max_length=128,
        trainable_layers=2,
        batch_size=4,
        eval_fraction=0.25,
        epochs=1,
        learning_rate=5e-5,
        logging_steps=1,
    )
    result = train_reward_model(records, args, progress=False)
    assert result.metrics["pairs_train"] == 12 and len(result.history) == 3
    assert all(math.isfinite(entry["loss"]) for entry in result.history)
    scorer = RewardScorer(result.checkpoint, runtime=Runtime.detect(prefer_cpu=True))
    assert scorer.tokenizer.pad_token == "<|endoftext|>" and scorer.tokenizer.eos_token == "<|im_end|>"
    rewards = scorer([r.prompt for r in records[:2]], [r.chosen for r in records[:2]])
    assert rewards.shape == (2,) and torch.isfinite(rewards).all()


def test_long_multi_turn_pairs_lose_old_turns_not_the_pair(tiny):
    tokenizer = load_tokenizer(tiny)
    history = [
        {"role": "user", "content": "tell me about the sea " * 20},
        {"role": "assistant", "content": "the sea is blue " * 20},
    ]
    last = [{"role": "user", "content": "and the sky?"}]
    long_pair = PreferenceRecord(
        prompt=[{"role": "system", "content": "be kind"}, *history, *last],
        chosen="blue yes",
        rejected="green no",
    )
    short_pair = PreferenceRecord(prompt=last, chosen="blue", rejected="red")
    hopeless = PreferenceRecord(prompt=last, chosen="x " * 300, rejected="y")
    max_length = len(encode_pair(tokenizer, [long_pair.prompt[0], *last], "green no")) + 1

    records, trimmed = trim_prompt_turns(tokenizer, [long_pair, short_pair, hopeless], max_length)

    assert trimmed == 1  # the hopeless pair has nothing to trim: its reply alone is too long
    assert records[0].prompt == [{"role": "system", "content": "be kind"}, *last]  # system kept, history gone
    assert records[1] is short_pair and records[2] is hopeless
    assert count_too_long(tokenizer, records, max_length) == 1


def test_should_stop_ends_training_within_a_step_and_saves_nothing(tiny, tmp_path):
    asked: list[int] = []

    def stop_at_third_step() -> bool:
        asked.append(1)
        return len(asked) >= 3

    args = RewardArgs(
        model_path=str(tiny), out_dir=str(tmp_path / "rm"), epochs=50, batch_size=4, logging_steps=1
    )
    with pytest.raises(Stopped, match="stopped at step 3 of"):
        train_reward_model(marker_records(40), args, progress=False, should_stop=stop_at_third_step)
    assert not (tmp_path / "rm").exists()


def test_a_rerun_replaces_the_metrics_and_the_checkpoint(tiny, tmp_path):
    args = RewardArgs(
        model_path=str(tiny),
        out_dir=str(tmp_path / "rm"),
        metrics_path=str(tmp_path / "m.jsonl"),
        epochs=1,
        batch_size=8,
        logging_steps=1,
    )
    first = train_reward_model(marker_records(24), args, progress=False)
    lines = len((tmp_path / "m.jsonl").read_text().splitlines())
    second = train_reward_model(marker_records(24), args, progress=False)
    assert first.checkpoint == second.checkpoint and (second.checkpoint / "config.json").exists()
    assert len((tmp_path / "m.jsonl").read_text().splitlines()) == lines  # replaced, not appended
    assert not list(tmp_path.glob("rm.*"))  # no .tmp or .old left beside it
