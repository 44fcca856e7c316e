"""queue_stats and agreement: the numbers on the annotate and stats pages, checked by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests import platform_factories as factories
from tests.annotation.pages import stats_url
from webapp.annotation import services
from webapp.annotation.models import Judgment
from webapp.annotation.services import add_judgment

pytestmark = pytest.mark.django_db


def test_queue_stats_counts(project, annotator, other_annotator):
    factories.make_comparisons(project, 3)
    services.submit_judgment(services.next_assignment(project, annotator).pk, annotator, "left")
    services.next_assignment(project, other_annotator)  # an open lease
    old = factories.make_comparison(project)
    add_judgment(comparison=old, annotator=other_annotator, choice="b")
    Judgment.objects.filter(comparison=old).update(created=timezone.now() - timedelta(days=2))

    stats = services.queue_stats(project, annotator)
    assert (stats["pending"], stats["complete"]) == (2, 2)
    assert (stats["judgments"], stats["judgments_today"], stats["open_leases"]) == (2, 1, 1)
    assert stats["annotators"] == [
        {"annotator": "alice", "judgments": 1, "today": 1},
        {"annotator": "bob", "judgments": 1, "today": 0},
    ]
    # Alice: 3 pending, one leased to Bob, the judged one gone -> 1 left for her.
    assert (stats["user_today"], stats["user_total"], stats["user_available"]) == (1, 1, 1)


def test_agreement_is_undefined_without_overlap(project, annotator):
    factories.make_comparison(project)
    result = services.agreement(project)
    assert result["comparisons"] == 0 and result["alpha_nominal"] is None and result["pairwise"] is None


def _judge_all(project, users, choices_per_user):
    comparisons = factories.make_comparisons(project, len(choices_per_user[0]), judgments_needed=len(users))
    for user, choices in zip(users, choices_per_user):
        for comparison, choice in zip(comparisons, choices):
            add_judgment(comparison=comparison, annotator=user, choice=choice, strength=2)


def test_perfect_agreement_gives_alpha_one(db):
    users = [factories.make_user() for _ in range(3)]
    project = factories.make_project(overlap=3, annotators=users)
    _judge_all(project, users, [["a", "b", "tie", "a"]] * 3)
    result = services.agreement(project)
    assert result["comparisons"] == 4 and result["annotators"] == 3
    assert result["alpha_nominal"] == pytest.approx(1.0)
    assert result["alpha_signed"] == pytest.approx(1.0)
    assert result["pairwise"] == pytest.approx(1.0)


def test_systematic_disagreement_gives_negative_alpha(db):
    users = [factories.make_user() for _ in range(2)]
    project = factories.make_project(overlap=2, annotators=users)
    _judge_all(project, users, [["a", "b", "a", "b"], ["b", "a", "b", "a"]])
    result = services.agreement(project)
    assert result["alpha_nominal"] < 0
    assert result["pairwise"] == 0


def test_agreement_matches_a_hand_computation(db):
    """Two annotators, four comparisons: they agree on three (a/a, b/b, tie/tie), split on one.

    Nominal alpha from the coincidence matrix: n = 8 pairable values, n_a = 3, n_b = 3, n_tie = 2;
    observed disagreement D_o = (o_ab + o_ba) / n = 2/8; expected D_e = (n^2 - sum n_c^2) / (n(n-1))
    = (64 - 22) / 56 = 3/4; alpha = 1 - D_o / D_e = 2/3.
    Signed interval coding (strength 2): values -2,-2 | 2,2 | -2,2 | 0,0; delta = (c - k)^2.
    D_o = 2 * 16 / 8 = 4; D_e = 2 * (3*3*16 + 3*2*4 + 3*2*4) / 56 = 384/56; alpha = 1 - 224/384 = 5/12.
    Pairwise: 3 of 4 pairs agree. A comparison judged once does not count.
    """
    users = [factories.make_user() for _ in range(2)]
    project = factories.make_project(overlap=2, annotators=users)
    _judge_all(project, users, [["a", "b", "a", "tie"], ["a", "b", "b", "tie"]])
    single = factories.make_comparison(project)
    add_judgment(comparison=single, annotator=users[0], choice="both_bad")

    result = services.agreement(project)
    assert (result["comparisons"], result["judgments"], result["annotators"]) == (4, 8, 2)
    assert result["alpha_nominal"] == pytest.approx(2 / 3)
    assert result["alpha_signed"] == pytest.approx(5 / 12)
    assert result["pairwise"] == pytest.approx(3 / 4)


def test_agreement_with_three_annotators_and_gaps_matches_the_package(db):
    """Missing cells (not everyone judged everything) go to krippendorff as NaN, coder x unit."""
    import krippendorff
    import numpy as np

    users = [factories.make_user() for _ in range(3)]
    project = factories.make_project(overlap=3, annotators=users)
    comparisons = factories.make_comparisons(project, 4, judgments_needed=3)
    table = [  # rows: annotators; columns: comparisons; None: not judged
        ["a", "b", None, "tie"],
        ["a", "a", "b", "tie"],
        [None, "b", "b", "both_bad"],
    ]
    for user, row in zip(users, table):
        for comparison, choice in zip(comparisons, row):
            if choice is not None:
                add_judgment(comparison=comparison, annotator=user, choice=choice, strength=2)
    codes = {"a": 0, "b": 1, "tie": 2, "both_bad": 3}
    data = np.array([[np.nan if c is None else codes[c] for c in row] for row in table], dtype=float)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")

    result = services.agreement(project)
    assert result["alpha_nominal"] == pytest.approx(expected)
    # Pairs: c1 a/a; c2 b/a, b/b, a/b; c3 b/b; c4 tie/tie, tie/bb, tie/bb -> 4 of 8 agree.
    assert result["pairwise"] == pytest.approx(4 / 8)


def test_stats_page_shows_queue_and_agreement(client_in, project, annotator, other_annotator):
    _judge_all(project, [annotator, other_annotator], [["a", "b", "a", "tie"], ["a", "b", "b", "tie"]])
    factories.make_comparison(project)
    html = client_in.get(stats_url(project)).content.decode()
    # The four judged ones are complete; the new one is pending.
    assert '<span class="num" data-testid="pending">1</span>' in html
    assert '<span class="num" data-testid="complete">4</span>' in html
    assert '<span class="num" data-testid="judgments">8</span>' in html
    assert '<td class="num-cell" data-testid="alpha-nominal">0.667</td>' in html
    assert '<td class="num-cell" data-testid="alpha-signed">0.417</td>' in html
    assert '<td class="num-cell" data-testid="pairwise">0.750</td>' in html


def test_stats_page_without_overlap_says_so(client_in, project):
    factories.make_comparison(project)
    assert 'data-testid="no-agreement"' in client_in.get(stats_url(project)).content.decode()
