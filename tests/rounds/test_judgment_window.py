"""Which judgments a round trains on: those made since the last finished round ("new"), or all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from tests.platform_factories import judge_all, make_comparisons, project_with_comparisons
from webapp.annotation.services import add_judgment
from webapp.datasets.services import write_snapshot
from webapp.rounds import services, state_machine
from webapp.rounds.models import TrainingRound

pytestmark = pytest.mark.django_db
ENOUGH = {"round": {"min_pairs": 2}}


def finish(training_round: TrainingRound) -> None:
    """The round ran to done (what the worker's stages do, without a model)."""
    TrainingRound.objects.filter(pk=training_round.pk).update(state=TrainingRound.State.DONE)


def judge(comparisons, username: str = "later") -> None:
    user, _ = get_user_model().objects.get_or_create(username=username)
    for comparison in comparisons:
        add_judgment(comparison=comparison, annotator=user, choice="b", strength=2)


def snapshot_ids(training_round: TrainingRound, tmp_path: Path, settings) -> list[int]:
    settings.ARTIFACT_ROOT = str(tmp_path)
    since = services.judgments_since(training_round.project, training_round.config)
    snap = write_snapshot(
        training_round.project,
        training_round.number,
        before=training_round.created,
        after=since.created if since else None,
    )
    return [json.loads(line)["metadata"]["judgment_id"] for line in snap.path.read_text().splitlines()]


def test_second_round_trains_only_on_judgments_made_since_the_first(
    django_capture_on_commit_callbacks, tmp_path, settings
):
    project = project_with_comparisons(3)
    old = judge_all(project)
    with django_capture_on_commit_callbacks():
        first = services.start_round(project, overrides=ENOUGH)
    finish(first)
    judge(make_comparisons(project, 4, policy=project.active_policy))
    with django_capture_on_commit_callbacks():
        second = services.start_round(project, overrides=ENOUGH)
    ids = snapshot_ids(second, tmp_path, settings)
    assert len(ids) == 4 and not set(ids) & {j.pk for j in old}


def test_all_trains_on_every_judgment(django_capture_on_commit_callbacks, tmp_path, settings):
    project = project_with_comparisons(3)
    judge_all(project)
    with django_capture_on_commit_callbacks():
        finish(services.start_round(project, overrides=ENOUGH))
    judge(make_comparisons(project, 4, policy=project.active_policy))
    with django_capture_on_commit_callbacks():
        second = services.start_round(project, overrides={"round": {"min_pairs": 2, "judgments": "all"}})
    assert len(snapshot_ids(second, tmp_path, settings)) == 7


def test_a_failed_round_uses_nothing_up(django_capture_on_commit_callbacks, tmp_path, settings):
    project = project_with_comparisons(3)
    judge_all(project)
    with django_capture_on_commit_callbacks():
        failed = services.start_round(project, overrides=ENOUGH)
    state_machine.fail(failed.pk, "policy failed")
    with django_capture_on_commit_callbacks():
        retry = services.start_round(project, overrides=ENOUGH)
    assert len(snapshot_ids(retry, tmp_path, settings)) == 3


def test_no_new_judgments_refused_with_the_window_named(django_capture_on_commit_callbacks):
    project = project_with_comparisons(3)
    judge_all(project)
    with django_capture_on_commit_callbacks():
        finish(services.start_round(project, overrides=ENOUGH))
    with pytest.raises(
        services.RoundError, match=r"only 0 usable preference pairs .* judged since round 1 .*3 in all"
    ):
        services.start_round(project, overrides=ENOUGH)
    assert project.rounds.count() == 1


def test_unknown_window_is_a_config_error():
    project = project_with_comparisons(1)
    with pytest.raises(services.RoundError, match="round.judgments must be one of new, all"):
        services.start_round(project, overrides={"round": {"judgments": "recent"}})


def test_metrics_with_nul_in_sample_answers_are_stored(django_capture_on_commit_callbacks):
    # PostgreSQL's jsonb refuses NUL, which a small model's sample answers can contain
    project = project_with_comparisons(3)
    judge_all(project)
    with django_capture_on_commit_callbacks():
        training_round = services.start_round(project, overrides=ENOUGH)
    services.add_metrics(training_round.pk, "evaluation", {"samples": [{"new": "a\x00b", "old": "\ud800"}]})
    training_round.refresh_from_db()
    assert training_round.metrics["evaluation"]["samples"] == [{"new": "a\ufffdb", "old": "\ufffd"}]
