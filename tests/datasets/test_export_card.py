"""The dataset card beside every export: Hugging Face front matter (licence from the project,
the file to load) that parses as YAML, and a body whose counts are the export's."""

from __future__ import annotations

import zipfile

import pytest
import yaml

from tests.platform_factories import project_with_comparisons, vote
from webapp.datasets.exporting import ExportSpec, export

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    project = project_with_comparisons(3, overlap=2)
    for comparison in project.comparisons.all():
        vote(comparison, "alice", "a")
        vote(comparison, "bob", "tie")
    return project


def front_matter(card) -> tuple[dict, str]:
    text = card.read_text()
    assert text.startswith("---\n")
    head, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


def test_card_front_matter_and_counts(project, tmp_path):
    project.license = "cc-by-4.0"
    project.save()
    result = export(project, ExportSpec("trl", aggregation="majority"), tmp_path / "prefs.jsonl")
    assert result.card == tmp_path / "prefs.README.md"
    meta, body = front_matter(result.card)
    assert meta["license"] == "cc-by-4.0" and meta["task_categories"] == ["text-generation"]
    assert meta["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "prefs.jsonl"}]}
    ]
    assert meta["size_categories"] == ["n<1K"]
    assert result.counts["pairs"] == 0  # one A and one tie is no majority
    for key, value in result.counts.items():
        assert f"| {key} | {value:,} |" in body
    assert "`majority`" in body and "`trl`" in body
    assert "3 comparisons with two or more judgments" in body  # the project's agreement
    assert 'load_dataset("json", data_files="prefs.jsonl", split="train")' in body


def test_blank_licence_is_other_and_filters_are_named(project, tmp_path):
    spec = ExportSpec("parquet", rounds=(0,), sources=("",), annotators=("alice",))
    meta, body = front_matter(export(project, spec, tmp_path / "p.parquet").card)
    assert meta["license"] == "other"
    assert "rounds: no round (the first comparisons)" in body and "sources: judged in prefloop" in body
    assert "annotators: 1 chosen by name" in body and "alice" not in body


def test_hf_directory_and_zip(project, tmp_path):
    meta, body = front_matter(export(project, ExportSpec("hf"), tmp_path / "dir" / "data").card)
    assert meta["configs"][0]["data_files"][0]["path"] == "data/*.arrow"
    assert 'load_from_disk("data")' in body
    result = export(project, ExportSpec("hf"), tmp_path / "zip" / "data", archive=True)
    assert result.path == tmp_path / "zip" / "data.zip" and zipfile.is_zipfile(result.path)
    meta, body = front_matter(result.card)
    assert "configs" not in meta and "Unzip `data.zip` first" in body


def test_an_export_into_a_folder_with_a_readme_leaves_that_readme_alone(project, tmp_path):
    """`export_preferences --out prefs.jsonl` run in a repository's root once replaced its README."""
    readme = tmp_path / "README.md"
    readme.write_text("# my repository\n")
    for fmt, name in (("trl", "prefs.jsonl"), ("parquet", "prefs.parquet"), ("hf", "prefs-hf")):
        result = export(project, ExportSpec(fmt), tmp_path / name)
        assert result.card.name == name.split(".")[0] + ".README.md"
        assert front_matter(result.card)[0]["license"]
    assert readme.read_text() == "# my repository\n"
