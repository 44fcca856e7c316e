"""Rounds through the API: start with the checks of the web's button and `start_round --set`
(overrides checked key by key), the status as the round page's progress JSON gives it, cancel."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests import platform_factories as factories
from webapp.rounds.models import TrainingRound

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    project = factories.project_with_comparisons(count=9)
    admin = factories.make_member(project, "owner")
    return project, admin, factories.api_client(factories.make_token(admin))


def start(client, project, overrides=None):
    body = {} if overrides is None else {"overrides": overrides}
    return client.post(
        f"/api/projects/{project.slug}/rounds", json.dumps(body), content_type="application/json"
    )


@pytest.mark.parametrize(
    ("overrides", "detail"),
    [
        ({"reward": {"epoch": 2}}, "field 'overrides': reward.epoch is not a setting of the reward section"),
        ({"reward": {"epochs": "two"}}, "field 'overrides': reward.epochs must be a number"),
        ({"rewards": {}}, "field 'overrides':"),
    ],
)
def test_overrides_are_checked_key_by_key(setup, overrides, detail):
    project, _, client = setup
    factories.judge_all(project)
    response = start(client, project, overrides)
    assert response.status_code == 422, response.content
    assert response.json()["detail"].startswith(detail)
    assert not TrainingRound.objects.exists()


def test_a_round_that_cannot_start_is_a_conflict_saying_why(setup):
    project, _, client = setup
    response = start(client, project)
    assert response.status_code == 409
    assert "usable preference pairs" in response.json()["detail"]
    factories.judge_all(project)
    TrainingRound.objects.create(project=project, number=1, state=TrainingRound.State.POLICY)
    busy = start(client, project)
    assert busy.status_code == 409 and "round 1 is still policy" in busy.json()["detail"]
    assert TrainingRound.objects.count() == 1


def test_start_status_and_cancel(setup):
    project, admin, client = setup
    factories.judge_all(project)
    started = start(client, project, {"reward": {"epochs": 2}})
    assert started.status_code == 201, started.content
    body = started.json()
    assert (body["number"], body["state"], body["active"]) == (1, "queued", True)
    training_round = TrainingRound.objects.get(project=project)
    assert training_round.started_by == admin and training_round.config["reward"]["epochs"] == 2

    TrainingRound.objects.filter(pk=training_round.pk).update(
        state=TrainingRound.State.REWARD, progress={"stage": "reward", "done": 3, "total": 10, "message": ""}
    )
    status = client.get(f"/api/projects/{project.slug}/rounds/1").json()
    web = Client()
    web.force_login(admin)
    page_json = web.get(f"/p/{project.slug}/rounds/1/progress/").json()
    assert {key: status[key] for key in page_json} == page_json  # the round page's progress JSON
    assert status["progress"] == {"stage": "reward", "done": 3, "total": 10, "message": ""}

    cancelled = client.post(f"/api/projects/{project.slug}/rounds/1/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    again = client.post(f"/api/projects/{project.slug}/rounds/1/cancel")
    assert again.status_code == 409 and "not running" in again.json()["detail"]
    assert client.get(f"/api/projects/{project.slug}/rounds/9").status_code == 404
