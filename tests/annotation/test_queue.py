"""next_assignment: who gets which comparison, in which order, and for how long."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests import platform_factories as factories
from webapp.annotation import services
from webapp.annotation.models import Assignment, Comparison
from webapp.annotation.services import add_judgment

pytestmark = pytest.mark.django_db


def test_empty_queue_gives_none(project, annotator):
    assert services.next_assignment(project, annotator) is None


def test_refresh_returns_the_same_assignment_in_the_same_order(project, annotator):
    factories.make_comparisons(project, 3)
    first = services.next_assignment(project, annotator)
    again = services.next_assignment(project, annotator)
    assert again.pk == first.pk
    assert again.swapped == first.swapped
    assert Assignment.objects.count() == 1


def test_lease_expires_after_the_configured_seconds(project, annotator, settings):
    settings.ASSIGNMENT_LEASE_SECONDS = 120
    factories.make_comparison(project)
    now = timezone.now()
    assignment = services.next_assignment(project, annotator, now=now)
    assert assignment.expires == now + timedelta(seconds=120)
    assert assignment.completed is None


def test_queue_order_is_oldest_round_then_lowest_id(project, annotator):
    round2 = factories.make_round(project, 2)
    round1 = factories.make_round(project, 1)
    late = factories.make_comparison(project, round=round2)
    middle_b = factories.make_comparison(project, round=round1)
    middle_a = factories.make_comparison(project, round=round1)
    seed = factories.make_comparison(project, round=None)  # a project's first comparisons
    order = []
    while (assignment := services.next_assignment(project, annotator)) is not None:
        order.append(assignment.comparison_id)
        services.submit_judgment(assignment.pk, annotator, "tie")
    # round1 was created after round2 here, so "oldest round" is by round id, i.e. creation.
    assert order == [seed.pk, late.pk, middle_b.pk, middle_a.pk]


def test_overlap_one_gives_each_comparison_to_one_annotator(project, annotator, other_annotator):
    first, second = factories.make_comparisons(project, 2)
    a = services.next_assignment(project, annotator)
    b = services.next_assignment(project, other_annotator)
    assert {a.comparison_id, b.comparison_id} == {first.pk, second.pk}
    third = factories.make_user("carol")
    assert services.next_assignment(project, third) is None


def test_overlap_gives_distinct_annotators_up_to_judgments_needed(db):
    users = [factories.make_user() for _ in range(4)]
    project = factories.make_project(overlap=3, annotators=users)
    comparison = factories.make_comparison(project)
    leased = [services.next_assignment(project, user) for user in users]
    assert [a is not None for a in leased] == [True, True, True, False]
    assert {a.annotator_id for a in leased[:3]} == {u.pk for u in users[:3]}
    assert comparison.assignments.count() == 3


def test_never_the_same_comparison_twice_to_one_annotator(db):
    alice = factories.make_user()
    project = factories.make_project(overlap=2, annotators=[alice])
    factories.make_comparisons(project, 2)
    seen = []
    while (assignment := services.next_assignment(project, alice)) is not None:
        seen.append(assignment.comparison_id)
        services.submit_judgment(assignment.pk, alice, "left")
    assert len(seen) == 2 and len(set(seen)) == 2


def test_expired_lease_frees_the_slot_for_others_but_not_for_its_holder(project, annotator, other_annotator):
    comparison = factories.make_comparison(project)
    now = timezone.now()
    services.next_assignment(project, annotator, now=now)
    assert services.next_assignment(project, other_annotator, now=now) is None
    later = now + timedelta(seconds=services.settings.ASSIGNMENT_LEASE_SECONDS + 1)
    taken = services.next_assignment(project, other_annotator, now=later)
    assert taken is not None and taken.comparison_id == comparison.pk
    # The first holder walked away; the pair is not offered to them again.
    assert services.next_assignment(project, annotator, now=later) is None


def test_skip_frees_the_slot_and_is_not_offered_again(project, annotator, other_annotator):
    comparison = factories.make_comparison(project)
    assignment = services.next_assignment(project, annotator)
    services.skip_assignment(assignment.pk, annotator)
    assert services.next_assignment(project, annotator) is None
    assert services.next_assignment(project, other_annotator).comparison_id == comparison.pk


def test_skip_of_someone_elses_assignment_is_refused(project, annotator, other_annotator):
    factories.make_comparison(project)
    assignment = services.next_assignment(project, annotator)
    with pytest.raises(services.NotYourAssignment):
        services.skip_assignment(assignment.pk, other_annotator)


def test_complete_and_retired_comparisons_are_not_offered(project, annotator):
    factories.make_comparison(project).__class__.objects.update(status=Comparison.Status.RETIRED)
    done = factories.make_comparison(project)
    Comparison.objects.filter(pk=done.pk).update(status=Comparison.Status.COMPLETE)
    assert services.next_assignment(project, annotator) is None


def test_open_lease_on_a_retired_comparison_is_dropped(project, annotator):
    first, second = factories.make_comparisons(project, 2)
    assignment = services.next_assignment(project, annotator)
    Comparison.objects.filter(pk=assignment.comparison_id).update(status=Comparison.Status.RETIRED)
    following = services.next_assignment(project, annotator)
    assert following.comparison_id != assignment.comparison_id


def test_other_projects_do_not_leak_in(project, annotator):
    other = factories.make_project("other", annotators=[annotator])
    factories.make_comparison(other)
    assert services.next_assignment(project, annotator) is None
    assert services.next_assignment(other, annotator) is not None


def test_left_right_order_is_randomised_and_recorded(db):
    alice = factories.make_user()
    project = factories.make_project(annotators=[alice])
    factories.make_comparisons(project, 40)
    swapped = []
    while (assignment := services.next_assignment(project, alice)) is not None:
        swapped.append(assignment.swapped)
        services.submit_judgment(assignment.pk, alice, "tie")
    assert len(swapped) == 40
    # P(all 40 the same) = 2 * 2**-40.
    assert any(swapped) and not all(swapped)


def test_judgment_without_assignment_counts_against_the_slots(project, annotator, other_annotator):
    """Judgments imported or made elsewhere fill slots too."""

    comparison = factories.make_comparison(project)
    add_judgment(comparison=comparison, annotator=other_annotator, choice="a")
    assert services.next_assignment(project, annotator) is None
