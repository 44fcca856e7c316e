"""The queue's cost does not grow with its size: bounded queries per page and submit, the
queue read from its index, and slot counters that stay exact whatever happens to a lease."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests import platform_factories as factories
from tests.annotation.pages import annotate_url, submit_url
from webapp.annotation import queue_sql, services
from webapp.annotation.models import Assignment, Comparison, Judgment

pytestmark = pytest.mark.django_db

VOTE = {"choice": "left", "strength": "2", "reason": "", "seconds_spent": "3.5"}


def _busy_project(project, others, comparisons: int):
    """A queue whose front is partly judged and leased by other annotators."""
    factories.make_comparisons(project, comparisons)
    for user in others:
        project.annotators.add(user)
        services.submit_judgment(services.next_assignment(project, user).pk, user, "left")
        services.next_assignment(project, user)  # and an open lease each


@pytest.mark.django_db(transaction=True)  # as in production: atomic() is BEGIN/COMMIT, no savepoints
def test_annotate_page_and_submit_stay_within_eight_queries(
    client_in, project, other_annotator, django_assert_max_num_queries
):
    project.overlap = 2
    project.save()
    _busy_project(project, [other_annotator, factories.make_user("carol")], 30)
    url = annotate_url(project)
    with django_assert_max_num_queries(8):  # a new lease
        assignment = client_in.get(url).context["assignment"]
    with django_assert_max_num_queries(8):  # the same lease again on refresh
        assert client_in.get(url).context["assignment"].pk == assignment.pk
    with django_assert_max_num_queries(8):
        response = client_in.post(submit_url(project, assignment), VOTE)
    assert response.status_code == 302
    assert Judgment.objects.filter(comparison=assignment.comparison, annotator=assignment.annotator).exists()


def _page_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.django_db(transaction=True)
def test_page_queries_do_not_grow_with_the_queue(client_in, project, annotator, other_annotator):
    factories.make_comparisons(project, 3)
    small = _page_queries(client_in, annotate_url(project))
    services.submit_judgment(services.current_assignment(project, annotator).pk, annotator, "tie")
    factories.make_comparisons(project, 400)
    _busy_project(project, [other_annotator], 0)
    assert _page_queries(client_in, annotate_url(project)) == small


def _plan(sql: str, params: list) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE annotation_comparison")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("ANALYZE")
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row) for row in cursor.fetchall())


@pytest.mark.parametrize("wait", [False, True])
def test_leasing_reads_the_queue_from_its_index(project, annotator, wait):
    """The statement that takes a slot (not an ORM stand-in) walks annotation_queue_order."""
    factories.make_comparisons(project, 2000)
    Comparison.objects.filter(pk__in=Comparison.objects.order_by("id").values("pk")[:1500]).update(
        status=Comparison.Status.COMPLETE
    )
    sql = queue_sql._take_sql(connection.vendor, wait)
    plan = _plan(sql, queue_sql.take_sql_params(project.pk, annotator.pk, staff=False))
    assert "annotation_queue_order" in plan, plan


def test_the_page_counts_a_users_judgments_from_their_own(project, annotator):
    """The page's "today" and "judged before" look the user's judgments up by their comparison's key;
    a join let SQLite without statistics (as `make run` leaves it) read every comparison of the
    project instead: 200 ms a page at a million comparisons."""
    factories.make_comparisons(project, 300)
    services.submit_judgment(services.next_assignment(project, annotator).pk, annotator, "left")
    now = timezone.now()
    sql, params = queue_sql.queue_view_sql(project.slug, annotator.pk, now, services.start_of_today(now), 10)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
            cursor.execute("EXPLAIN " + sql, params)
        else:  # no ANALYZE: the statistics SQLite has in a project's life
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = [str(row) for row in cursor.fetchall()]
    assert not [line for line in plan if "annotation_comparison_project_id" in line], "\n".join(plan)
    if connection.vendor == "postgresql":
        assert not [line for line in plan if "Seq Scan on annotation_comparison" in line], "\n".join(plan)


def _assert_counters_exact() -> None:
    for comparison in Comparison.objects.all():
        judged = Judgment.objects.filter(comparison=comparison).count()
        leased = Assignment.objects.filter(comparison=comparison, completed__isnull=True).count()
        assert (comparison.judged, comparison.leased) == (judged, leased), comparison.pk
        assert judged <= comparison.judgments_needed
        if comparison.status != Comparison.Status.RETIRED:
            done = judged >= comparison.judgments_needed
            assert (comparison.status == Comparison.Status.COMPLETE) == done, comparison.pk


def test_counters_stay_exact_through_judging_skipping_expiring_and_imports(project):
    """Random walks over every way a slot is taken or freed; the counters match a recount."""
    project.overlap = 3
    project.save()
    users = [factories.make_user(f"u{i}") for i in range(6)]
    project.annotators.add(*users)
    factories.make_comparisons(project, 12)
    rng = random.Random(7)
    now = timezone.now()
    for _ in range(150):
        user = rng.choice(users)
        now += timedelta(seconds=rng.choice([1, 5, services.settings.ASSIGNMENT_LEASE_SECONDS + 1]))
        assignment = services.next_assignment(project, user, now=now)
        if assignment is None:
            continue
        action = rng.random()
        if action < 0.5:
            try:
                services.submit_judgment(assignment.pk, user, "right", now=now)
            except services.StaleAssignment:
                pass
        elif action < 0.65:
            services.skip_assignment(assignment.pk, user, now=now)
        elif action < 0.75:
            other = rng.choice([u for u in users if u != user])
            comparison = assignment.comparison
            comparison.refresh_from_db()
            if (
                comparison.status == Comparison.Status.PENDING
                and not Judgment.objects.filter(comparison=comparison, annotator=other).exists()
            ):
                services.add_judgment(comparison, other, "tie")
        # else: abandoned; it expires later and is reclaimed
        _assert_counters_exact()
    assert Counter(Assignment.objects.values_list("outcome", flat=True)).keys() >= {
        "judged",
        "skipped",
        "expired",
    }
