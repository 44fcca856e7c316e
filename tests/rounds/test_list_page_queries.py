"""List pages cost the same number of queries for one row or eight: the project page and round list (per round), the project list (per project)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.platform_factories import make_policy, make_user, project_with_comparisons
from webapp.rounds.models import TrainingRound

pytestmark = pytest.mark.django_db


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def add_round(project, number: int) -> None:
    v_in = make_policy(project, 2 * number - 1)
    v_out = make_policy(project, 2 * number)
    TrainingRound.objects.create(
        project=project,
        number=number,
        state=TrainingRound.State.DONE,
        policy_in=v_in,
        policy_out=v_out,
        dataset_counts={"pairs": 8},
    )


@pytest.mark.parametrize("url", ["/p/demo/", "/p/demo/rounds/"])
def test_no_query_per_round(client, url):
    project = project_with_comparisons(2)
    client.force_login(make_user("admin", staff=True))
    add_round(project, 1)
    one = queries(client, url)
    for number in range(2, 9):
        add_round(project, number)
    assert queries(client, url) == one


def test_project_list_costs_the_same_for_one_project_or_eight(client):
    annotator = make_user("ann")
    client.force_login(annotator)
    project_with_comparisons(1, slug="p0").annotators.add(annotator)
    one = queries(client, "/")
    for i in range(1, 8):
        project_with_comparisons(1, slug=f"p{i}").annotators.add(annotator)
    project_with_comparisons(1, slug="not-mine")
    assert queries(client, "/") == one
    page = client.get("/").content.decode()
    assert "p7" in page and "not-mine" not in page
