"""List endpoints page with a keyset cursor: every row once, in order, across pages, rows added
meanwhile neither skipped nor repeated; judgments filtered by round, annotator, time, source."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests import platform_factories as factories
from webapp.annotation.models import Judgment

pytestmark = pytest.mark.django_db


def pages(client, url: str, limit: int, **query) -> list[list[dict]]:
    out, cursor = [], None
    while True:
        params = {"limit": limit, **query, **({"cursor": cursor} if cursor else {})}
        response = client.get(url, params)
        assert response.status_code == 200, response.content
        body = response.json()
        out.append(body["items"])
        cursor = body["next"]
        if cursor is None:
            return out


def test_judgments_page_through_in_id_order_and_new_rows_come_last():
    project = factories.project_with_comparisons(count=7)
    admin = factories.make_member(project, "owner")
    client = factories.api_client(factories.make_token(admin))
    made = factories.judge_all(project)
    url = f"/api/projects/{project.slug}/judgments"
    first = client.get(url, {"limit": 3}).json()
    assert [j["id"] for j in first["items"]] == [j.pk for j in made[:3]]
    factories.make_comparison(project)
    late = factories.judge_all(project, username="late")  # judgments made while the client pages
    rest = pages(client, url, 3, cursor=first["next"])
    seen = [j["id"] for j in first["items"]] + [j["id"] for page in rest for j in page]
    assert seen == sorted(j.pk for j in made + late)


def test_projects_page_by_name_and_rounds_and_policies_newest_first():
    staff = factories.make_user(staff=True)
    client = factories.api_client(factories.make_token(staff))
    for slug in ("c-one", "a-two", "b-three", "a-four"):
        factories.make_project(slug)
    names = [p["name"] for page in pages(client, "/api/projects", 2) for p in page]
    assert names == sorted(names) and len(names) == 4
    project = factories.project_with_comparisons(count=1, slug="zz")
    for number in range(1, 6):
        factories.make_round(project, number)
        factories.make_policy(project, number)
    rounds = [r["number"] for page in pages(client, "/api/projects/zz/rounds", 2) for r in page]
    assert rounds == [5, 4, 3, 2, 1]
    policies = [p["number"] for page in pages(client, "/api/projects/zz/policies", 4) for p in page]
    assert policies == [5, 4, 3, 2, 1, 0]


@pytest.mark.parametrize(
    ("query", "detail"), [({"cursor": "bm90IGEgY3Vyc29y"}, "field 'cursor'"), ({"limit": 0}, "field 'limit'")]
)
def test_a_cursor_the_api_did_not_give_and_a_bad_limit_are_refused(query, detail):
    staff = factories.make_user(staff=True)
    client = factories.api_client(factories.make_token(staff))
    response = client.get("/api/projects", query)
    assert response.status_code == 422 and response.json()["detail"].startswith(detail)


def test_judgment_filters():
    project = factories.project_with_comparisons(count=2)
    round_1 = factories.make_round(project, 1)
    in_round = factories.make_comparison(project, round=round_1)
    admin = factories.make_member(project, "owner")
    client = factories.api_client(factories.make_token(admin))
    by_ann = factories.judge_all(project, username="ann")
    by_bob = factories.judge_all(project, username="bob")
    Judgment.objects.filter(pk=by_bob[0].pk).update(source="hh:old.jsonl")
    old = timezone.now() - timedelta(days=3)
    Judgment.objects.filter(pk=by_ann[0].pk).update(created=old)
    url = f"/api/projects/{project.slug}/judgments"

    def ids(**query) -> set[int]:
        response = client.get(url, query)
        assert response.status_code == 200, response.content
        return {j["id"] for j in response.json()["items"]}

    assert ids(annotator="bob") == {j.pk for j in by_bob}
    assert ids(round=1) == {j.pk for j in by_ann + by_bob if j.comparison_id == in_round.pk}
    assert ids(before=(old + timedelta(seconds=1)).isoformat()) == {by_ann[0].pk}
    assert by_ann[0].pk not in ids(after=(old + timedelta(seconds=1)).isoformat())
    assert ids(source="hh:old.jsonl") == {by_bob[0].pk}
    assert by_bob[0].pk not in ids(source="")


def test_who_sees_annotator_names():
    """Exporters who are not project admins see the ids the exports carry, not usernames, and may
    not filter by annotator: the stats page shows per-annotator numbers to admins only."""
    project = factories.project_with_comparisons(count=1)
    factories.judge_all(project, username="ann")
    viewer = factories.make_member(project, "reader", role="viewer")
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="export_preferences"))
    client = factories.api_client(factories.make_token(viewer))
    url = f"/api/projects/{project.slug}/judgments"
    item = client.get(url).json()["items"][0]
    assert item["annotator"] is None and isinstance(item["annotator_id"], int)
    refused = client.get(url, {"annotator": "ann"})
    assert refused.status_code == 403 and "field 'annotator'" in refused.json()["detail"]
