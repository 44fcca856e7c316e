"""UltraFeedback rows (an instruction and rated completions) become one judged pair for every two
completions whose scores differ, the higher-rated chosen; the binarized rows (chosen/rejected with
their scores) one pair each."""

from __future__ import annotations

import pytest

from tests import platform_factories as factories
from tests.datasets.import_files import table_counts, turns, write
from webapp.annotation.models import Comparison
from webapp.datasets.imports import import_preferences
from webapp.datasets.readers import ImportFileError

pytestmark = pytest.mark.django_db

ROW = {  # the real dataset's field names
    "source": "evol_instruct",
    "instruction": "Name a prime.",
    "models": ["alpha", "beta", "gamma", "delta"],
    "completions": [
        {"model": "alpha", "response": "Seven.", "overall_score": 8.5},
        {"model": "beta", "response": "Nine.", "overall_score": 2},
        {"model": "gamma", "response": "Two.", "overall_score": 8.5},
        {"model": "delta", "response": "Eleven, or seven.", "overall_score": 6},
    ],
}


@pytest.fixture
def project():
    return factories.make_project("uf")


def load(project, tmp_path, rows, compressed=False):
    path = write(tmp_path / "uf.jsonl.gz", rows, compressed)
    with open(path, "rb") as handle:
        return import_preferences(project, handle, "uf.jsonl.gz", "ultrafeedback")


def pairs():
    rows = Comparison.objects.order_by("id").select_related("response_a", "response_b")
    return [(c.response_a.model_name, c.response_b.model_name) for c in rows]


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_every_two_completions_with_different_scores_are_a_pair(project, tmp_path, compressed):
    result = load(project, tmp_path, [ROW], compressed)
    # 4 completions: 6 pairs, less alpha/gamma (both 8.5)
    assert (result.prompts, result.comparisons, result.judgments) == (1, 5, 5)
    assert pairs() == [
        ("alpha", "beta"),
        ("alpha", "delta"),
        ("gamma", "beta"),
        ("delta", "beta"),
        ("gamma", "delta"),
    ]
    comparison = Comparison.objects.first()
    assert comparison.prompt.conversation == turns("Name a prime.")
    assert comparison.response_a.prompt_id == comparison.prompt_id
    assert table_counts()[1] == 4  # one response per completion, shared by its pairs
    assert set(comparison.judgments.values_list("source", flat=True)) == {"ultrafeedback:uf.jsonl.gz"}


def test_prompt_and_rating_are_read_too(project, tmp_path):
    row = {
        "prompt": "Hi?",
        "completions": [{"response": "Hello.", "rating": 1}, {"response": "Hi!", "rating": 4}],
    }
    load(project, tmp_path, [row])
    comparison = Comparison.objects.select_related("response_a", "response_b").get()
    assert (comparison.response_a.text, comparison.response_b.text) == ("Hi!", "Hello.")
    assert comparison.response_a.model_name == "ultrafeedback:uf.jsonl.gz"  # no model given: the source


def test_a_row_whose_scores_are_all_equal_makes_no_pair(project, tmp_path):
    tied = {
        "instruction": "x?",
        "completions": [{"response": "a", "overall_score": 3}, {"response": "b", "overall_score": 3}],
    }
    result = load(project, tmp_path, [tied, ROW])
    assert (result.prompts, result.comparisons) == (1, 5)


def test_binarized_rows_are_one_pair_each(project, tmp_path):
    row = {
        "prompt": "Name a fruit.",
        "prompt_id": "abc",
        "chosen": turns("Name a fruit.", "A pear."),
        "rejected": turns("Name a fruit.", "A rock."),
        "score_chosen": 9.0,
        "score_rejected": 2.0,
    }
    tie = {**row, "score_rejected": 9.0}
    result = load(project, tmp_path, [row, tie])
    assert (result.prompts, result.comparisons) == (1, 1)
    comparison = Comparison.objects.select_related("response_a", "response_b").get()
    assert comparison.prompt.conversation == turns("Name a fruit.")
    assert (comparison.response_a.text, comparison.response_b.text) == ("A pear.", "A rock.")


@pytest.mark.parametrize(
    "completion, message",
    [
        ({"model": "m", "response": "r"}, "line 2, field 'completions[1].overall_score': missing"),
        (
            {"model": "m", "response": "r", "overall_score": "high"},
            "line 2, field 'completions[1].overall_score': must be a number",
        ),
        ({"model": "m", "overall_score": 1}, "line 2, field 'completions[1].response': missing"),
        (
            {"model": 7, "response": "r", "overall_score": 1},
            "line 2, field 'completions[1].model': must be a string",
        ),
    ],
)
def test_a_bad_completion_is_named_and_nothing_is_written(project, tmp_path, completion, message):
    bad = {
        "instruction": "x?",
        "completions": [{"model": "a", "response": "a", "overall_score": 1}, completion],
    }
    with pytest.raises(ImportFileError) as refused:
        load(project, tmp_path, [ROW, bad])
    assert str(refused.value) == message
    assert table_counts() == (0, 0, 0, 0)
