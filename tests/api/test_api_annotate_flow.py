"""A custom front-end annotating through the API: next -> submit -> the judgment is listed, with
the web's rules: the same lease again until judged, the shown order kept, a stale lease, a
reason over the limit, an unknown choice or strength refused with nothing stored."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tests import platform_factories as factories
from webapp.annotation.models import Assignment, Comparison, Judgment

pytestmark = pytest.mark.django_db


def post(client, path: str, body: dict | None = None):
    return client.post(path, json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def setup():
    project = factories.project_with_comparisons(count=2)
    admin = factories.make_member(project, "owner")  # annotates and may list judgments
    return project, factories.api_client(factories.make_token(admin)), admin


def test_next_submit_then_the_judgment_is_listed(setup):
    project, client, admin = setup
    base = f"/api/projects/{project.slug}"
    first = post(client, f"{base}/assignments/next")
    assert first.status_code == 200, first.content
    body = first.json()
    lease = body["assignment"]
    assert body["available"] == 2
    again = post(client, f"{base}/assignments/next").json()["assignment"]
    assert again == lease  # the open lease again (a refresh shows the same pair, same order)

    assignment = Assignment.objects.select_related("comparison__response_a", "comparison__response_b").get(
        pk=lease["id"]
    )
    left, right = assignment.comparison.response_a, assignment.comparison.response_b
    if assignment.swapped:
        left, right = right, left
    assert [r["text"] for r in lease["responses"]] == [left.text, right.text]
    assert lease["prompt"] == assignment.comparison.prompt.conversation

    judged = post(
        client,
        f"{base}/assignments/{lease['id']}/judgment",
        {"choice": "left", "strength": 3, "reason": "shorter", "seconds_spent": 4.0},
    )
    assert judged.status_code == 201, judged.content
    stored = Judgment.objects.get(pk=judged.json()["id"])
    assert stored.choice == ("b" if assignment.swapped else "a")  # left, in stored terms
    assert (stored.strength, stored.reason, stored.seconds_spent) == (3, "shorter", 4.0)

    listed = client.get(f"{base}/judgments", {"annotator": "owner"}).json()
    assert [item["id"] for item in listed["items"]] == [stored.pk]
    assert listed["items"][0]["annotator"] == "owner" and listed["items"][0]["choice"] == stored.choice

    nxt = post(client, f"{base}/assignments/next").json()["assignment"]
    assert nxt is not None and nxt["id"] != lease["id"]
    skipped = post(client, f"{base}/assignments/{nxt['id']}/skip")
    assert skipped.status_code == 200
    assert post(client, f"{base}/assignments/next").json()["assignment"] is None  # the queue is dry for them


def test_a_second_submit_of_the_same_lease_is_a_conflict(setup):
    project, client, _ = setup
    base = f"/api/projects/{project.slug}"
    lease = post(client, f"{base}/assignments/next").json()["assignment"]
    assert post(client, f"{base}/assignments/{lease['id']}/judgment", {"choice": "tie"}).status_code == 201
    again = post(client, f"{base}/assignments/{lease['id']}/judgment", {"choice": "left"})
    assert again.status_code == 409 and "first judgment stands" in again.json()["detail"]
    assert Judgment.objects.count() == 1 and Judgment.objects.get().choice == "tie"


def test_an_expired_lease_is_refused_and_stores_nothing(setup):
    project, client, _ = setup
    base = f"/api/projects/{project.slug}"
    lease = post(client, f"{base}/assignments/next").json()["assignment"]
    Assignment.objects.filter(pk=lease["id"]).update(expires=timezone.now() - timedelta(seconds=1))
    response = post(client, f"{base}/assignments/{lease['id']}/judgment", {"choice": "left"})
    assert response.status_code == 409
    assert "ran out" in response.json()["detail"]
    assert not Judgment.objects.exists()


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"choice": "middle"}, "field 'choice'"),
        ({"choice": "left", "strength": 5}, "field 'strength'"),
        ({"choice": "left", "seconds_spent": -1}, "field 'seconds_spent'"),
        ({}, "field 'choice'"),
        ({"choice": "left", "reason": "x" * 600}, "field 'reason'"),
        ({"choice": "left", "reason": "nul \x00 byte"}, "field 'reason'"),
    ],
)
def test_values_the_web_refuses_are_refused_naming_the_field(setup, body, where):
    project, client, _ = setup
    project.max_reason_bytes = 512
    project.save()
    base = f"/api/projects/{project.slug}"
    lease = post(client, f"{base}/assignments/next").json()["assignment"]
    response = post(client, f"{base}/assignments/{lease['id']}/judgment", body)
    assert response.status_code == 422, response.content
    assert response.json()["detail"].startswith(where)
    assert not Judgment.objects.exists()
    assert Assignment.objects.get(pk=lease["id"]).completed is None  # the lease still holds


def test_someone_elses_lease_is_not_yours(setup):
    project, client, _ = setup
    other = factories.make_member(project, "ann", role="annotator")
    other_client = factories.api_client(factories.make_token(other))
    theirs = post(other_client, f"/api/projects/{project.slug}/assignments/next").json()["assignment"]
    for action, body in (("judgment", {"choice": "left"}), ("skip", None)):
        response = post(client, f"/api/projects/{project.slug}/assignments/{theirs['id']}/{action}", body)
        assert response.status_code == 404, action
    assert Assignment.objects.get(pk=theirs["id"]).completed is None
    assert Comparison.objects.get(pk=Assignment.objects.get(pk=theirs["id"]).comparison_id).leased == 1
