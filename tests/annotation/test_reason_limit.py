"""A judgment's reason is held to its project's `max_reason_bytes`: the annotator gets a field
error on the reason, keeps what they typed, and nothing is stored (no judgment, the lease still
open, the comparison's counters as they were)."""

from __future__ import annotations

import pytest

from tests import platform_factories as factories
from tests.annotation.pages import submit_url
from webapp.annotation import services
from webapp.annotation.models import Assignment, Comparison, Judgment

pytestmark = pytest.mark.django_db


def _state(assignment: Assignment) -> tuple:
    assignment.refresh_from_db()
    comparison = Comparison.objects.get(pk=assignment.comparison_id)
    return (
        Judgment.objects.count(),
        assignment.completed,
        assignment.outcome,
        comparison.judged,
        comparison.leased,
        comparison.status,
    )


@pytest.fixture
def assignment(project, annotator) -> Assignment:
    factories.make_comparison(project)
    return services.next_assignment(project, annotator)


def test_a_reason_at_the_limit_is_stored(project, annotator, assignment):
    reason = "r" * project.max_reason_bytes
    judgment = services.submit_judgment(assignment.pk, annotator, "left", reason=reason)
    judgment.refresh_from_db()
    assert judgment.reason == reason


def test_one_byte_over_is_refused_and_nothing_changes(project, annotator, assignment):
    before = _state(assignment)
    with pytest.raises(services.InvalidReason) as refused:
        services.submit_judgment(assignment.pk, annotator, "left", reason="é" * 2561)  # 5,122 bytes
    assert str(refused.value) == "field 'reason': 5,122 bytes, the project's limit is 5,120"
    assert _state(assignment) == before


def test_the_limit_is_the_projects_own(project, annotator, assignment):
    project.max_reason_bytes = 10
    project.save()
    before = _state(assignment)
    with pytest.raises(services.InvalidReason, match="11 bytes, the project's limit is 10"):
        services.submit_judgment(assignment.pk, annotator, "left", reason="eleven byte")
    assert _state(assignment) == before
    services.submit_judgment(assignment.pk, annotator, "left", reason="  ten bytes!  ".strip()[:10])
    assert Judgment.objects.get().reason == "ten bytes!"


@pytest.mark.parametrize(
    ("reason", "problem"),
    [("nul \x00 here", "contains a NUL character"), ("lone \ud800", "contains a lone UTF-16 surrogate")],
)
def test_unstorable_text_is_refused(annotator, assignment, reason, problem):
    before = _state(assignment)
    with pytest.raises(services.InvalidReason, match=problem):
        services.submit_judgment(assignment.pk, annotator, "left", reason=reason)
    assert _state(assignment) == before


def test_the_page_puts_the_error_on_the_reason_field_and_keeps_the_text(
    client_in, project, annotator, assignment
):
    project.max_reason_bytes = 64
    project.save()
    before = _state(assignment)
    typed = "because <b>A</b> " * 10  # 170 bytes
    response = client_in.post(submit_url(project, assignment), {"choice": "left", "reason": typed})
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        '<p class="field-error" data-field="reason">Reason: 169 bytes, the project&#x27;s limit is 64; '
        "shorten it. Nothing was stored.</p>"
    ) in html
    assert response.context["assignment"].pk == assignment.pk  # the same pair again
    assert "because &lt;b&gt;A&lt;/b&gt; because" in html  # what they typed, in the textarea
    assert _state(assignment) == before


def test_an_outside_judgment_is_held_to_the_limit_too(project, annotator):
    comparison = factories.make_comparison(project)
    with pytest.raises(services.InvalidReason, match="the project's limit is 5,120"):
        services.add_judgment(comparison, annotator, "a", reason="x" * 5121)
    assert not Judgment.objects.exists()
    comparison.refresh_from_db()
    assert (comparison.judged, comparison.status) == (0, Comparison.Status.PENDING)
