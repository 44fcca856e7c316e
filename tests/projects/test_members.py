"""The members page and its service: project admins add, re-role and remove members; a refusal
names the field and changes nothing; a project keeps an admin unless staff decide otherwise."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests import platform_factories as factories
from webapp.annotation import services as queue
from webapp.annotation.models import Judgment
from webapp.projects import services
from webapp.projects.models import Membership
from webapp.projects.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def project():
    return factories.make_project("demo")


@pytest.fixture
def admin(project):
    return factories.make_member(project, "olga", Role.ADMIN)


@pytest.fixture
def annotator(project):
    user = factories.make_user("alice")
    project.annotators.add(user)  # the pre-roles way: an annotator
    return user


def url(project) -> str:
    return reverse("projects:members", kwargs={"slug": project.slug})


def roles(project) -> dict[str, str]:
    return dict(Membership.objects.filter(project=project).values_list("user__username", "role"))


def test_add_by_username_with_a_role(client, project, admin, annotator):
    factories.make_user("victor")
    client.force_login(admin)
    response = client.post(url(project), {"action": "add", "username": "victor", "role": "viewer"})
    assert response.status_code == 302 and response["Location"] == url(project)
    assert roles(project) == {"olga": "admin", "alice": "annotator", "victor": "viewer"}
    page = client.get(url(project)).content.decode()
    assert "victor added as viewer." in page and 'data-testid="member-victor"' in page


@pytest.mark.parametrize(
    ("posted", "field"),
    [
        ({"action": "add", "username": "nobody", "role": "viewer"}, "username"),
        ({"action": "add", "username": "alice", "role": "viewer"}, "username"),  # already a member
        ({"action": "add", "username": "", "role": "viewer"}, "username"),
        ({"action": "add", "username": "victor", "role": "owner"}, "role"),
        ({"action": "role", "user": "999999", "role": "viewer"}, "user"),
        ({"action": "role", "user": "x", "role": "viewer"}, "user"),
        ({"action": "remove"}, "user"),
        ({"action": "promote"}, "action"),
        ({}, "action"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(client, project, admin, annotator, posted, field):
    factories.make_user("victor")
    client.force_login(admin)
    before = roles(project)
    response = client.post(url(project), posted)
    assert response.status_code == 400
    error = response.context["error"]
    assert error.startswith(f"Nothing changed. {field}: "), error
    assert error in response.content.decode().replace("&#x27;", "'")
    assert roles(project) == before


def test_change_role_and_remove(client, project, admin, annotator):
    factories.make_comparison(project)
    judgment = queue.submit_judgment(queue.next_assignment(project, annotator).pk, annotator, "left")
    client.force_login(admin)
    client.post(url(project), {"action": "role", "user": annotator.pk, "role": "viewer"})
    assert roles(project)["alice"] == "viewer"
    client.post(url(project), {"action": "remove", "user": annotator.pk})
    assert "alice" not in roles(project)
    assert Judgment.objects.filter(pk=judgment.pk).exists()  # their work stays


@pytest.mark.parametrize(
    ("posted", "field"),
    [({"action": "role", "role": "annotator"}, "role"), ({"action": "remove"}, "user")],
)
def test_the_last_admin_cannot_leave(client, project, admin, posted, field):
    client.force_login(admin)
    response = client.post(url(project), {**posted, "user": admin.pk})
    assert response.status_code == 400
    assert response.context["error"].startswith(f"Nothing changed. {field}: olga is the project's only admin")
    assert roles(project) == {"olga": "admin"}


def test_staff_may_take_the_last_admin_away(client, project, admin):
    client.force_login(factories.make_user("root", staff=True))
    assert (
        client.post(url(project), {"action": "role", "user": admin.pk, "role": "viewer"}).status_code == 302
    )
    assert roles(project) == {"olga": "viewer"}


def test_an_admin_who_steps_down_lands_on_the_project_page(client, project, admin, annotator):
    client.force_login(admin)
    client.post(url(project), {"action": "role", "user": annotator.pk, "role": "admin"})
    response = client.post(url(project), {"action": "role", "user": admin.pk, "role": "annotator"})
    assert response["Location"] == reverse("projects:detail", kwargs={"slug": project.slug})
    assert roles(project) == {"olga": "annotator", "alice": "admin"}
    assert client.get(url(project)).status_code == 403


def test_two_admins_cannot_both_step_down(project, admin, annotator):
    services.change_role(project, annotator.pk, Role.ADMIN, by=admin)
    services.change_role(project, admin.pk, Role.VIEWER, by=admin)
    with pytest.raises(services.MembershipError) as refused:
        services.change_role(project, annotator.pk, Role.VIEWER, by=annotator)
    assert refused.value.field == "role"
    assert roles(project) == {"olga": "viewer", "alice": "admin"}


def test_members_link_and_buttons_follow_the_role(client, project, admin, annotator):
    viewer = factories.make_user("victor")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    detail = reverse("projects:detail", kwargs={"slug": project.slug})
    client.force_login(admin)
    page = client.get(detail).content.decode()
    assert 'data-testid="members-link"' in page and 'data-testid="start-round"' in page
    client.force_login(annotator)
    page = client.get(detail).content.decode()
    assert 'data-testid="members-link"' not in page and 'data-testid="start-round"' not in page
    assert "Start annotating" in page
    client.force_login(viewer)
    page = client.get(detail).content.decode()
    assert "Start annotating" not in page and "Export data" not in page


def test_only_annotators_admins_and_staff_are_leased_comparisons(project, admin, annotator):
    viewer, outsider = factories.make_user("victor"), factories.make_user("mallory")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    factories.make_comparisons(project, 4)
    assert queue.next_assignment(project, viewer) is None
    assert queue.next_assignment(project, outsider) is None
    assert queue.next_assignment(project, annotator) is not None
    assert queue.next_assignment(project, admin) is not None
    assert queue.next_assignment(project, factories.make_user("root", staff=True)) is not None


def test_a_demoted_annotator_cannot_judge_their_open_lease(project, admin, annotator):
    factories.make_comparison(project)
    lease = queue.next_assignment(project, annotator)
    services.change_role(project, annotator.pk, Role.VIEWER, by=admin)
    with pytest.raises(queue.NotYourAssignment):
        queue.submit_judgment(lease.pk, annotator, "left", project_slug=project.slug)
    assert not Judgment.objects.exists()
