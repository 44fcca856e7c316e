"""A project's text size limits are edited where its settings are: the Django admin."""

from __future__ import annotations

import pytest

from tests.platform_factories import make_project
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db

# An empty members inline (where the admin has one), so the POST is the form's own.
NO_INLINE_ROWS = {f"memberships-{key}": "0" for key in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS")}


def test_the_admin_edits_the_limits(admin_client):
    project = make_project("limits")
    url = f"/admin/projects/project/{project.pk}/change/"
    page = admin_client.get(url).content.decode()
    for field in ("max_prompt_bytes", "max_response_bytes", "max_reason_bytes"):
        assert f'name="{field}"' in page
    data = {
        "name": project.name,
        "slug": project.slug,
        "guidelines": project.guidelines,
        "overlap": 1,
        "base_model": "bundled",
        "training_config": "{}",
        "max_prompt_bytes": 1000,
        "max_response_bytes": 2000,
        "max_reason_bytes": 300,
        **NO_INLINE_ROWS,
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    project.refresh_from_db()
    assert (project.max_prompt_bytes, project.max_response_bytes, project.max_reason_bytes) == (
        1000,
        2000,
        300,
    )


def test_a_response_limit_too_small_for_the_marker_is_refused(admin_client):
    project = make_project("tiny")
    url = f"/admin/projects/project/{project.pk}/change/"
    data = {"name": "T", "slug": "tiny", "overlap": 1, "base_model": "bundled", "training_config": "{}"}
    data.update(max_prompt_bytes=1000, max_response_bytes=100, max_reason_bytes=300, **NO_INLINE_ROWS)
    response = admin_client.post(url, data)
    assert response.status_code == 200  # the form again, with the error
    assert list(response.context["adminform"].form.errors) == ["max_response_bytes"]
    assert Project.objects.get(pk=project.pk).max_response_bytes == 65536
