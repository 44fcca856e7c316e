"""The annotate page (GET): the leased pair in shown order, keys, progress, headers; the empty page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests import platform_factories as factories
from tests.annotation.pages import annotate_url as _url
from tests.annotation.pages import skip_url
from tests.annotation.pages import submit_url as _submit_url
from webapp.annotation import services
from webapp.annotation.models import Assignment, Comparison

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("swapped", [False, True])
def test_page_shows_prompt_and_responses_in_shown_order(client_in, project, annotator, swapped):
    comparison = factories.make_comparison(
        project, prompt="What is 2+2?", text_a="It is four.", text_b="Five."
    )
    assignment = services.next_assignment(project, annotator)
    Assignment.objects.filter(pk=assignment.pk).update(swapped=swapped)
    response = client_in.get(_url(project))
    assert response.status_code == 200
    html = response.content.decode()
    assert "What is 2+2?" in html
    left, right = ("Five.", "It is four.") if swapped else ("It is four.", "Five.")
    assert html.index(left) < html.index(right)
    assert response.context["left"].pk == (comparison.response_b_id if swapped else comparison.response_a_id)
    assert 'id="response-left"' in html and 'id="response-right"' in html
    assert "Prefer the <strong>helpful</strong>, honest answer." in html  # guidelines rendered
    assert 'action="%s"' % _submit_url(project, assignment) in html


def test_refresh_shows_the_same_comparison(client_in, project):
    factories.make_comparisons(project, 3)
    first = client_in.get(_url(project)).context["assignment"]
    second = client_in.get(_url(project)).context["assignment"]
    assert first.pk == second.pk and first.swapped == second.swapped


def test_page_shows_shortcuts_progress_and_security_headers(client_in, project):
    factories.make_comparisons(project, 3)
    response = client_in.get(_url(project))
    html = response.content.decode()
    for key in (
        "<kbd>1</kbd>",
        "<kbd>2</kbd>",
        "<kbd>3</kbd>",
        "<kbd>4</kbd>",
        "<kbd>q</kbd>",
        "<kbd>r</kbd>",
        "<kbd>Enter</kbd>",
        "<kbd>s</kbd>",
    ):
        assert key in html
    assert "<strong>0</strong> judged today" in html
    assert "<strong>3</strong> left in your queue" in html
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "annotate.js" in html


def test_nav_has_project_links_and_a_post_logout(client_in, project):
    factories.make_comparison(project)
    html = client_in.get(_url(project)).content.decode()
    for name in ("rounds:list", "annotation:annotate", "annotation:stats", "catalog:policies"):
        assert reverse(name, kwargs={"slug": project.slug}) in html
    for name in ("datasets:export", "projects:members"):  # not theirs to use (export: the project page)
        assert reverse(name, kwargs={"slug": project.slug}) not in html
    assert f'method="post" action="{reverse("logout")}"' in html


def test_skip_moves_on(client_in, project, annotator):
    factories.make_comparisons(project, 2)
    assignment = services.next_assignment(project, annotator)
    response = client_in.post(skip_url(project, assignment), follow=True)
    assert response.context["assignment"].comparison_id != assignment.comparison_id


def test_empty_queue_page(client_in, project, annotator):
    comparison = factories.make_comparison(project)
    services.submit_judgment(services.next_assignment(project, annotator).pk, annotator, "left")
    assert Comparison.objects.get(pk=comparison.pk).status == Comparison.Status.COMPLETE
    response = client_in.get(_url(project))
    assert response.status_code == 200
    assert "Nothing left to judge" in response.content.decode()
    assert [t.name for t in response.templates][0] == "annotation/empty.html"


def test_guidelines_are_open_until_the_first_judgment_in_this_project(client_in, project, annotator):
    factories.make_comparisons(project, 3)
    elsewhere = factories.make_project("elsewhere", annotators=[annotator])
    factories.make_comparisons(elsewhere, 1)
    services.submit_judgment(services.next_assignment(elsewhere, annotator).pk, annotator, "left")
    assert client_in.get(_url(project)).context["guidelines_open"]  # judging elsewhere does not count
    services.submit_judgment(services.current_assignment(project, annotator).pk, annotator, "left")
    assert not client_in.get(_url(project)).context["guidelines_open"]
