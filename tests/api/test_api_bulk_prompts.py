"""Bulk prompt creation: every row checked as `import_prompts` checks a line, all or nothing, the
error naming `item N` (from 1) and the field."""

from __future__ import annotations

import json

import pytest

from tests import platform_factories as factories
from webapp.catalog.models import Prompt

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    project = factories.make_project("demo")
    admin = factories.make_member(project, "owner")
    return project, factories.api_client(factories.make_token(admin))


def create(client, project, body):
    return client.post(
        f"/api/projects/{project.slug}/prompts", json.dumps(body), content_type="application/json"
    )


def test_rows_of_every_import_shape_are_created(setup):
    project, client = setup
    rows = [
        {"prompt": "Plain?"},
        {"conversation": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Chat?"}]},
        {"prompt": "Held out?", "split": "eval", "source": "mine", "metadata": {"topic": "x"}},
    ]
    response = create(client, project, {"prompts": rows, "source": "nightly"})
    assert response.status_code == 201 and response.json() == {"created": 3}
    stored = {p.last_user_message: p for p in Prompt.objects.filter(project=project)}
    assert set(stored) == {"Plain?", "Chat?", "Held out?"}
    assert (stored["Held out?"].split, stored["Held out?"].source) == ("eval", "mine")
    assert stored["Plain?"].source == "nightly"
    assert stored["Chat?"].conversation[0] == {"role": "system", "content": "Be brief."}


@pytest.mark.parametrize(
    ("bad", "detail"),
    [
        ({"prompt": "ok", "split": "test"}, "item 3, field 'split'"),
        ({"prompt": ""}, "item 3, field 'prompt'"),
        ({"prompt": "x" * 300}, "item 3, field 'prompt'"),
        ({"prompt": "nul \x00"}, "item 3, field 'prompt'"),
        ({"prompt": "ok", "metadata": []}, "item 3, field 'metadata'"),
        ({"nothing": "here"}, "item 3: no prompt found"),
        ("not an object", "field 'prompts', item 3: Input should be a valid dictionary"),
    ],
)
def test_one_bad_row_refuses_them_all_naming_the_item_and_field(setup, bad, detail):
    project, client = setup
    project.max_prompt_bytes = 256
    project.save()
    response = create(client, project, {"prompts": [{"prompt": "fine"}, {"prompt": "also fine"}, bad]})
    assert response.status_code == 422, response.content
    assert response.json()["detail"].startswith(detail), response.json()
    assert not Prompt.objects.exists()


def test_an_empty_list_and_a_body_that_is_not_json_are_refused(setup):
    project, client = setup
    assert create(client, project, {"prompts": []}).status_code == 422
    response = client.post(
        f"/api/projects/{project.slug}/prompts", "{not json", content_type="application/json"
    )
    assert response.status_code in (400, 422)
    assert "detail" in response.json()
    assert not Prompt.objects.exists()


def test_a_body_over_the_upload_limit_is_a_json_413(setup, settings):
    project, client = setup
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    rows = [{"prompt": f"prompt number {i}?"} for i in range(1000)]
    response = create(client, project, {"prompts": rows})
    assert response.status_code == 413
    assert "send fewer items per request" in response.json()["detail"]
    assert not Prompt.objects.exists()
