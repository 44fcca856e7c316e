"""Submitting a judgment: shown choices map to stored A/B; invalid, stale and foreign submissions\nare refused with a message, store nothing and lose nothing the annotator typed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests import platform_factories as factories
from tests.annotation.pages import annotate_url, submit_url
from webapp.annotation import services
from webapp.annotation.models import Assignment, Comparison, Judgment

pytestmark = pytest.mark.django_db


def _leased(project, user, swapped: bool) -> Assignment:
    assignment = services.next_assignment(project, user)
    Assignment.objects.filter(pk=assignment.pk).update(swapped=swapped)
    return assignment


@pytest.mark.parametrize(
    ("swapped", "shown", "stored"),
    [
        (False, "left", "a"),
        (False, "right", "b"),
        (True, "left", "b"),
        (True, "right", "a"),
        (True, "tie", "tie"),
        (False, "both_bad", "both_bad"),
    ],
)
def test_shown_choice_is_stored_in_a_b_terms(project, annotator, swapped, shown, stored):
    factories.make_comparison(project)
    assignment = _leased(project, annotator, swapped)
    judgment = services.submit_judgment(
        assignment.pk, annotator, shown, strength=3, reason="  because  ", seconds_spent=12.5
    )
    judgment.refresh_from_db()
    assert judgment.choice == stored
    assert (judgment.strength, judgment.reason, judgment.seconds_spent) == (3, "because", 12.5)


def test_submission_completes_assignment_and_comparison(project, annotator):
    comparison = factories.make_comparison(project)
    assignment = services.next_assignment(project, annotator)
    services.submit_judgment(assignment.pk, annotator, "left")
    assignment.refresh_from_db()
    comparison.refresh_from_db()
    assert assignment.completed is not None
    assert comparison.status == Comparison.Status.COMPLETE


def test_comparison_stays_pending_until_judgments_needed(db):
    users = [factories.make_user() for _ in range(2)]
    project = factories.make_project(overlap=2, annotators=users)
    comparison = factories.make_comparison(project)
    for i, user in enumerate(users):
        services.submit_judgment(services.next_assignment(project, user).pk, user, "right")
        comparison.refresh_from_db()
        expected = Comparison.Status.PENDING if i == 0 else Comparison.Status.COMPLETE
        assert comparison.status == expected


def test_second_submission_raises_and_changes_nothing(project, annotator):
    factories.make_comparison(project)
    assignment = services.next_assignment(project, annotator)
    first = services.submit_judgment(assignment.pk, annotator, "left", strength=1, reason="first")
    with pytest.raises(services.AlreadyJudged):
        services.submit_judgment(assignment.pk, annotator, "right", strength=3, reason="second")
    assert Judgment.objects.count() == 1
    stored = Judgment.objects.get()
    assert (stored.pk, stored.reason, stored.strength) == (first.pk, "first", 1)


def _late(project, annotator, other_annotator):
    """Alice's lease ran out and Bob has taken the comparison over."""
    comparison = factories.make_comparison(project)
    now = timezone.now()
    late = now + timedelta(seconds=services.settings.ASSIGNMENT_LEASE_SECONDS + 60)
    mine = services.next_assignment(project, annotator, now=now)
    theirs = services.next_assignment(project, other_annotator, now=late)
    assert theirs.comparison_id == comparison.pk
    return comparison, mine, theirs, late


def test_expired_lease_is_rejected_and_nothing_stored(project, annotator, other_annotator):
    comparison, mine, theirs, late = _late(project, annotator, other_annotator)
    with pytest.raises(services.StaleAssignment, match="ran out"):
        services.submit_judgment(mine.pk, annotator, "left", reason="too slow", now=late)
    assert not Judgment.objects.exists()
    mine.refresh_from_db()
    # Bob's request reclaimed the lapsed lease: closed as expired, its slot his.
    assert (mine.outcome, mine.completed) == (Assignment.Outcome.EXPIRED, mine.expires)
    # Bob's judgment fills the only slot; the comparison is not over-filled.
    services.submit_judgment(theirs.pk, other_annotator, "right", now=late)
    assert Judgment.objects.filter(comparison=comparison).count() == 1
    comparison.refresh_from_db()
    assert comparison.status == Comparison.Status.COMPLETE


def test_expired_lease_is_rejected_even_when_nobody_took_over(project, annotator, settings):
    settings.ASSIGNMENT_LEASE_SECONDS = 60
    factories.make_comparison(project)
    now = timezone.now()
    mine = services.next_assignment(project, annotator, now=now)
    services.submit_judgment  # noqa: B018 - documents the boundary below
    with pytest.raises(services.StaleAssignment, match="1 min"):
        services.submit_judgment(mine.pk, annotator, "left", now=now + timedelta(seconds=60))
    assert not Judgment.objects.exists()


def test_lease_is_honoured_until_it_expires(project, annotator, settings):
    settings.ASSIGNMENT_LEASE_SECONDS = 60
    factories.make_comparison(project)
    now = timezone.now()
    mine = services.next_assignment(project, annotator, now=now)
    services.submit_judgment(mine.pk, annotator, "left", now=now + timedelta(seconds=59))
    assert Judgment.objects.count() == 1


def test_skipped_assignment_is_rejected(project, annotator):
    factories.make_comparison(project)
    assignment = services.next_assignment(project, annotator)
    services.skip_assignment(assignment.pk, annotator)
    with pytest.raises(services.StaleAssignment, match="skipped"):
        services.submit_judgment(assignment.pk, annotator, "tie")
    assert not Judgment.objects.exists()


def test_withdrawn_comparison_is_rejected(project, annotator):
    comparison = factories.make_comparison(project)
    assignment = services.next_assignment(project, annotator)
    Comparison.objects.filter(pk=comparison.pk).update(status=Comparison.Status.RETIRED)
    with pytest.raises(services.StaleAssignment, match="withdrawn"):
        services.submit_judgment(assignment.pk, annotator, "left")
    assert not Judgment.objects.exists()


def test_someone_elses_assignment_is_refused(project, annotator, other_annotator):
    factories.make_comparison(project)
    assignment = services.next_assignment(project, annotator)
    with pytest.raises(services.NotYourAssignment):
        services.submit_judgment(assignment.pk, other_annotator, "left")
    with pytest.raises(services.NotYourAssignment):
        services.submit_judgment(999_999, annotator, "left")
    assert not Judgment.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shown_choice": "a"}, "unknown choice"),
        ({"shown_choice": "left", "strength": 4}, "strength"),
        ({"shown_choice": "left", "strength": 0}, "strength"),
        ({"shown_choice": "left", "seconds_spent": -1.0}, "seconds"),
        ({"shown_choice": "left", "seconds_spent": float("nan")}, "seconds"),
        ({"shown_choice": "left", "seconds_spent": float("inf")}, "seconds"),
    ],
)
def test_values_that_cannot_be_stored_are_refused(project, annotator, kwargs, message):
    factories.make_comparison(project)
    assignment = services.next_assignment(project, annotator)
    with pytest.raises(services.InvalidJudgment, match=message):
        services.submit_judgment(assignment.pk, annotator, **kwargs)
    assert not Judgment.objects.exists()
    assignment.refresh_from_db()
    assert assignment.completed is None


def test_missing_time_falls_back_to_time_since_the_lease(project, annotator):
    factories.make_comparison(project)
    assignment = services.next_assignment(project, annotator)
    judgment = services.submit_judgment(
        assignment.pk, annotator, "left", seconds_spent=None, now=assignment.created + timedelta(seconds=42)
    )
    assert judgment.seconds_spent == pytest.approx(42.0)


def test_next_assignment_after_submit_is_a_different_comparison(project, annotator):
    factories.make_comparisons(project, 2)
    first = services.next_assignment(project, annotator)
    services.submit_judgment(first.pk, annotator, "left")
    second = services.next_assignment(project, annotator)
    assert second is not None and second.comparison_id != first.comparison_id


# --- through the page -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("swapped", "shown", "stored"), [(False, "right", "b"), (True, "right", "a"), (True, "left", "b")]
)
def test_post_stores_mapped_judgment_and_redirects_to_next(
    client_in, project, annotator, swapped, shown, stored
):
    factories.make_comparisons(project, 2)
    assignment = _leased(project, annotator, swapped)
    response = client_in.post(
        submit_url(project, assignment),
        {"choice": shown, "strength": "3", "reason": "more accurate", "seconds_spent": "8.2"},
    )
    assert response.status_code == 302 and response["Location"] == annotate_url(project)
    judgment = Judgment.objects.get()
    assert (judgment.comparison_id, judgment.choice, judgment.strength) == (
        assignment.comparison_id,
        stored,
        3,
    )
    assert (judgment.reason, judgment.seconds_spent) == ("more accurate", 8.2)
    following = client_in.get(response["Location"])
    assert following.context["assignment"].comparison_id != assignment.comparison_id
    assert "<strong>1</strong> judged today" in following.content.decode()
    assert "Saved" in following.content.decode()


def test_post_without_js_fields_still_works(client_in, project, annotator):
    """No JavaScript: only the clicked button's choice and the default strength arrive."""
    factories.make_comparison(project)
    assignment = services.next_assignment(project, annotator)
    response = client_in.post(
        submit_url(project, assignment), {"choice": "tie", "strength": "2", "reason": ""}
    )
    assert response.status_code == 302
    assert Judgment.objects.get().choice == "tie"


@pytest.mark.parametrize(
    ("data", "field", "label"),
    [
        ({"choice": "left", "strength": "9"}, "strength", "Strength"),
        ({"strength": "2"}, "choice", "Choice"),
        ({"choice": "sideways", "strength": "2"}, "choice", "Choice"),
        ({"choice": "left", "strength": "2", "seconds_spent": "-3"}, "seconds_spent", "Seconds spent"),
        ({"choice": "left", "strength": "2", "reason": "x" * 5121}, "reason", "Reason"),
    ],
)
def test_invalid_post_names_the_field_keeps_the_reason_and_stores_nothing(
    client_in, project, annotator, data, field, label
):
    factories.make_comparison(project)
    assignment = services.next_assignment(project, annotator)
    data = {"reason": "kept <b>as typed</b>", **data}
    response = client_in.post(submit_url(project, assignment), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert f'<p class="field-error" data-field="{field}">{label}:' in html
    assert response.context["assignment"].pk == assignment.pk  # the same pair again
    if field != "reason":
        assert "kept &lt;b&gt;as typed&lt;/b&gt;</textarea>" in html  # nothing typed is lost
    assert not Judgment.objects.exists()
    assignment.refresh_from_db()
    assert assignment.completed is None


def test_stale_post_is_refused_with_a_message_and_the_reason_kept(
    client_in, project, annotator, other_annotator
):
    comparison, mine, theirs, late = _late(project, annotator, other_annotator)
    Assignment.objects.filter(pk=mine.pk).update(expires=timezone.now() - timedelta(seconds=1))
    response = client_in.post(
        submit_url(project, mine), {"choice": "left", "strength": "3", "reason": "A cites its source"}
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "ran out" in html and "Nothing was stored" in html
    assert '<pre class="kept-reason" data-testid="kept-reason">A cites its source</pre>' in html
    assert not Judgment.objects.exists()


def test_post_after_skip_is_refused(client_in, project, annotator):
    factories.make_comparisons(project, 2)
    assignment = services.next_assignment(project, annotator)
    services.skip_assignment(assignment.pk, annotator)
    response = client_in.post(
        submit_url(project, assignment), {"choice": "left", "strength": "2", "reason": "r"}
    )
    assert response.status_code == 409
    assert "you skipped this comparison" in response.content.decode()
    # The next pair is shown, with a fresh form.
    assert response.context["assignment"].comparison_id != assignment.comparison_id
    assert not Judgment.objects.exists()


def test_double_submit_keeps_first_and_warns(client_in, project, annotator):
    factories.make_comparisons(project, 2)
    assignment = services.next_assignment(project, annotator)
    url = submit_url(project, assignment)
    client_in.post(url, {"choice": "left", "strength": "2"})
    response = client_in.post(url, {"choice": "right", "strength": "2"}, follow=True)
    assert response.status_code == 200
    assert "already judged" in response.content.decode()
    assert list(Judgment.objects.values_list("choice", flat=True)) == ["a" if not assignment.swapped else "b"]


def test_get_on_submit_url_is_not_allowed(client_in, project, annotator):
    factories.make_comparison(project)
    assignment = services.next_assignment(project, annotator)
    assert client_in.get(submit_url(project, assignment)).status_code == 405
