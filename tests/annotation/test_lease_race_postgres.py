"""A submit that waits for its locks while its lease runs out is refused (finding 9).

`submit_judgment` must read the clock after `queue_sql.lock_for_judging` holds the assignment
and comparison locks: a submit that started at T-1 and got its locks at T+1 is judged at T+1,
when the lease had run out and its slot was free to reclaim. The clock is controlled (the
module's `_now` patched with a settable clock, nothing else), and every step waits on a
condition, never on a sleep:

1. overlap 2; annotator 1 holds a lease that expires at T; the clock says T-1;
2. annotator 2's lease request takes the comparison's second slot in a transaction held open,
   so it holds the comparison's row lock;
3. annotator 1's submit starts in a thread and blocks on that lock (PostgreSQL: seen in
   pg_stat_activity, blocked by that backend; SQLite: its BEGIN IMMEDIATE has started, and
   cannot finish while the other writer is open);
4. the clock moves to T+1 and annotator 2's transaction commits;
5. the submit must raise StaleAssignment and store nothing; annotator 3 then reclaims the
   expired lease and takes its slot, and the comparison never has more judged + leased slots
   than judgments_needed.

Read the clock before the lock and the submit is judged at T-1 and accepted: step 5 fails on
StaleAssignment (checked: both variants fail that way). The slot counters stay consistent in
that case too, since nobody can reclaim a lease whose row the submit has locked (reclaiming skips
locked rows, and a reclaimed lease is refused as closed); what the clock's place guarantees is
that no lease is honoured past its expiry as it stands when the locks are held.

SQLite has no row locks but serialises writers (BEGIN IMMEDIATE), so the same race exists there
with the wait at BEGIN; the second test runs it on SQLite.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Callable

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from tests import platform_factories as factories
from tests.annotation.test_queue_concurrency_postgres import _require_postgres
from webapp.annotation import services
from webapp.annotation.models import Assignment, Judgment

WAIT_SECONDS = 30.0
SECOND = timedelta(seconds=1)


class Clock:
    """What `services._now` returns: a moment the test sets; read by every thread when called."""

    def __init__(self, moment: datetime) -> None:
        self._moment = moment
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._moment

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._moment = moment


def _until(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` (a database state or a flag) until it holds; fail after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.005)


class Thread(threading.Thread):
    """A thread with its own database connection that keeps what its target raised or returned."""

    def __init__(self, target: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self._target_fn = target
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._target_fn()
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            self.error = exc
        finally:
            connections.close_all()

    def finish(self) -> None:
        self.join(timeout=WAIT_SECONDS)
        assert not self.is_alive(), "a thread hung"


def _race(monkeypatch, blocked: Callable[[Thread, dict], Callable[[], bool]], on_connect=None) -> None:
    clock = Clock(timezone.now().replace(microsecond=0))
    monkeypatch.setattr(services, "_now", clock)
    first, second, third = (factories.make_user() for _ in range(3))
    project = factories.make_project(overlap=2, annotators=[first, second, third])
    comparison = factories.make_comparison(project)
    lease = services.next_assignment(project, first)
    expires = lease.expires
    clock.set(expires - SECOND)

    held, release = threading.Event(), threading.Event()
    pids: dict[str, int] = {}

    def second_leases() -> Assignment | None:
        with transaction.atomic():  # annotator 2's lease, held open: it holds the comparison's lock
            if connection.vendor == "postgresql":
                pids["blocker"] = _backend_pid()
            got = services.next_assignment(project, second)
            held.set()
            assert release.wait(WAIT_SECONDS), "never released"
        return got

    def first_submits() -> Judgment:
        connection.ensure_connection()
        if connection.vendor == "postgresql":
            pids["submit"] = _backend_pid()
        if on_connect is not None:
            on_connect()
        return services.submit_judgment(lease.pk, first, "left")

    blocker = Thread(second_leases)
    blocker.start()
    _until(held.is_set, "annotator 2 holds the comparison's lock")
    submit = Thread(first_submits)
    submit.start()
    _until(blocked(submit, pids), "annotator 1's submit is blocked on the lock")
    clock.set(expires + SECOND)  # the lease runs out while the submit waits
    release.set()
    blocker.finish()
    submit.finish()

    assert blocker.error is None, blocker.error
    assert blocker.result is not None and blocker.result.comparison_id == comparison.pk
    assert isinstance(submit.error, services.StaleAssignment), (submit.error, submit.result)
    assert not Judgment.objects.exists()
    # The slot the submit did not fill goes to the next annotator once reclaimed.
    taken = services.next_assignment(project, third)
    assert taken is not None and taken.comparison_id == comparison.pk
    lease.refresh_from_db()
    assert lease.outcome == Assignment.Outcome.EXPIRED
    comparison.refresh_from_db()
    open_leases = Assignment.objects.filter(comparison=comparison, completed__isnull=True).count()
    assert (comparison.judged, comparison.leased) == (0, open_leases) == (0, 2)
    assert comparison.judged + comparison.leased <= comparison.judgments_needed


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _waiting_on_the_blocker(submit: Thread, pids: dict) -> Callable[[], bool]:
    """PostgreSQL: the submit's backend waits on a lock that annotator 2's backend holds."""

    def check() -> bool:
        if not submit.is_alive():
            pytest.fail(f"the submit did not wait for the lock: {submit.error or submit.result!r}")
        if "submit" not in pids:
            return False
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT wait_event_type, pg_blocking_pids(pid) FROM pg_stat_activity WHERE pid = %s",
                [pids["submit"]],
            )
            row = cursor.fetchone()
        return row is not None and row[0] == "Lock" and pids["blocker"] in row[1]

    return check


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_lease_that_runs_out_while_the_submit_waits_for_its_locks_is_stale(monkeypatch):
    _require_postgres()
    _race(monkeypatch, _waiting_on_the_blocker)


@pytest.mark.django_db(transaction=True)
def test_the_same_race_on_sqlite(monkeypatch):
    """SQLite has no row locks: BEGIN IMMEDIATE waits for the other writer to finish. The submit
    reads the clock inside its transaction, so after that wait; seen from the statement trace:
    once BEGIN has started it cannot return before annotator 2's transaction commits."""
    if connection.vendor != "sqlite":
        pytest.skip(f"the SQLite variant; the database is {connection.vendor} (the test above covers it)")
    began = threading.Event()

    def trace() -> None:
        raw = connection.connection
        raw.set_trace_callback(lambda sql: began.set() if sql.startswith("BEGIN") else None)

    _race(monkeypatch, lambda submit, pids: began.is_set, on_connect=trace)
