"""The queue's three hot statements, written as SQL.

Each annotate page and each submit runs one of these. Built by the ORM they took 2-4 ms each
of Python to compose and compile, more than the database took to run them
(`benchmarks/annotate_load.py`; README there). The SQL is standard and runs unchanged on
PostgreSQL and SQLite; table and column names come from the models, and the tests run every
statement on both databases (tests/annotation/test_queue_at_scale.py and the queue tests).
Only PostgreSQL locks rows (FOR UPDATE ... SKIP LOCKED); SQLite serialises writers instead.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection

from webapp.annotation.models import Assignment, Comparison, Judgment
from webapp.projects.models import Membership, Project
from webapp.projects.roles import QUEUE_ROLES

PENDING, RETIRED = Comparison.Status.PENDING.value, Comparison.Status.RETIRED.value
C, A, J = Comparison._meta.db_table, Assignment._meta.db_table, Judgment._meta.db_table
P, M = Project._meta.db_table, Membership._meta.db_table
# The roles that are leased comparisons and may judge them, as an SQL list: ('annotator', 'admin').
QUEUE_ROLES_SQL = "(" + ", ".join(f"'{role}'" for role in QUEUE_ROLES) + ")"


def _candidates(project: str, also: str = "") -> str:
    """FROM ... ORDER BY of the pending comparisons of `project` (an SQL expression) with a free
    slot that the user (the next two parameters) never had, in queue order, and `also`. The
    ORDER BY is the index annotation_queue_order's expression, its literal 0 included."""
    return f"""
    FROM {C} c
    WHERE c.project_id = {project} AND c.status = '{PENDING}' AND c.judged + c.leased < c.judgments_needed
      AND NOT EXISTS (SELECT 1 FROM {A} a WHERE a.comparison_id = c.id AND a.annotator_id = %s)
      AND NOT EXISTS (SELECT 1 FROM {J} j WHERE j.comparison_id = c.id AND j.annotator_id = %s){also}
    ORDER BY COALESCE(c.round_id, 0), c.id"""


def _in_project(judgment: str) -> str:
    """The judgment's comparison is in the project `p`, as a lookup per judgment: written as a
    join, SQLite without statistics drove the count from the project's comparisons, reading
    every one of a million to count a user's few judgments."""
    return f"(SELECT c.project_id FROM {C} c WHERE c.id = {judgment}.comparison_id) = p.id"


# The user (a parameter) holds a queue role in the project (a parameter); uncorrelated, so the
# database evaluates it once, not per candidate row.
_MAY_JUDGE = (
    f"EXISTS (SELECT 1 FROM {M} m WHERE m.project_id = %s AND m.user_id = %s AND m.role IN {QUEUE_ROLES_SQL})"
)


def _at(moment: datetime) -> Any:
    """A timestamp as the database driver takes it (SQLite stores text)."""
    return connection.ops.adapt_datetimefield_value(moment)


def project_with_queue_view(
    slug: str, user_id: int, now: datetime, today: datetime, cap: int
) -> Project | None:
    """The project by slug, with the user's role in it (`user_role`, NULL for a non-member) and
    QueueView columns (see services)."""
    rows = list(Project.objects.raw(*queue_view_sql(slug, user_id, now, today, cap)))
    return rows[0] if rows else None


def queue_view_sql(slug: str, user_id: int, now: datetime, today: datetime, cap: int) -> tuple[str, list]:
    """The statement of `project_with_queue_view` and its parameters (the plan tests read it)."""
    by_slug = f"(SELECT id FROM {P} WHERE slug = %s)"
    sql = f"""
        SELECT p.*,
          (SELECT m.role FROM {M} m WHERE m.project_id = p.id AND m.user_id = %s) AS user_role,
          (SELECT a.id FROM {A} a JOIN {C} c ON c.id = a.comparison_id
            WHERE a.annotator_id = %s AND a.completed IS NULL AND a.expires > %s
              AND c.project_id = p.id AND c.status <> '{RETIRED}'
            ORDER BY a.created, a.id LIMIT 1) AS queue_lease,
          EXISTS (SELECT 1 FROM {A} a WHERE a.completed IS NULL AND a.expires <= %s) AS queue_lapsed,
          (SELECT count(*) FROM {J} j WHERE j.annotator_id = %s AND j.created >= %s
            AND {_in_project("j")}) AS queue_today,
          EXISTS (SELECT 1 FROM {J} j WHERE j.annotator_id = %s AND {_in_project("j")}) AS queue_judged_before,
          (SELECT count(*) FROM (SELECT 1 {_candidates(by_slug)} LIMIT %s)
            left_for_them) AS queue_left
        FROM {P} p WHERE p.slug = %s"""
    stamp = _at(now)
    params = [user_id, user_id, stamp, stamp, user_id, _at(today), user_id, slug, user_id, user_id, cap, slug]
    return sql, params


@cache
def _take_sql(vendor: str, wait: bool) -> str:
    lock = ""
    if vendor == "postgresql":
        lock = " FOR UPDATE" if wait else " FOR UPDATE SKIP LOCKED"
    return f"""
        UPDATE {C} SET leased = leased + 1
        WHERE id = (SELECT c.id {_candidates("%s", f" AND (%s OR {_MAY_JUDGE})")} LIMIT 1{lock})
          AND status = '{PENDING}' AND judged + leased < judgments_needed
        RETURNING id"""


def take_sql_params(project_id: int, user_id: int, staff: bool) -> list[Any]:
    """The parameters of `_take_sql`, in order."""
    return [project_id, user_id, user_id, staff, project_id, user_id]


def take_slot(project_id: int, user_id: int, wait: bool, staff: bool = False) -> int | None:
    """Lock the first candidate and take one of its slots, in one statement; its id, or None.

    Only staff and members with a queue role (annotator, admin) get one: a viewer's or a
    non-member's request finds no candidate. `wait=False` skips rows other leasers hold
    (PostgreSQL); `wait=True` waits for the first one. Must run inside the transaction that
    then inserts the assignment.
    """
    with connection.cursor() as cursor:
        cursor.execute(_take_sql(connection.vendor, wait), take_sql_params(project_id, user_id, staff))
        row = cursor.fetchone()
    return row[0] if row else None


def lock_for_judging(
    assignment_id: int, user_id: int, project_slug: str | None, staff: bool
) -> Assignment | None:
    """The user's assignment with its comparison's counters, both rows locked (assignment first).

    Given a project slug, only an assignment of that project counts, and only while the user holds
    a queue role in it (annotator or admin) or is staff. The comparison comes back as a partial instance: id, status,
    judgments_needed, judged, leased: what judging changes.
    """
    where = ""
    params: list[Any] = [assignment_id, user_id]
    if project_slug is not None:
        where = f" AND c.project_id = (SELECT id FROM {P} WHERE slug = %s)"
        params.append(project_slug)
        if not staff:
            where += (
                f" AND EXISTS (SELECT 1 FROM {M} m WHERE m.project_id = c.project_id AND m.user_id = %s"
                f" AND m.role IN {QUEUE_ROLES_SQL})"
            )
            params.append(user_id)
    lock = " FOR UPDATE OF a, c" if connection.vendor == "postgresql" else ""
    sql = f"""
        SELECT a.*, c.status AS c_status, c.judgments_needed AS c_needed, c.judged AS c_judged,
               c.leased AS c_leased
        FROM {A} a JOIN {C} c ON c.id = a.comparison_id
        WHERE a.id = %s AND a.annotator_id = %s{where}{lock}"""
    rows = list(Assignment.objects.raw(sql, params))
    if not rows:
        return None
    assignment = rows[0]
    comparison = Comparison(
        id=assignment.comparison_id,
        status=assignment.c_status,
        judgments_needed=assignment.c_needed,
        judged=assignment.c_judged,
        leased=assignment.c_leased,
    )
    comparison._state.adding = False
    comparison._state.db = assignment._state.db
    assignment.comparison = comparison
    return assignment
