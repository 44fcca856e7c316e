"""Format raw: one row per judgment with every field, ties and both-bad kept, the annotator a
pseudonym stable within the project and different in another."""

from __future__ import annotations

import pytest
from datasets import load_dataset
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests.platform_factories import make_comparison, make_policy, make_round, project_with_comparisons, vote
from webapp.annotation.models import Assignment
from webapp.datasets.exporting import ExportSpec, export, pseudonym

pytestmark = pytest.mark.django_db
FIELDS = {
    "judgment_id", "comparison_id", "prompt_id", "prompt", "response_a", "response_b", "shown_left",
    "choice", "strength", "reason", "seconds_spent", "round", "policy_a", "policy_b", "model_a",
    "model_b", "annotator", "source", "created",
}  # fmt: skip


@pytest.fixture
def project():
    project = project_with_comparisons(2)
    first, second = project.comparisons.order_by("id")
    alice, _ = get_user_model().objects.get_or_create(username="alice")
    vote(first, "alice", "tie", 1, reason="both fine")
    now = timezone.now()  # the lease it was judged through: B shown on the left
    Assignment.objects.create(
        comparison=first, annotator=alice, swapped=True, expires=now, completed=now, outcome="judged"
    )
    vote(first, "bob", "a", 3)
    vote(second, "alice", "both_bad", 2, source="hh:old.jsonl")
    newer = make_policy(project, 1)
    make_comparison(project, prompt="later?", round=make_round(project, 1), policy=newer)
    vote(project.comparisons.order_by("-id").first(), "alice", "b", 2)
    return project


def test_raw_has_every_judgment_and_field(project, tmp_path):
    result = export(project, ExportSpec("raw"), tmp_path / "raw.jsonl")
    assert result.counts == {"judgments": 4, "pairs": 2, "tie": 1, "both_bad": 1, "comparisons": 3, "rows": 4}
    rows = load_dataset("json", data_files=str(result.path), split="train", cache_dir=str(tmp_path / "c"))
    assert len(rows) == 4 and set(rows.column_names) == FIELDS
    tie, a_vote, both_bad, later = rows
    assert [r["choice"] for r in rows] == ["tie", "a", "both_bad", "b"]
    assert tie["shown_left"] == "b" and a_vote["shown_left"] is None  # B was shown left to alice
    assert tie["reason"] == "both fine" and tie["strength"] == 1 and a_vote["strength"] == 3
    assert tie["prompt"] == [{"role": "user", "content": "question 0?"}]
    assert (tie["response_a"], tie["response_b"]) == ("short 0", "a much longer answer 0")
    assert both_bad["source"] == "hh:old.jsonl" and tie["source"] == ""
    assert tie["round"] is None and later["round"] == 1
    assert (tie["policy_a"], later["policy_a"], later["policy_b"]) == (0, 1, 1)
    assert later["model_a"] == ""
    assert tie["created"].startswith(str(timezone.now().year))


def test_annotator_pseudonym_is_stable_and_not_the_user(project, tmp_path):
    rows = load_dataset(
        "json",
        data_files=str(export(project, ExportSpec("raw"), tmp_path / "raw.jsonl").path),
        split="train",
        cache_dir=str(tmp_path / "c"),
    )
    names = rows["annotator"]
    alice = get_user_model().objects.get(username="alice")
    assert names[0] == names[2] == names[3] != names[1]
    assert names[0] == pseudonym(project, alice.pk) and "alice" not in names[0]
    other = project_with_comparisons(1, slug="other")
    assert pseudonym(other, alice.pk) != names[0]  # not matchable across projects
