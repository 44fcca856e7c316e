"""A generated response over its project's `max_response_bytes` is stored clipped, at a UTF-8
character boundary, with a marker the annotator sees, and marked cut off; it is not refused,
so a generate stage of runaway answers still gives every prompt its comparison."""

from __future__ import annotations

import pytest

from tests.platform_factories import make_user, project_with_comparisons
from webapp.annotation.models import Comparison
from webapp.catalog import services
from webapp.catalog.models import Prompt, Response
from webapp.catalog.text import clip_to_bytes

pytestmark = pytest.mark.django_db


def _create(project, first: str, second: str = "short") -> Comparison:
    prompt = Prompt.objects.create(project=project, conversation=[{"role": "user", "content": "go on"}])
    pair = services.GeneratedPair(
        prompt,
        {"text": first, "token_count": 9, "finished": True},
        {"text": second, "token_count": 1, "finished": True},
    )
    (comparison,) = services.create_comparisons(project, project.active_policy, [pair], generation={})
    comparison.refresh_from_db()
    return comparison


def test_an_over_long_response_is_clipped_with_a_marker():
    project = project_with_comparisons(0)
    text = "🙂" * 20_000  # 80,000 bytes, 4 a character
    comparison = _create(project, text)
    stored = comparison.response_a
    size = len(stored.text.encode("utf-8"))
    assert 65_536 - 4 < size <= 65_536
    assert stored.text.endswith("[clipped by prefloop: 80,000 bytes, the project's limit is 65,536]")
    kept = stored.text.split("\n\n[clipped")[0]
    assert kept and set(kept) == {"🙂"}  # cut between characters, never inside one
    assert stored.finished is False  # shown as "cut off"
    assert comparison.response_b.text == "short" and comparison.response_b.finished is True


def test_a_response_at_the_limit_is_kept_whole():
    project = project_with_comparisons(0)
    project.max_response_bytes = 1000
    project.save()
    comparison = _create(project, "é" * 500)
    assert comparison.response_a.text == "é" * 500 and comparison.response_a.finished is True


@pytest.mark.parametrize("limit", [256, 257, 258, 259, 300])
def test_clipping_is_valid_utf8_within_the_limit_at_every_cut(limit):
    clipped = clip_to_bytes("a€🙂" * 200, limit)
    encoded = clipped.encode("utf-8")  # raises on a broken character
    assert len(encoded) <= limit and "clipped by prefloop" in clipped


def test_the_annotate_page_shows_the_marker_and_cut_off(client):
    project = project_with_comparisons(0)
    project.max_response_bytes = 512
    project.save()
    user = make_user("ann")
    project.annotators.add(user)
    _create(project, "word " * 1000)
    client.force_login(user)
    html = client.get(f"/p/{project.slug}/annotate/").content.decode()
    assert "[clipped by prefloop: 5,000 bytes, the project&#x27;s limit is 512]" in html
    assert "cut off" in html
    assert len(Response.objects.order_by("-id")[1].text.encode()) <= 512
