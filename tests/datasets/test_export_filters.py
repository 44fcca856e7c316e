"""Export filters: rounds (0 = the comparisons of no round), date range (after exclusive, before
inclusive), annotators, sources; each narrows the file and the counts alike."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.platform_factories import make_comparison, make_round, project_with_comparisons, vote
from webapp.datasets.exporting import ExportSpec, export, export_counts

pytestmark = pytest.mark.django_db
DAY = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def project():
    """Two comparisons of no round, one of round 1, one of round 2; judged by alice (day 0, 1, 2, 3)
    and by an import (source "hh:old.jsonl") on day 4."""
    project = project_with_comparisons(2)
    make_comparison(project, prompt="round one?", round=make_round(project, 1))
    make_comparison(project, prompt="round two?", round=make_round(project, 2))
    for day, comparison in enumerate(project.comparisons.order_by("id")):
        vote(comparison, "alice", "a", created=DAY + timedelta(days=day))
        vote(comparison, "imported", "b", source="hh:old.jsonl", created=DAY + timedelta(days=4))
    return project


def judgment_ids(project, tmp_path, **filters) -> list[int]:
    spec = ExportSpec("trl", **filters)
    result = export(project, spec, tmp_path / "out.jsonl")
    ids = [json.loads(line)["metadata"]["judgment_id"] for line in result.path.read_text().splitlines()]
    assert result.counts == export_counts(project, spec) and result.counts["pairs"] == len(ids)
    return ids


def who(project, ids):
    from webapp.annotation.models import Judgment

    rows = Judgment.objects.filter(pk__in=ids).order_by("id")
    return [(j.annotator.username, j.comparison.round.number if j.comparison.round else 0) for j in rows]


def test_no_filter_exports_everything(project, tmp_path):
    assert len(judgment_ids(project, tmp_path)) == 8


def test_rounds(project, tmp_path):
    assert {r for _, r in who(project, judgment_ids(project, tmp_path, rounds=(1,)))} == {1}
    assert {r for _, r in who(project, judgment_ids(project, tmp_path, rounds=(0, 2)))} == {0, 2}
    assert len(judgment_ids(project, tmp_path, rounds=(0,))) == 4


def test_date_range_after_exclusive_before_inclusive(project, tmp_path):
    ids = judgment_ids(project, tmp_path, after=DAY, before=DAY + timedelta(days=2))
    assert who(project, ids) == [("alice", 0), ("alice", 1)]  # days 1 and 2, not day 0
    assert len(judgment_ids(project, tmp_path, after=(DAY + timedelta(days=3)).isoformat())) == 4


def test_annotators(project, tmp_path):
    assert {u for u, _ in who(project, judgment_ids(project, tmp_path, annotators=("alice",)))} == {"alice"}
    assert judgment_ids(project, tmp_path, annotators=("nobody",)) == []


def test_sources(project, tmp_path):
    here = judgment_ids(project, tmp_path, sources=("",))
    imported = judgment_ids(project, tmp_path, sources=("hh:old.jsonl",))
    assert len(here) == len(imported) == 4 and not set(here) & set(imported)
    assert {u for u, _ in who(project, imported)} == {"imported"}


def test_filters_combine(project, tmp_path):
    assert (
        len(judgment_ids(project, tmp_path, rounds=(1, 2), sources=("",), before=DAY + timedelta(days=2)))
        == 1
    )


def test_other_projects_stay_out(project, tmp_path):
    other = project_with_comparisons(3, slug="other")
    for comparison in other.comparisons.all():
        vote(comparison, "bob", "a")
    assert len(judgment_ids(project, tmp_path)) == 8 and len(judgment_ids(other, tmp_path)) == 3
