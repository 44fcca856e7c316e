"""Bulk imports through the API (`datasets.imports` rows): responses by outside models become
comparisons that the queue serves; preferences judged elsewhere become judged comparisons marked
with their source; one bad item refuses all, naming `item N` and the field."""

from __future__ import annotations

import json

import pytest

from tests import platform_factories as factories
from webapp.annotation.models import Comparison, Judgment
from webapp.catalog.models import Prompt, Response

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    project = factories.make_project("demo", overlap=2)
    admin = factories.make_member(project, "owner")
    return project, factories.api_client(factories.make_token(admin))


def post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def test_outside_responses_become_comparisons_the_queue_serves(setup):
    project, client = setup
    rows = [
        {
            "prompt": "Which is better?",
            "responses": [
                {"model": "gpt-x", "text": "One."},
                {"model": "llama-y", "text": "Two."},
                {"model": "mistral-z", "text": "Three."},
            ],
        },
        {"prompt": "Second?", "responses": [{"model": "a", "text": "yes"}, {"model": "b", "text": "no"}]},
    ]
    response = post(
        client, f"/api/projects/{project.slug}/comparisons", {"comparisons": rows, "source": "vendor"}
    )
    assert response.status_code == 201, response.content
    assert response.json() == {"prompts": 2, "comparisons": 4, "judgments": 0}  # 3 pairs + 1
    assert set(Response.objects.values_list("model_name", flat=True)) == {
        "gpt-x",
        "llama-y",
        "mistral-z",
        "a",
        "b",
    }
    assert set(Comparison.objects.values_list("status", "judgments_needed")) == {("pending", 2)}
    assert set(Prompt.objects.values_list("source", flat=True)) == {"vendor"}
    lease = post(client, f"/api/projects/{project.slug}/assignments/next", {}).json()["assignment"]
    assert lease is not None and {r["text"] for r in lease["responses"]} <= {"One.", "Two.", "Three."}


@pytest.mark.parametrize(
    ("bad", "detail"),
    [
        ({"prompt": "p?", "responses": [{"model": "a", "text": "only one"}]}, "item 2, field 'responses'"),
        (
            {"prompt": "p?", "responses": [{"model": "", "text": "x"}, {"model": "b", "text": "y"}]},
            "item 2, field 'responses[0].model'",
        ),
        (
            {"prompt": "p?", "responses": [{"model": "a", "text": "x"}, {"model": "b", "text": "x"}]},
            "item 2, field 'responses[1].text'",
        ),
        (
            {"responses": [{"model": "a", "text": "x"}, {"model": "b", "text": "y"}]},
            "item 2: no prompt found",
        ),
    ],
)
def test_one_bad_comparison_refuses_them_all(setup, bad, detail):
    project, client = setup
    good = {"prompt": "fine?", "responses": [{"model": "a", "text": "1"}, {"model": "b", "text": "2"}]}
    response = post(client, f"/api/projects/{project.slug}/comparisons", {"comparisons": [good, bad]})
    assert response.status_code == 422, response.content
    assert response.json()["detail"].startswith(detail)
    assert not Prompt.objects.exists() and not Comparison.objects.exists()


def test_preferences_judged_elsewhere_are_marked_with_their_source(setup):
    project, client = setup
    rows = [
        {"prompt": "2+2?", "chosen": "4", "rejected": "5"},
        {"prompt": "Capital of France?", "chosen": "Paris", "rejected": "Lyon"},
    ]
    body = {"format": "trl-standard", "preferences": rows, "source": "legacy"}
    response = post(client, f"/api/projects/{project.slug}/preferences", body)
    assert response.status_code == 201, response.content
    assert response.json() == {"prompts": 2, "comparisons": 2, "judgments": 2}
    assert set(Judgment.objects.values_list("source", "choice")) == {("trl-standard:legacy", "a")}
    assert set(Comparison.objects.values_list("status", flat=True)) == {"complete"}
    listed = factories.api_client(factories.make_token(factories.make_user(staff=True))).get(
        f"/api/projects/{project.slug}/judgments", {"source": "trl-standard:legacy"}
    )
    assert len(listed.json()["items"]) == 2

    bad = post(
        client,
        f"/api/projects/{project.slug}/preferences",
        {**body, "preferences": [rows[0], {"prompt": "x"}]},
    )
    assert bad.status_code == 422 and bad.json()["detail"].startswith("item 2")
    assert Judgment.objects.count() == 2
    unknown = post(client, f"/api/projects/{project.slug}/preferences", {**body, "format": "csv"})
    assert unknown.status_code == 422 and unknown.json()["detail"].startswith("field 'format'")
