"""create_comparisons stores whatever a model emits, NUL bytes included (PostgreSQL refuses NUL)."""

from __future__ import annotations

import pytest

from tests.platform_factories import project_with_comparisons
from webapp.catalog import services
from webapp.catalog.models import Prompt

pytestmark = pytest.mark.django_db


def test_nul_in_model_output_is_stored_as_replacement_character():
    project = project_with_comparisons(0)
    prompt = Prompt.objects.create(project=project, conversation=[{"role": "user", "content": "hi"}])
    pair = services.GeneratedPair(
        prompt,
        {"text": "a\x00b", "token_count": 3, "finished": True},
        {"text": "<script>x</script>", "token_count": 5, "finished": False},
    )
    (comparison,) = services.create_comparisons(
        project, project.active_policy, [pair], generation={"seed": 0}
    )
    comparison.refresh_from_db()
    assert comparison.response_a.text == "a\ufffdb"
    assert comparison.response_b.text == "<script>x</script>"  # stored verbatim; escaped when shown
