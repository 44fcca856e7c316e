"""Many annotators asking for work at the same instant on real PostgreSQL: no comparison is
leased beyond its judgments_needed and nobody gets one twice.

Run it against PostgreSQL (CI's PostgreSQL pass does), e.g.
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prefloop .venv/bin/python -m pytest -m postgres tests/annotation
On another database it is skipped with that reason (shown by `-ra`); if DATABASE_URL names
PostgreSQL and the connection is something else, it fails rather than skip.
Threads start together at a barrier (no sleeps); each has its own database connection.
"""

from __future__ import annotations

import os
import threading
from collections import Counter

import pytest
from django.db import connection, connections

from tests import platform_factories as factories
from webapp.annotation import services
from webapp.annotation.models import Assignment, Comparison, Judgment

THREADS = 12
COMPARISONS = 15
NEEDED = 3


def _require_postgres() -> None:
    if connection.vendor == "postgresql":
        return
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.fail(f"DATABASE_URL names PostgreSQL but the test database is {connection.vendor}")
    pytest.skip(
        f"needs PostgreSQL (row locks, SKIP LOCKED), the database is {connection.vendor}; "
        "run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/prefloop"
    )


def _in_threads(target, args_list) -> list[BaseException]:
    """Start all threads at one barrier so their transactions overlap; each has its own connection."""
    barrier = threading.Barrier(len(args_list))
    errors: list[BaseException] = []

    def run(*args):
        try:
            barrier.wait(timeout=30)
            target(*args)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=args) for args in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    return errors


def _crowd(comparisons: int, threads: int = THREADS):
    """`threads` annotators of one project whose comparisons each need NEEDED judgments."""
    users = [factories.make_user() for _ in range(threads)]
    project = factories.make_project(overlap=NEEDED, annotators=users)
    factories.make_comparisons(project, comparisons)
    return project, users


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_leases_never_over_assign():
    _require_postgres()
    project, users = _crowd(2)  # fewer slots (6) than people (12): a real scramble
    got: dict[int, int | None] = {}

    def lease(user) -> None:
        assignment = services.next_assignment(project, user)
        got[user.pk] = assignment and assignment.comparison_id

    errors = _in_threads(lease, [(u,) for u in users])
    assert not errors, errors
    open_leases = Assignment.objects.filter(completed__isnull=True)
    per_comparison = Counter(open_leases.values_list("comparison_id", flat=True))
    per_annotator = Counter(open_leases.values_list("annotator_id", flat=True))
    assert per_comparison and max(per_comparison.values()) <= NEEDED, per_comparison
    assert max(per_annotator.values()) == 1, per_annotator
    # SKIP LOCKED, then waiting on a locked row rather than giving up: every slot was taken.
    assert sum(per_comparison.values()) == 2 * NEEDED
    # What each caller was told matches what is stored; the others were told the queue is dry.
    assert {u: c for u, c in got.items() if c} == dict(
        open_leases.values_list("annotator_id", "comparison_id")
    )
    assert sum(c is None for c in got.values()) == THREADS - 2 * NEEDED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_annotators_judge_until_the_queue_is_dry():
    _require_postgres()
    project, users = _crowd(COMPARISONS)

    def work(user) -> None:
        while (assignment := services.next_assignment(project, user)) is not None:
            services.submit_judgment(assignment.pk, user, "left")

    errors = _in_threads(work, [(u,) for u in users])
    assert not errors, errors

    assignments = Counter(Assignment.objects.values_list("comparison_id", flat=True))
    judgments = Counter(Judgment.objects.values_list("comparison_id", flat=True))
    pairs = list(Judgment.objects.values_list("comparison_id", "annotator_id"))
    assert len(pairs) == len(set(pairs)), "an annotator judged a comparison twice"
    assert max(assignments.values()) <= NEEDED, assignments
    # Every slot filled exactly: nothing over-assigned, nothing left behind.
    assert judgments == {c: NEEDED for c in Comparison.objects.values_list("id", flat=True)}
    assert set(Comparison.objects.values_list("status", flat=True)) == {Comparison.Status.COMPLETE}


@pytest.mark.django_db(transaction=True)
def test_simultaneous_leases_on_the_configured_database():
    """The same scramble on whatever database runs the suite (SQLite: IMMEDIATE transactions
    serialise the leasing writers, so it holds there too)."""
    project, users = _crowd(1, threads=6)
    errors = _in_threads(lambda user: services.next_assignment(project, user), [(u,) for u in users])
    assert not errors, errors
    assert Assignment.objects.count() == NEEDED
    assert len(set(Assignment.objects.values_list("annotator_id", flat=True))) == NEEDED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_hundred_annotators_judge_and_skip_until_the_queue_is_dry():
    """200 annotators through 40 connections (PostgreSQL allows 100), each thread serving five in
    turn; every seventh lease is skipped. The guarantees and the slot counters hold throughout."""
    _require_postgres()
    users = [factories.make_user() for _ in range(200)]
    project = factories.make_project(overlap=NEEDED, annotators=users)
    factories.make_comparisons(project, 120)
    groups = [users[i::40] for i in range(40)]

    def work(group) -> None:
        active, turn = list(group), 0
        while active:
            user = active[turn % len(active)]
            turn += 1
            assignment = services.next_assignment(project, user)
            if assignment is None:
                active.remove(user)
            elif assignment.pk % 7 == 0:
                services.skip_assignment(assignment.pk, user)
            else:
                services.submit_judgment(assignment.pk, user, "right")

    errors = _in_threads(work, [(g,) for g in groups])
    assert not errors, errors
    pairs = list(Judgment.objects.values_list("comparison_id", "annotator_id"))
    assert len(pairs) == len(set(pairs)), "an annotator judged a comparison twice"
    judgments = Counter(c for c, _ in pairs)
    assert judgments == {c: NEEDED for c in Comparison.objects.values_list("id", flat=True)}
    assert not Assignment.objects.filter(completed__isnull=True).exists()
    for comparison in Comparison.objects.all():
        assert (comparison.judged, comparison.leased, comparison.status) == (
            NEEDED,
            0,
            Comparison.Status.COMPLETE,
        )
    assert Assignment.objects.filter(outcome=Assignment.Outcome.SKIPPED).exists()
