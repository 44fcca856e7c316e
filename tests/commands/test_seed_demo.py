"""seed_demo builds the whole demo on a tiny model, and a second run changes nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.tiny_models import build_tiny_model
from webapp.annotation.models import Comparison
from webapp.catalog.models import PolicyVersion, Prompt
from webapp.projects.models import Membership, Project

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_seed_demo_is_complete_and_idempotent(tmp_path, settings, capsys):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    base = build_tiny_model(tmp_path / "tiny")
    call_command("seed_demo", "--base-model", str(base), "--comparisons", "4", "--insecure-demo-users")
    out = capsys.readouterr().out

    project = Project.objects.get(slug="demo")
    prompts = Prompt.objects.filter(project=project).count()
    assert prompts >= 100
    assert Prompt.objects.filter(project=project, split="eval").exists()
    assert project.active_policy.number == 0
    assert (tmp_path / "artifacts" / "demo" / "policies" / "v0000" / "config.json").exists()
    comparisons = Comparison.objects.filter(project=project)
    assert comparisons.count() == 4
    assert all(c.response_a.policy_id == project.active_policy_id for c in comparisons)
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_staff and admin.check_password("prefloop-admin")
    assert "admin / prefloop-admin" in out and "alice / prefloop-alice" in out
    roles = dict(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert roles == {"admin": "admin", "owner": "admin", "alice": "annotator", "bob": "annotator"}
    owner = get_user_model().objects.get(username="owner")
    assert not owner.is_staff and "owner / prefloop-owner  (project admin" in out

    Membership.objects.filter(user__username="bob").update(role="viewer")  # changed since: kept
    call_command("seed_demo", "--base-model", str(base), "--comparisons", "4")
    assert Membership.objects.get(user__username="bob").role == "viewer"
    assert Membership.objects.filter(project=project).count() == 4
    assert Prompt.objects.count() == prompts
    assert Comparison.objects.count() == 4
    assert PolicyVersion.objects.count() == 1


def test_without_the_insecure_flag_demo_users_get_random_passwords_printed_once(tmp_path, settings, capsys):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    settings.DEBUG = False
    base = build_tiny_model(tmp_path / "tiny")
    call_command("seed_demo", "--base-model", str(base), "--comparisons", "0")
    out = capsys.readouterr().out
    admin = get_user_model().objects.get(username="admin")
    assert not admin.check_password("prefloop-admin") and "prefloop-admin" not in out
    printed = (
        next(line for line in out.splitlines() if line.strip().startswith("admin / "))
        .split(" / ")[1]
        .split()[0]
    )
    assert len(printed) >= 16 and admin.check_password(printed)
    call_command("seed_demo", "--base-model", str(base), "--comparisons", "0")
    assert printed not in capsys.readouterr().out  # printed once, when the account was made
