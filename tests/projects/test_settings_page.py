"""The project settings page: project admins and staff edit name, guidelines, overlap, size
limits and training config; a bad field is a 400 naming it and nothing is saved; everyone else
gets 403 and changes nothing."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tests import platform_factories as factories
from webapp.catalog.models import PolicyVersion
from webapp.projects import services
from webapp.projects.models import Membership, Project
from webapp.projects.roles import Role

pytestmark = pytest.mark.django_db

FIELDS = (
    "name",
    "slug",
    "guidelines",
    "overlap",
    "base_model",
    "active_policy_id",
    "max_prompt_bytes",
    "max_response_bytes",
    "max_reason_bytes",
    "training_config",
    "license",
)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def project() -> Project:
    project = factories.project_with_comparisons(count=1, slug="demo")
    project.training_config = {"round": {"min_pairs": 4}}
    project.save()
    return project


@pytest.fixture
def admin(project):
    return factories.make_member(project, "olga", Role.ADMIN)


def url(project: Project) -> str:
    return reverse("projects:settings", kwargs={"slug": project.slug})


def row(project: Project) -> dict:
    return Project.objects.values(*FIELDS).get(pk=project.pk)


def valid(**changes) -> dict[str, str]:
    data = {
        "name": "Helpful answers",
        "guidelines": "Prefer the *shorter* correct answer.",
        "overlap": "3",
        "max_prompt_bytes": "4096",
        "max_response_bytes": "8192",
        "max_reason_bytes": "600",
        "training_config": json.dumps({"dpo": {"beta": 0.2}, "round": {"algorithm": "dpo"}}),
    }
    data.update(changes)
    return data


def test_the_page_shows_the_current_settings(client, project, admin):
    client.force_login(admin)
    response = client.get(url(project))
    assert response.status_code == 200
    form = response.context["form"]
    assert json.loads(form["training_config"].value()) == {"round": {"min_pairs": 4}}
    page = response.content.decode()
    for name in ("name", "guidelines", "overlap", "max_prompt_bytes", "training_config"):
        assert f'name="{name}"' in page
    for name in ("slug", "base_model", "active_policy"):
        assert f'name="{name}"' not in page


def test_saving_changes_the_fields_and_only_them(client, project, admin):
    before = row(project)
    client.force_login(admin)
    data = valid(slug="stolen", base_model="/etc/passwd", active_policy="", annotators="")
    response = client.post(url(project), data)
    assert response.status_code == 302 and response["Location"] == url(project)
    after = row(project)
    assert after["name"] == "Helpful answers" and after["overlap"] == 3
    assert after["guidelines"] == "Prefer the *shorter* correct answer."
    assert (after["max_prompt_bytes"], after["max_response_bytes"], after["max_reason_bytes"]) == (
        4096,
        8192,
        600,
    )
    assert after["training_config"] == {"dpo": {"beta": 0.2}, "round": {"algorithm": "dpo"}}
    for name in ("slug", "base_model", "active_policy_id"):
        assert after[name] == before[name], name
    page = client.get(response["Location"]).content.decode()
    assert "Settings saved (" in page and "training config" in page


def test_an_empty_training_config_is_no_overrides(client, project, admin):
    client.force_login(admin)
    assert client.post(url(project), valid(training_config="  ")).status_code == 302
    assert row(project)["training_config"] == {}


def test_saving_the_same_settings_says_so(client, project, admin):
    client.force_login(admin)
    current = client.get(url(project)).context["form"]
    data = {name: current[name].value() for name in current.fields}
    response = client.post(url(project), data, follow=True)
    assert "Nothing to save" in response.content.decode()


BAD = [
    ("name", "", "This field is required."),
    ("overlap", "0", "at least 1"),
    ("overlap", "many", "Enter a whole number."),
    ("max_prompt_bytes", "100", "greater than or equal to 256"),
    ("max_response_bytes", "255", "greater than or equal to 256"),
    ("max_reason_bytes", "0", "greater than or equal to 1"),
    ("max_prompt_bytes", str(2 * 1024 * 1024), "at most 1,048,576 bytes here"),
    ("max_reason_bytes", "-5", "greater than or equal to"),
    ("training_config", '{"reward": {"epochs": 2}', "not valid JSON: Expecting ',' delimiter (line 1"),
    ("training_config", '{"ppo": {"kl_coef": NaN}}', "not valid JSON: NaN is not a JSON number"),
    ("training_config", "[1, 2]", "must be a JSON object"),
    ("training_config", '{"rewrd": {"epochs": 2}}', "unknown config section 'rewrd'"),
    ("training_config", '{"reward": 3}', "config section 'reward' must be an object"),
    ("training_config", '{"ppo": {"kl_coeff": 0.1}}', "ppo.kl_coeff is not a setting of the ppo section"),
    ("training_config", '{"reward": {"epochs": "four"}}', 'reward.epochs must be a number, not "four"'),
    ("training_config", '{"round": {"pairing": "random"}}', "round.pairing must be one of parent, policy"),
    ("license", "CC BY 4.0", 'a licence id such as "cc-by-4.0"'),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD, ids=[f"{f}={v[:20]}" for f, v, _ in BAD])
def test_a_bad_field_is_named_and_nothing_is_saved(client, project, admin, field, value, message):
    before = row(project)
    client.force_login(admin)
    response = client.post(url(project), valid(**{field: value}))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in " ".join(errors[field]), errors[field]
    page = response.content.decode()
    assert f'data-testid="error-{field}"' in page and "Nothing was saved" in page
    assert row(project) == before
    assert response.context["project"].name == before["name"]  # the header shows the saved name


def test_the_licence_is_saved_as_a_hub_id(client, project, admin):
    client.force_login(admin)
    assert client.post(url(project), valid(license=" CC-BY-4.0 ")).status_code == 302
    assert row(project)["license"] == "cc-by-4.0"
    assert client.post(url(project), valid(license="")).status_code == 302
    assert row(project)["license"] == ""  # the card then says "other"


def test_every_bad_field_is_named_at_once(client, project, admin):
    before = row(project)
    client.force_login(admin)
    response = client.post(url(project), valid(overlap="0", training_config='{"ppo": {"seed": 1}}'))
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"overlap", "training_config"}
    assert row(project) == before


def test_staff_edit_any_project(client, project):
    client.force_login(factories.make_user("root", staff=True))
    assert client.post(url(project), valid(name="By staff")).status_code == 302
    assert row(project)["name"] == "By staff"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR, None])
def test_others_are_refused_and_change_nothing(client, project, role):
    user = factories.make_user("someone")
    if role is not None:
        Membership.objects.create(project=project, user=user, role=role)
    before = row(project)
    client.force_login(user)
    assert client.get(url(project)).status_code == 403
    assert client.post(url(project), valid()).status_code == 403
    assert row(project) == before


def test_anonymous_is_sent_to_log_in(client, project):
    before = row(project)
    response = client.post(url(project), valid())
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert row(project) == before


def test_the_project_page_links_it_for_those_who_may(client, project, admin):
    detail = reverse("projects:detail", kwargs={"slug": project.slug})
    client.force_login(admin)
    assert 'data-testid="settings-link"' in client.get(detail).content.decode()
    annotator = factories.make_user("alice")
    project.annotators.add(annotator)
    client.force_login(annotator)
    assert 'data-testid="settings-link"' not in client.get(detail).content.decode()


def test_saving_keeps_a_policy_deployed_meanwhile(project):
    """The page's project was read before a deploy committed; saving must not put back its policy."""
    stale = Project.objects.get(pk=project.pk)
    newer = factories.make_policy(project, 1, status=PolicyVersion.Status.ACTIVE)
    Project.objects.filter(pk=project.pk).update(active_policy=newer)
    values = {name: getattr(stale, name) for name in services.SETTINGS_FIELDS}
    assert services.update_settings(stale, {**values, "name": "Renamed"}) == ["name"]
    assert row(project)["active_policy_id"] == newer.pk and row(project)["name"] == "Renamed"
