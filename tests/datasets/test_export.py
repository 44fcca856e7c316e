"""Exports: every format in EXPORT_FORMATS loads with `datasets`, and the trl one trains with TRL."""

from __future__ import annotations

import zipfile

import pytest
from datasets import load_dataset, load_from_disk
from django.contrib.auth import get_user_model

from tests.platform_factories import judge_all, project_with_comparisons
from training.data import read_preferences
from webapp.annotation.models import Judgment
from webapp.annotation.services import add_judgment
from webapp.datasets.exporting import ExportSpec, export
from webapp.datasets.services import EXPORT_FORMATS, export_filename

pytestmark = pytest.mark.django_db

COLUMNS = {
    "trl": {"prompt", "chosen", "rejected", "margin", "strength", "metadata"},
    "trl-standard": {"prompt", "chosen", "rejected", "margin", "strength", "metadata"},
    "hh": {"chosen", "rejected", "margin", "strength", "metadata"},
    "parquet": {"prompt", "chosen", "rejected", "margin", "strength", "metadata"},
    "hf": {"prompt", "chosen", "rejected", "margin", "strength", "metadata"},
}
PAIRWISE = sorted(COLUMNS)
COUNTS = {"judgments": 6, "pairs": 5, "tie": 1, "both_bad": 0, "comparisons": 4, "rows": 5}


def export_preferences(project, fmt, out):
    result = export(project, ExportSpec(fmt), out)
    return result.path, result.counts


def preference_records(project):
    """The records every pairwise format reads back to: alice's four A votes and bob's B vote,
    oldest judgment first."""
    from training.data import PreferenceRecord

    records = []
    for j in Judgment.objects.filter(comparison__project=project, choice__in="ab").order_by("id"):
        c = j.comparison
        chosen, rejected = (c.response_a, c.response_b) if j.choice == "a" else (c.response_b, c.response_a)
        metadata = {
            "comparison_id": c.pk,
            "judgment_id": j.pk,
            "annotator_id": j.annotator_id,
            "prompt_id": c.prompt_id,
            "reason": j.reason,
        }
        records.append(
            PreferenceRecord(c.prompt.conversation, chosen.text, rejected.text, j.strength, metadata)
        )
    return records


@pytest.fixture
def project():
    """4 comparisons: alice prefers A (much better) on all; bob prefers B once and calls one a tie."""
    project = project_with_comparisons(4)
    judge_all(project, "a", username="alice", strength=3)
    bob, _ = get_user_model().objects.get_or_create(username="bob")
    first, second = project.comparisons.order_by("id")[:2]
    add_judgment(comparison=first, annotator=bob, choice="b", strength=1, reason="shorter is better")
    add_judgment(comparison=second, annotator=bob, choice="tie", strength=2)
    return project


def _load(fmt, path, cache):
    if fmt == "hf":
        return load_from_disk(str(path))
    builder = "parquet" if fmt == "parquet" else "json"
    return load_dataset(builder, data_files=str(path), split="train", cache_dir=str(cache))


def test_formats_cover_the_writers():
    assert set(EXPORT_FORMATS) == set(COLUMNS) | {"raw"}


@pytest.mark.parametrize("fmt", PAIRWISE)
def test_export_loads_with_datasets(project, fmt, tmp_path):
    out = tmp_path / ("hf-dir" if fmt == "hf" else export_filename(project, fmt))
    path, counts = export_preferences(project, fmt, out)
    assert path == out and counts == COUNTS
    dataset = _load(fmt, path, tmp_path / "cache")
    assert len(dataset) == 5 and set(dataset.column_names) == COLUMNS[fmt]
    assert sorted(dataset["strength"]) == [1, 3, 3, 3, 3] and sorted(dataset["margin"]) == [0.0, 1, 1, 1, 1]
    records = preference_records(project)
    assert read_preferences(path) == records  # every format reads back to the same records
    bob_pair = next(r for r in records if r.strength == 1)
    assert (
        bob_pair.chosen.startswith("a much longer answer")
        and bob_pair.metadata["reason"] == "shorter is better"
    )
    if fmt == "trl":
        row = dataset[0]
        assert row["prompt"] == [{"role": "user", "content": "question 0?"}]
        assert row["chosen"] == [{"role": "assistant", "content": "short 0"}]
    if fmt == "hh":
        assert dataset[0]["chosen"] == "\n\nHuman: question 0?\n\nAssistant: short 0"
    if fmt == "trl-standard":
        assert (
            dataset[0]["prompt"] == "\n\nHuman: question 0?\n\nAssistant:"
            and dataset[0]["chosen"] == " short 0"
        )


def test_hf_export_as_zip_archive(project, tmp_path):
    path, _ = export_preferences(project, "hf", tmp_path / export_filename(project, "hf"))
    assert path.suffix == ".zip"
    with zipfile.ZipFile(path) as archive:
        archive.extractall(tmp_path / "unzipped")
    (directory,) = (tmp_path / "unzipped").iterdir()
    assert len(load_from_disk(str(directory))) == 5


def test_unknown_format_is_refused(project, tmp_path):
    with pytest.raises(ValueError, match="field 'fmt': unknown format 'csv'"):
        export_preferences(project, "csv", tmp_path / "x.csv")


def test_trl_export_trains_with_reward_trainer(project, tmp_path):
    """The trl export goes straight into TRL: chat template applied, one optimizer step taken."""
    from transformers import AutoModelForSequenceClassification
    from trl import RewardConfig, RewardTrainer
    from trl.data_utils import is_conversational

    from tests.tiny_models import build_tiny_model
    from training.models import load_tokenizer

    path, _ = export_preferences(project, "trl", tmp_path / "prefs.jsonl")
    dataset = load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    assert is_conversational(dataset[0])
    tiny = build_tiny_model(tmp_path / "tiny")
    tokenizer = load_tokenizer(tiny)
    model = AutoModelForSequenceClassification.from_pretrained(str(tiny), num_labels=1)
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
    first = trainer.train_dataset[0]
    assert tokenizer.decode(first["chosen_ids"]).startswith("<|im_start|>user\nquestion 0?<|im_end|>")
    assert "<|im_start|>assistant\nshort 0<|im_end|>" in tokenizer.decode(first["chosen_ids"])
    assert len(trainer.train_dataset) == 5
    assert trainer.train().global_step == 1


def test_export_page_offers_every_format_and_builds_no_file_in_the_request(client, project):
    """The page starts jobs (tests/datasets/test_export_jobs.py); `?format=` no longer downloads."""
    staff = get_user_model().objects.create_user("root", is_staff=True)
    client.force_login(staff)
    page = client.get(f"/p/{project.slug}/export/", {"format": "trl"})
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert all(f'<option value="{name}"' in page.content.decode() for name in EXPORT_FORMATS)
