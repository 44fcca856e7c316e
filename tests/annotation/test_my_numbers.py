"""An annotator's own numbers (my_numbers): counts by day and week, median time, agreement with
others, on hand-built judgments; and the stats page that shows them."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest

from tests import platform_factories as factories
from tests.annotation.pages import stats_url
from webapp.annotation.models import Judgment
from webapp.annotation.my_numbers import median_seconds, my_numbers, start_of_week
from webapp.annotation.services import add_judgment

pytestmark = pytest.mark.django_db

# A Wednesday, 15:00 UTC (the site's time zone in tests): Monday midnight is two days and 15 h before.
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=dt_timezone.utc)


def _judge(comparison, user, choice, *, seconds=0.0, at=NOW, source=""):
    judgment = add_judgment(comparison=comparison, annotator=user, choice=choice, seconds_spent=seconds)
    Judgment.objects.filter(pk=judgment.pk).update(created=at, source=source)
    return judgment


def test_week_starts_monday_midnight():
    assert start_of_week(NOW) == datetime(2026, 11, 30, 0, 0, tzinfo=dt_timezone.utc)
    monday = datetime(2026, 11, 30, 0, 0, 1, tzinfo=dt_timezone.utc)
    assert start_of_week(monday) == datetime(2026, 11, 30, 0, 0, tzinfo=dt_timezone.utc)


def test_median_of_odd_and_even_counts():
    assert median_seconds([], 0) is None
    assert median_seconds([4.0], 5) == 4.0
    assert median_seconds([4.0, 6.0], 4) == 5.0


def test_counts_today_and_this_week(project, annotator, other_annotator):
    comparisons = factories.make_comparisons(project, 5, judgments_needed=2)
    _judge(comparisons[0], annotator, "a", at=NOW - timedelta(hours=1))  # today
    _judge(comparisons[1], annotator, "b", at=NOW - timedelta(hours=14, minutes=59))  # today, 00:01
    _judge(comparisons[2], annotator, "tie", at=NOW - timedelta(days=1))  # this week, not today
    _judge(comparisons[3], annotator, "a", at=NOW - timedelta(days=2, hours=16))  # last Sunday 23:00
    _judge(comparisons[4], other_annotator, "a", at=NOW)  # someone else's
    other_project = factories.make_project("other", annotators=[annotator])
    _judge(factories.make_comparison(other_project), annotator, "a", at=NOW)  # another project's
    numbers = my_numbers(project, annotator, now=NOW)
    assert (numbers.today, numbers.this_week, numbers.total) == (2, 3, 4)


def test_median_seconds_leaves_out_imported_and_untimed(project, annotator):
    comparisons = factories.make_comparisons(project, 7)
    for comparison, seconds in zip(comparisons, [30.0, 2.0, 10.0, 6.0]):
        _judge(comparison, annotator, "a", seconds=seconds)
    _judge(comparisons[4], annotator, "a", seconds=0.0)  # no time measured
    _judge(comparisons[5], annotator, "a", seconds=500.0, source="hh-rlhf:x.jsonl")  # imported
    numbers = my_numbers(project, annotator, now=NOW)
    assert numbers.timed == 4 and numbers.median_seconds == pytest.approx(8.0)  # (6 + 10) / 2
    _judge(comparisons[6], annotator, "b", seconds=7.0)
    numbers = my_numbers(project, annotator, now=NOW)
    assert numbers.timed == 5 and numbers.median_seconds == pytest.approx(7.0)


def test_no_judgments_gives_empty_numbers(project, annotator):
    numbers = my_numbers(project, annotator, now=NOW)
    assert (numbers.today, numbers.total, numbers.median_seconds, numbers.agreement) == (0, 0, None, None)


def test_agreement_counts_pairs_with_other_judgments_of_the_same_comparison(db):
    me, bob, carol = (factories.make_user(name) for name in ("me", "bob", "carol"))
    project = factories.make_project(overlap=3, annotators=[me, bob, carol])
    c1, c2, c3, c4, c5 = factories.make_comparisons(project, 5, judgments_needed=3)
    # c1: I say A, both others say A -> 2 of 2 pairs agree.
    _judge(c1, me, "a"), _judge(c1, bob, "a"), _judge(c1, carol, "a")
    # c2: I say B, bob says A, carol ties -> 0 of 2 (a tie by someone else does not match).
    _judge(c2, me, "b"), _judge(c2, bob, "a"), _judge(c2, carol, "tie")
    # c3: I say B, bob says B -> 1 of 1.
    _judge(c3, me, "b"), _judge(c3, bob, "b")
    # c4: my tie is not an A/B judgment: left out, whatever the others said.
    _judge(c4, me, "tie"), _judge(c4, bob, "tie")
    # c5: only I judged it: nothing to compare with.
    _judge(c5, me, "a")
    numbers = my_numbers(project, me, now=NOW)
    assert (numbers.shared, numbers.pairs, numbers.agreed) == (3, 5, 3)
    assert numbers.agreement == pytest.approx(0.6) and numbers.agreement_percent == 60
    # From bob's side: c1 (a vs me a, carol a: 2/2), c2 (a vs me b, carol tie: 0/2), c3 (b vs b: 1/1).
    bob_numbers = my_numbers(project, bob, now=NOW)
    assert (bob_numbers.shared, bob_numbers.pairs, bob_numbers.agreed) == (3, 5, 3)
    # Carol's only A/B judgment is c1: two pairs, both agree.
    carol_numbers = my_numbers(project, carol, now=NOW)
    assert (carol_numbers.shared, carol_numbers.pairs, carol_numbers.agreed) == (1, 2, 2)


def test_agreement_ignores_other_projects(db):
    me, bob = factories.make_user("me"), factories.make_user("bob")
    here = factories.make_project("here", overlap=2, annotators=[me, bob])
    there = factories.make_project("there", overlap=2, annotators=[me, bob])
    mine = factories.make_comparison(here, judgments_needed=2)
    _judge(mine, me, "a"), _judge(mine, bob, "a")
    theirs = factories.make_comparison(there, judgments_needed=2)
    _judge(theirs, me, "a"), _judge(theirs, bob, "b")
    numbers = my_numbers(here, me, now=NOW)
    assert (numbers.shared, numbers.pairs, numbers.agreed) == (1, 1, 1)


def test_numbers_cost_three_queries(project, annotator, other_annotator, django_assert_num_queries):
    comparisons = factories.make_comparisons(project, 20, judgments_needed=2)
    for i, comparison in enumerate(comparisons):
        _judge(comparison, annotator, "a", seconds=float(i + 1))
        _judge(comparison, other_annotator, "ab"[i % 2])
    with django_assert_num_queries(3):
        numbers = my_numbers(project, annotator, now=NOW)
    assert numbers.median_seconds == pytest.approx(10.5)
    assert (numbers.shared, numbers.pairs, numbers.agreed) == (20, 20, 10)


def test_stats_page_shows_the_annotators_numbers(client_in, project, annotator, other_annotator):
    comparison = factories.make_comparison(project, judgments_needed=2)
    add_judgment(comparison=comparison, annotator=annotator, choice="a", seconds_spent=12.0)
    add_judgment(comparison=comparison, annotator=other_annotator, choice="a", seconds_spent=3.0)
    html = client_in.get(stats_url(project)).content.decode()
    assert 'id="mine"' in html
    assert 'data-testid="my-today">1<' in html and 'data-testid="my-week">1<' in html
    assert 'data-testid="my-median">12.0 s<' in html
    assert 'data-testid="my-agreement">100%<' in html and "1 shared comparison" in html


def test_stats_page_without_annotate_right_has_no_numbers(client, project):
    viewer = factories.make_member(project, "viewer", role="viewer")
    client.force_login(viewer)
    html = client.get(stats_url(project)).content.decode()
    assert "Queue and agreement" in html and 'id="mine"' not in html
