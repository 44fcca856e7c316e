"""Who may use the annotator pages: annotators, project admins and staff (viewers only the stats
page); others get 403/404, anonymous a login. tests/projects/test_role_matrix.py tries every role."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests import platform_factories as factories
from tests.annotation.pages import annotate_url, skip_url, stats_url, submit_url
from webapp.annotation import services
from webapp.annotation.models import Assignment, Judgment
from webapp.projects.models import Membership
from webapp.projects.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def leased(project, annotator):
    factories.make_comparisons(project, 2)
    return services.next_assignment(project, annotator)


@pytest.mark.parametrize("page", ["annotate", "stats"])
def test_anonymous_is_redirected_to_login(client, project, page):
    url = annotate_url(project) if page == "annotate" else stats_url(project)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_anonymous_post_is_redirected_and_stores_nothing(client, project, leased):
    response = client.post(submit_url(project, leased), {"choice": "left", "strength": "2"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    response = client.post(skip_url(project, leased))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not Judgment.objects.exists()
    assert Assignment.objects.get().completed is None


@pytest.mark.parametrize("page", ["annotate", "stats"])
def test_non_member_is_forbidden(client, project, page):
    factories.make_comparison(project)
    client.force_login(factories.make_user("mallory"))
    url = annotate_url(project) if page == "annotate" else stats_url(project)
    assert client.get(url).status_code == 403


def test_non_member_cannot_post_or_skip(client, project, leased):
    client.force_login(factories.make_user("mallory"))
    assert client.post(submit_url(project, leased), {"choice": "left"}).status_code == 403
    assert client.post(skip_url(project, leased)).status_code == 403
    assert not Judgment.objects.exists()
    assert Assignment.objects.get().completed is None


def test_viewer_may_read_the_stats_but_not_annotate(client, project, annotator):
    factories.make_comparison(project)
    Membership.objects.filter(project=project, user=annotator).update(role=Role.VIEWER)
    client.force_login(annotator)
    assert client.get(annotate_url(project)).status_code == 403
    page = client.get(stats_url(project))
    assert page.status_code == 200 and 'data-testid="user-available"' not in page.content.decode()
    assert not Assignment.objects.exists()


def test_non_member_gets_nothing_leased(client, project):
    factories.make_comparison(project)
    client.force_login(factories.make_user("mallory"))
    client.get(annotate_url(project))
    assert not Assignment.objects.exists()


def test_unknown_project_is_404(client_in):
    assert client_in.get(reverse("annotation:annotate", kwargs={"slug": "nope"})).status_code == 404
    assert client_in.get(reverse("annotation:stats", kwargs={"slug": "nope"})).status_code == 404


def test_member_of_another_project_only_is_forbidden(client, project):
    outsider = factories.make_user("carol")
    factories.make_project("other", annotators=[outsider])
    client.force_login(outsider)
    assert client.get(annotate_url(project)).status_code == 403


def test_staff_may_annotate_without_membership(client, project):
    factories.make_comparison(project)
    client.force_login(factories.make_user("root", staff=True))
    assert client.get(annotate_url(project)).status_code == 200


def test_someone_elses_assignment_is_404_and_stores_nothing(client, project, leased, other_annotator):
    client.force_login(other_annotator)
    response = client.post(submit_url(project, leased), {"choice": "left", "strength": "2", "reason": "mine"})
    assert response.status_code == 404
    assert "not assigned to you" in response.content.decode()
    assert client.post(skip_url(project, leased)).status_code == 404
    assert not Judgment.objects.exists()
    assert Assignment.objects.get(pk=leased.pk).completed is None


def test_assignment_of_another_project_is_404(client_in, project, annotator):
    other = factories.make_project("other", annotators=[annotator])
    factories.make_comparison(other)
    elsewhere = services.next_assignment(other, annotator)
    response = client_in.post(submit_url(project, elsewhere), {"choice": "left", "strength": "2"})
    assert response.status_code == 404
    assert not Judgment.objects.exists()


def test_per_annotator_table_is_for_project_admins_and_staff(client, project, annotator):
    client.force_login(annotator)
    assert "<h2>Annotators</h2>" not in client.get(stats_url(project)).content.decode()
    Membership.objects.filter(project=project, user=annotator).update(role=Role.ADMIN)
    assert "<h2>Annotators</h2>" in client.get(stats_url(project)).content.decode()
    client.force_login(factories.make_user("root", staff=True))
    assert "<h2>Annotators</h2>" in client.get(stats_url(project)).content.decode()
