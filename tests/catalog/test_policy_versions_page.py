"""/p/<slug>/policies/: every version newest first with its round's numbers and samples, in bounded queries."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import learning_factories as learned
from tests import platform_factories as factories
from webapp.catalog.models import PolicyVersion

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def member(db):
    return factories.make_user("alice")


@pytest.fixture
def project(member):
    return factories.make_project(annotators=[member])


def url(project) -> str:
    return reverse("catalog:policies", kwargs={"slug": project.slug})


def lineage(project, count: int) -> list[PolicyVersion]:
    """v0 and `count` versions each made from the last by round n; the newest is active."""
    versions = [factories.make_policy(project, 0, status=PolicyVersion.Status.RETIRED)]
    for n in range(1, count + 1):
        status = PolicyVersion.Status.ACTIVE if n == count else PolicyVersion.Status.RETIRED
        policy, _ = learned.trained_version(project, n, versions[-1], status=status)
        versions.append(policy)
    return versions


def get(client, user, project) -> str:
    client.force_login(user)
    response = client.get(url(project))
    assert response.status_code == 200
    return response.content.decode()


def test_versions_newest_first_with_parent_status_round_and_numbers(client, member, project):
    v0 = factories.make_policy(project, 0, status=PolicyVersion.Status.RETIRED)
    metrics = {
        "reward": learned.reward(accuracy=0.68, pairs_eval=26),
        "ppo": learned.ppo(),
        "evaluation": learned.evaluation(
            win_rate=0.9, prompts=24, kl=0.412, old_length=38.4, new_length=31.6
        ),
    }
    learned.trained_version(project, 1, v0, metrics, status=PolicyVersion.Status.RETIRED, round_number=1)
    v1 = PolicyVersion.objects.get(project=project, number=1)
    learned.trained_version(
        project,
        2,
        v1,
        {"evaluation": learned.evaluation(win_rate=0.55, prompts=12)},
        status=PolicyVersion.Status.ACTIVE,
        round_number=3,
    )
    html = get(client, member, project)
    row_tags = re.findall(r'<tr class="([^"]*)" data-testid="version-row" data-version="(\d+)"', html)
    assert row_tags == [("active-version", "2"), ("", "1"), ("", "0")]  # newest first, active highlighted
    rows = [chunk.split("</tr>")[0] for chunk in html.split('data-testid="version-row"')[1:]]
    assert "v1" in rows[0] and reverse("rounds:detail", kwargs={"slug": project.slug, "number": 3}) in rows[0]
    assert "90% of 24" in rows[1] and "0.412" in rows[1] and "38.4 → 31.6" in rows[1]
    assert "68% on 26" in rows[1] and "-0.21 → 0.43" in rows[1]
    assert (
        "base" in rows[2]
        and reverse("rounds:detail", kwargs={"slug": project.slug, "number": 1}) not in rows[2]
    )
    assert "v1 beats v0 on 90% of 24 held-out prompts" in html
    assert "No measurable change: v2 wins 55% of 12 held-out prompts" in html


def test_sample_answers_per_version_are_escaped(client, member, project):
    v0 = factories.make_policy(project, 0)
    samples = [{"prompt": "hi", "new": "<script>alert(1)</script>", "old": "line one\nline two"}]
    learned.trained_version(project, 1, v0, {"evaluation": learned.evaluation(samples=samples)})
    html = get(client, member, project)
    section = html.split('id="v1"')[1].split("</section>")[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert "<script>alert" not in html
    assert "line one\nline two" in section  # line breaks kept, shown by white-space: pre-wrap


def test_query_count_does_not_grow_with_versions(client, member, project):
    client.force_login(member)
    lineage(project, 2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(project)).status_code == 200
    other = factories.make_project("other", annotators=[member])
    lineage(other, 12)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url(other))
    assert response.content.decode().count('data-testid="version-row"') == 13
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_query_count_is_small(client, member, project, django_assert_max_num_queries):
    lineage(project, 6)
    client.force_login(member)
    with django_assert_max_num_queries(7):  # session, user, project, membership, versions, rounds (+1 spare)
        client.get(url(project))


def test_no_versions_yet(client, member, project):
    assert "No policy versions yet." in get(client, member, project)


def test_linked_from_the_project_and_round_pages(client, member, project):
    v0 = factories.make_policy(project, 0)
    learned.trained_version(project, 1, v0)
    client.force_login(member)
    assert (
        url(project) in client.get(reverse("projects:detail", kwargs={"slug": project.slug})).content.decode()
    )
    round_page = client.get(
        reverse("rounds:detail", kwargs={"slug": project.slug, "number": 1})
    ).content.decode()
    assert f"{url(project)}#v1" in round_page


def test_members_and_staff_only(client, project):
    factories.make_policy(project, 0)
    assert client.get(url(project))["Location"].startswith(reverse("login"))
    client.force_login(factories.make_user("mallory"))
    assert client.get(url(project)).status_code == 403
    staff = factories.make_user("root", staff=True)
    client.force_login(staff)
    assert client.get(url(project)).status_code == 200
    assert client.get(reverse("catalog:policies", kwargs={"slug": "nope"})).status_code == 404
