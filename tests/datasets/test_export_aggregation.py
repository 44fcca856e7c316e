"""Aggregation: `all` is a pair per A/B judgment; `majority` and `unanimous` a pair per comparison,
on hand-built votes (overlap 3 split 2-1, a tie vote, unanimity)."""

from __future__ import annotations

import json

import pytest

from tests.platform_factories import project_with_comparisons, vote
from webapp.datasets.exporting import ExportSpec, export, export_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    """Five comparisons, overlap 3:
    0: A A B (2-1 split), 1: A A A (unanimous), 2: A B tie (no majority), 3: B B tie (majority B
    against a tie), 4: both_bad both_bad A (no majority)."""
    project = project_with_comparisons(5, overlap=3)
    votes = [
        [("a", 3), ("a", 2), ("b", 1)],
        [("a", 1), ("a", 2), ("a", 2)],
        [("a", 2), ("b", 2), ("tie", 2)],
        [("b", 3), ("b", 2), ("tie", 2)],
        [("both_bad", 2), ("both_bad", 2), ("a", 3)],
    ]
    for comparison, row in zip(project.comparisons.order_by("id"), votes):
        for k, (choice, strength) in enumerate(row):
            vote(comparison, f"judge{k}", choice, strength)
    return project


def rows(project, aggregation, tmp_path):
    result = export(project, ExportSpec("trl", aggregation=aggregation), tmp_path / f"{aggregation}.jsonl")
    return [json.loads(line) for line in result.path.read_text().splitlines()], result.counts


def prompt_number(row) -> int:
    return int(row["prompt"][0]["content"].split()[1].rstrip("?"))


def test_all_is_one_pair_per_a_or_b_judgment(project, tmp_path):
    lines, counts = rows(project, "all", tmp_path)
    assert len(lines) == 11 and counts["pairs"] == 11 and counts["tie"] == 2 and counts["both_bad"] == 2
    assert counts["judgments"] == 15 and counts["comparisons"] == 5
    assert [prompt_number(r) for r in lines] == [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4]
    assert sorted(r["metadata"]["judgment_id"] for r in lines) == [
        r["metadata"]["judgment_id"] for r in lines
    ]


def test_majority_needs_more_than_half_of_all_votes(project, tmp_path):
    lines, counts = rows(project, "majority", tmp_path)
    by_prompt = {prompt_number(r): r for r in lines}
    assert sorted(by_prompt) == [0, 1, 3]  # 2-1 split, unanimous, B against a tie
    assert by_prompt[0]["chosen"] == [{"role": "assistant", "content": "short 0"}]
    assert by_prompt[3]["chosen"] == [{"role": "assistant", "content": "a much longer answer 3"}]
    # strength: the winning votes' mean rounded half up (3, 2 -> 3; 1, 2, 2 -> 2; 3, 2 -> 3)
    assert [by_prompt[n]["strength"] for n in (0, 1, 3)] == [3, 2, 3]
    assert by_prompt[0]["margin"] == 1.0
    assert by_prompt[0]["metadata"]["votes"] == {"a": 2, "b": 1, "tie": 0, "both_bad": 0}
    assert counts == {
        "judgments": 15,
        "pairs": 3,
        "tie": 2,
        "both_bad": 2,
        "comparisons": 5,
        "rows": 3,
        "left_out": 2,
    }


def test_unanimous_needs_every_vote_on_one_side(project, tmp_path):
    lines, counts = rows(project, "unanimous", tmp_path)
    assert [prompt_number(r) for r in lines] == [1]
    assert lines[0]["metadata"]["judgments"] == 3 and counts["left_out"] == 4 and counts["pairs"] == 1


@pytest.mark.parametrize("aggregation", ["all", "majority", "unanimous"])
def test_counts_without_writing_match_the_export(project, tmp_path, aggregation):
    spec = ExportSpec("trl", aggregation=aggregation)
    assert export_counts(project, spec) == export(project, spec, tmp_path / "x.jsonl").counts


@pytest.mark.parametrize("fmt", ["trl-standard", "hh", "parquet", "hf"])
def test_every_pairwise_format_aggregates(project, tmp_path, fmt):
    from training.data import read_preferences

    path = export(project, ExportSpec(fmt, aggregation="majority"), tmp_path / f"out-{fmt}").path
    records = read_preferences(path)
    assert len(records) == 3 and sorted(r.strength for r in records) == [2, 3, 3]


def test_raw_is_not_aggregated():
    with pytest.raises(ValueError, match="field 'aggregation': raw has one row per judgment"):
        ExportSpec("raw", aggregation="majority")
