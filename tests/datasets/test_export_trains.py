"""The trl export goes straight into TRL, no conversion: RewardTrainer and DPOTrainer each take one
optimizer step on a tiny model, from the file as `datasets` loads it."""

from __future__ import annotations

import pytest
from datasets import load_dataset

from tests.platform_factories import judge_all, project_with_comparisons, vote
from webapp.datasets.exporting import ExportSpec, export

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def dataset(tmp_path):
    project = project_with_comparisons(4)
    judge_all(project, "a", username="alice", strength=3)
    vote(project.comparisons.order_by("id").first(), "bob", "b", 1, reason="shorter is better")
    vote(project.comparisons.order_by("id").last(), "bob", "tie")
    path = export(project, ExportSpec("trl"), tmp_path / "prefs.jsonl").path
    return load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))


@pytest.fixture
def tiny(tmp_path):
    from tests.tiny_models import build_tiny_model
    from training.models import load_tokenizer

    path = build_tiny_model(tmp_path / "tiny")
    return path, load_tokenizer(path)


def test_reward_trainer_takes_a_step(dataset, tiny, tmp_path):
    from transformers import AutoModelForSequenceClassification
    from trl import RewardConfig, RewardTrainer
    from trl.data_utils import is_conversational

    path, tokenizer = tiny
    assert is_conversational(dataset[0]) and len(dataset) == 5
    model = AutoModelForSequenceClassification.from_pretrained(str(path), num_labels=1)
    config = RewardConfig(
        output_dir=str(tmp_path / "out"),
        report_to="none",
        use_cpu=True,
        max_steps=1,
        per_device_train_batch_size=4,
        save_strategy="no",
        disable_tqdm=True,
    )
    trainer = RewardTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
    first = tokenizer.decode(trainer.train_dataset[0]["chosen_ids"])
    assert first.startswith("<|im_start|>user\nquestion 0?<|im_end|>")
    assert "<|im_start|>assistant\nshort 0<|im_end|>" in first
    assert trainer.train().global_step == 1


def test_dpo_trainer_takes_a_step(dataset, tiny, tmp_path):
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    path, tokenizer = tiny
    model = AutoModelForCausalLM.from_pretrained(str(path))
    before = [p.detach().clone() for p in model.parameters()]
    config = DPOConfig(
        output_dir=str(tmp_path / "out"),
        report_to="none",
        use_cpu=True,
        max_steps=1,
        per_device_train_batch_size=4,
        save_strategy="no",
        disable_tqdm=True,
        learning_rate=1e-3,
    )
    trainer = DPOTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
    assert len(trainer.train_dataset) == 5
    assert trainer.train().global_step == 1
    assert any(not (a == b).all() for a, b in zip(before, model.parameters()))  # the step moved it
