"""round.imported: a round's snapshot (and the pair count a round needs to start) includes
imported judgments (Judgment.source not "") by default, and leaves them out with "exclude"."""

from __future__ import annotations

import json

import pytest

from tests.platform_factories import project_with_comparisons, vote
from webapp.datasets.services import write_snapshot
from webapp.rounds import services
from webapp.rounds.models import TrainingRound

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    """Three comparisons judged here, three by an import."""
    project = project_with_comparisons(6)
    for k, comparison in enumerate(project.comparisons.order_by("id")):
        vote(comparison, "alice", "a", source="" if k < 3 else "hh:old.jsonl")
    return project


def snapshot(training_round: TrainingRound, tmp_path, settings) -> list[int]:
    settings.ARTIFACT_ROOT = str(tmp_path / str(training_round.config["round"]["imported"]))
    snap = write_snapshot(
        training_round.project,
        training_round.number,
        before=training_round.created,
        imported=training_round.config["round"]["imported"] == "include",
    )
    rows = [json.loads(line) for line in snap.path.read_text().splitlines()]
    assert snap.counts["pairs"] == len(rows)
    return [r["metadata"]["judgment_id"] for r in rows]


@pytest.mark.parametrize(("setting", "pairs"), [("include", 6), ("exclude", 3)])
def test_imported_judgments_follow_the_setting(
    project, tmp_path, settings, django_capture_on_commit_callbacks, setting, pairs
):
    with django_capture_on_commit_callbacks():
        training_round = services.start_round(
            project, overrides={"round": {"min_pairs": 2, "imported": setting}}
        )
    assert training_round.config["round"]["imported"] == setting
    ids = snapshot(training_round, tmp_path, settings)
    assert len(ids) == pairs and ids == sorted(ids)


def test_the_default_includes_them_and_exclude_counts_for_min_pairs(
    project, django_capture_on_commit_callbacks
):
    assert services.count_pairs(project, {"round": {}}) == 6
    with pytest.raises(services.RoundError, match="only 3 usable preference pairs"):
        services.start_round(project, overrides={"round": {"min_pairs": 4, "imported": "exclude"}})
