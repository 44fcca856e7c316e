"""Deploy: one active policy per project, stale unjudged comparisons retired, judged ones kept."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.platform_factories import project_with_comparisons
from webapp.annotation.models import Comparison
from webapp.annotation.services import add_judgment
from webapp.catalog import services
from webapp.catalog.models import PolicyVersion

pytestmark = pytest.mark.django_db


def test_deploy_switches_active_policy_and_retires_stale_comparisons(tmp_path):
    project = project_with_comparisons(3, overlap=2)
    v0 = project.active_policy
    first = project.comparisons.order_by("id").first()
    add_judgment(comparison=first, annotator=get_user_model().objects.create(username="u"), choice="a")
    v1 = services.register_policy(project, tmp_path / "v1", "tiny", parent=v0)
    assert v1.number == 1

    services.deploy(v1)

    project.refresh_from_db()
    assert project.active_policy_id == v1.pk
    statuses = dict(PolicyVersion.objects.values_list("number", "status"))
    assert statuses == {0: "retired", 1: "active"}
    comparisons = dict(Comparison.objects.values_list("pk", "status"))
    assert comparisons.pop(first.pk) == "pending"  # partly judged: keeps collecting its overlap
    assert set(comparisons.values()) == {"retired"}


def test_prompts_for_comparisons_prefers_least_compared():
    project = project_with_comparisons(2)
    from webapp.catalog.models import Prompt

    fresh = Prompt.objects.create(project=project, conversation=[{"role": "user", "content": "new"}])
    assert services.prompts_for_comparisons(project, 1) == [fresh]
    assert len(services.prompts_for_comparisons(project, 10)) == 3
