"""Starting a round: one at a time per project, enough data, queued only after commit."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.platform_factories import judge_all, project_with_comparisons
from webapp.projects.models import Membership
from webapp.projects.roles import Role
from webapp.rounds import services, state_machine
from webapp.rounds.models import TrainingRound

pytestmark = pytest.mark.django_db
ENOUGH = {"round": {"min_pairs": 2}}


def test_start_creates_round_and_queues_after_commit(django_capture_on_commit_callbacks):
    project = project_with_comparisons(3)
    judge_all(project)
    with django_capture_on_commit_callbacks() as callbacks:
        training_round = services.start_round(project, overrides=ENOUGH)
    assert len(callbacks) == 1  # the pipeline is queued once, and only if the row committed
    assert training_round.number == 1
    assert training_round.state == TrainingRound.State.QUEUED
    assert training_round.policy_in_id == project.active_policy_id
    assert training_round.config["round"]["min_pairs"] == 2


def test_second_round_refused_while_first_runs(django_capture_on_commit_callbacks):
    project = project_with_comparisons(3)
    judge_all(project)
    with django_capture_on_commit_callbacks():
        first = services.start_round(project, overrides=ENOUGH)
    with pytest.raises(services.RoundError, match="round 1 is still queued"):
        services.start_round(project, overrides=ENOUGH)
    state_machine.cancel(first.pk)
    with django_capture_on_commit_callbacks():
        assert services.start_round(project, overrides=ENOUGH).number == 2


def test_too_few_pairs_refused_and_nothing_created():
    project = project_with_comparisons(3)
    judge_all(project, choice="tie")  # ties make no pairs
    with pytest.raises(services.RoundError, match="only 0 usable preference pairs"):
        services.start_round(project, overrides=ENOUGH)
    assert not TrainingRound.objects.exists()


def test_bad_config_is_a_round_error():
    project = project_with_comparisons(1)
    with pytest.raises(services.RoundError, match="unknown config section"):
        services.start_round(project, overrides={"nope": {}})


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"ppo": {"kl_coeff": 0.05}}, "ppo.kl_coeff is not a setting of the ppo section"),
        ({"reward": {"epochs": "four"}}, "reward.epochs must be"),
    ],
)
def test_a_misspelt_key_or_wrong_type_is_refused_before_anything_starts(overrides, message):
    """`start_round --set` and the project's stored config are checked key by key, as the
    settings page checks them, instead of failing a stage later with a TypeError."""
    project = project_with_comparisons(3)
    judge_all(project)
    with pytest.raises(services.RoundError, match=message):
        services.start_round(project, overrides={**ENOUGH, **overrides})
    project.training_config = overrides  # e.g. edited in the Django admin
    project.save()
    with pytest.raises(services.RoundError, match=message):
        services.start_round(project, overrides=ENOUGH)
    assert not TrainingRound.objects.exists()


def test_start_button_needs_a_project_admin(client, django_capture_on_commit_callbacks):
    """An annotator may not start a round; the project's admin may (staff too: the role matrix)."""
    project = project_with_comparisons(3)
    judge_all(project)
    project.training_config = ENOUGH
    project.save()
    user = get_user_model().objects.create_user("ann", password="pw")
    project.annotators.add(user)
    client.force_login(user)
    assert client.post(f"/p/{project.slug}/rounds/start/").status_code == 403
    assert not project.rounds.exists()
    Membership.objects.filter(project=project, user=user).update(role=Role.ADMIN)
    with django_capture_on_commit_callbacks():
        response = client.post(f"/p/{project.slug}/rounds/start/")
    assert response.status_code == 302 and response["Location"].endswith("/rounds/1/")
    progress = client.get(f"/p/{project.slug}/rounds/1/progress/").json()
    assert progress["state"] == "queued" and progress["active"] is True
