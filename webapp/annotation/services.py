"""The annotation queue: leasing comparisons to annotators and storing their judgments.

Views, the API, management commands and tests all go through these functions, so the
queue's rules (overlap, never twice to the same person, shown order, leases) live here once.

Slots are counted, not recounted: each comparison carries `judged` and `leased`, changed only
here, in the transaction that adds the judgment or opens or closes the lease, under the
comparison's row lock. Leasing is then one read of the queue's index from the front
(`annotation_queue_order`, pending rows only) for the first comparison with a free slot that
this user never had, locked with `SELECT ... FOR UPDATE SKIP LOCKED`, so its cost does not grow
with the size of the queue or its history. A lease that runs out keeps its slot until it is
reclaimed: every lease request first closes the expired leases it finds (a small index: open
leases are about one per active annotator) and frees their slots.

Lock order, everywhere: the assignment, then its comparison. On SQLite the settings open every
transaction with BEGIN IMMEDIATE, which serialises writers.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Count, F, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from webapp.annotation import queue_sql
from webapp.annotation.models import QUEUE_ROUND, Assignment, Comparison, Judgment
from webapp.catalog.text import text_problem
from webapp.projects.models import Project

SHOWN_CHOICES: tuple[str, ...] = ("left", "right", "tie", "both_bad")
# How many times one request tries to lease before reporting the queue dry: a try fails only
# when the same user leased the same comparison from another tab at the same instant.
MAX_LEASE_ATTEMPTS = 5
# The annotate page counts what is left in a user's queue up to this many ("500+").
AVAILABLE_CAP = 500
# Expired leases reclaimed per request at most; the rest go with the next requests.
RECLAIM_BATCH = 200
_WITH_TEXTS = ("comparison__prompt", "comparison__response_a", "comparison__response_b")

_rng = random.SystemRandom()


class AnnotationError(Exception):
    """A request the queue refuses; the message is written for the annotator."""


class AlreadyJudged(AnnotationError):
    """This annotator has already judged this comparison; the first judgment stands."""


class NotYourAssignment(AnnotationError):
    """The assignment does not exist or belongs to someone else."""


class StaleAssignment(AnnotationError):
    """The lease ended before the judgment arrived: it expired, was skipped, or the comparison
    was withdrawn. The slot may already be someone else's, so nothing is stored."""


class InvalidJudgment(AnnotationError, ValueError):
    """A value that cannot be stored (unknown choice, strength out of range, bad time)."""


class InvalidReason(InvalidJudgment):
    """A reason that cannot be stored: NUL, a lone surrogate, or over the project's
    `max_reason_bytes`. `problem` says why, in words that follow the field's name."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"field 'reason': {problem}")
        self.problem = problem


# --- leasing ---------------------------------------------------------------------------------


def _lease_expiry(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.ASSIGNMENT_LEASE_SECONDS)


def _open_assignments(now: datetime) -> QuerySet[Assignment]:
    """Leases that still hold a slot: not closed and not expired."""
    return Assignment.objects.filter(completed__isnull=True, expires__gt=now)


def _own_lease(project: Project | OuterRef, user: AbstractBaseUser, now: datetime) -> Q:
    return Q(annotator=user, comparison__project=project, expires__gt=now) & ~Q(
        comparison__status=Comparison.Status.RETIRED
    )


def _candidates(project: Project | OuterRef, user: AbstractBaseUser) -> QuerySet[Comparison]:
    """Pending comparisons with a free slot that this user never had, in queue order."""
    return (
        Comparison.objects.filter(
            project=project, status=Comparison.Status.PENDING, judgments_needed__gt=F("judged") + F("leased")
        )
        .exclude(assignments__annotator=user)
        .exclude(judgments__annotator=user)
        .order_by(QUEUE_ROUND, "id")
    )


def reclaim_expired(now: datetime | None = None) -> int:
    """Close leases that ran out (up to RECLAIM_BATCH) and free their slots; how many.

    Rows another transaction holds are skipped (SKIP LOCKED): it is judging or closing them.
    """
    now = now or _now()
    with transaction.atomic():
        expired = Assignment.objects.filter(completed__isnull=True, expires__lte=now)
        rows = list(
            expired.select_for_update(skip_locked=True)
            .order_by("id")
            .values_list("pk", "comparison_id")[:RECLAIM_BATCH]
        )
        if not rows:
            return 0
        Assignment.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            completed=F("expires"), outcome=Assignment.Outcome.EXPIRED
        )
        freed: dict[int, int] = {}
        for _, comparison_id in rows:
            freed[comparison_id] = freed.get(comparison_id, 0) + 1
        for comparison_id in sorted(freed):
            Comparison.objects.filter(pk=comparison_id).update(leased=F("leased") - freed[comparison_id])
    return len(rows)


def current_assignment(
    project: Project, user: AbstractBaseUser, now: datetime | None = None
) -> Assignment | None:
    """The user's open lease in this project, so a page refresh shows the same pair, same order."""
    now = now or _now()
    return (
        Assignment.objects.filter(completed__isnull=True)
        .filter(_own_lease(project, user, now))
        .select_related(*_WITH_TEXTS)
        .order_by("created", "id")
        .first()
    )


@dataclass(frozen=True)
class QueueView:
    """What the annotate page knows before it leases, read with the project in one query."""

    lease_id: int | None  # the user's open lease in this project (the oldest)
    lapsed: bool  # some lease, anywhere, ran out and still holds its slot
    today: int  # the user's judgments in this project since midnight
    judged_before: bool  # in this project, ever: the page opens the guidelines for a newcomer
    left: int  # comparisons the queue could still give them, not counting an open lease, up to AVAILABLE_CAP


def queue_project(slug: str, user: AbstractBaseUser, now: datetime | None = None) -> Project | None:
    """The project by slug, read with the user's role in it and QueueView in one query."""
    now = now or _now()
    return queue_sql.project_with_queue_view(slug, user.pk, now, start_of_today(now), AVAILABLE_CAP)


def queue_view(project: Project, user: AbstractBaseUser, now: datetime | None = None) -> QueueView:
    """The QueueView read with the project by `queue_project`, or read now (one query)."""
    if not hasattr(project, "queue_lapsed"):
        project = queue_project(project.slug, user, now)
    return QueueView(
        lease_id=project.queue_lease,
        lapsed=bool(project.queue_lapsed),
        today=project.queue_today or 0,
        judged_before=bool(project.queue_judged_before),
        left=project.queue_left or 0,
    )


def next_assignment(
    project: Project, user: AbstractBaseUser, now: datetime | None = None, view: QueueView | None = None
) -> Assignment | None:
    """The comparison this user should judge next, leased to them; None when the queue is dry.

    Returns the user's open lease if there is one. Otherwise leases the first pending
    comparison with a free slot that the user was never assigned, with a random left/right order.
    Only staff and the project's annotators and admins are leased one (viewers and non-members
    get None). Leases that ran out are reclaimed first, so their slots count as free.
    """
    now = now or _now()
    view = view or queue_view(project, user, now)
    if view.lapsed:
        reclaim_expired(now=now)
    if view.lease_id is not None:
        return Assignment.objects.select_related(*_WITH_TEXTS).get(pk=view.lease_id)
    for _ in range(MAX_LEASE_ATTEMPTS):
        try:
            return _lease(project, user, now)
        except IntegrityError:
            # The same user leased the same comparison from another tab a moment ago (PostgreSQL:
            # both read the queue before either committed). The whole transaction rolled back.
            own = current_assignment(project, user, now)
            if own is not None:
                return own
    return None


def _lease(project: Project, user: AbstractBaseUser, now: datetime) -> Assignment | None:
    # Every candidate may be locked by a concurrent leaser (SKIP LOCKED): then, on PostgreSQL, wait
    # for the first one's lock, held for the milliseconds of one leasing transaction, and take it
    # if it still has a slot. Waiting beats telling an annotator there is no work. The wait runs in
    # a transaction of its own: a row that the skipping try locked but found full stays locked
    # until its transaction ends, and waiting while holding it, out of queue order, deadlocked
    # leasers against each other (tests/annotation/test_queue_concurrency_postgres.py).
    tries = (False, True) if connection.vendor == "postgresql" else (False,)
    for wait in tries:
        with transaction.atomic():
            comparison_id = queue_sql.take_slot(project.pk, user.pk, wait=wait, staff=user.is_staff)
            if comparison_id is None:
                continue
            lease = Assignment.objects.create(
                comparison_id=comparison_id,
                annotator=user,
                swapped=_rng.random() < 0.5,
                expires=_lease_expiry(now),
            )
        return Assignment.objects.select_related(*_WITH_TEXTS).get(pk=lease.pk)
    return None


def _now() -> datetime:
    return timezone.now()


# --- judging ---------------------------------------------------------------------------------


def stored_choice(shown_choice: str, swapped: bool) -> str:
    """Map a choice made on screen (left/right) to the stored order (a/b)."""
    if shown_choice == "left":
        return Judgment.Choice.B if swapped else Judgment.Choice.A
    if shown_choice == "right":
        return Judgment.Choice.A if swapped else Judgment.Choice.B
    if shown_choice == "tie":
        return Judgment.Choice.TIE
    if shown_choice == "both_bad":
        return Judgment.Choice.BOTH_BAD
    raise InvalidJudgment(f"unknown choice {shown_choice!r}; expected one of {', '.join(SHOWN_CHOICES)}")


def _validate(strength: int, seconds_spent: float | None) -> None:
    if strength not in Judgment.Strength.values:
        raise InvalidJudgment(f"strength must be 1, 2 or 3, not {strength!r}")
    if seconds_spent is not None and (not math.isfinite(seconds_spent) or seconds_spent < 0):
        raise InvalidJudgment(f"seconds spent must be a finite number >= 0, not {seconds_spent!r}")


def _checked_reason(reason: str, max_bytes: int | None) -> str:
    """The reason as stored (stripped), or InvalidReason; `max_bytes` None: no project found (the
    lock then refuses the assignment), so only storability is checked."""
    reason = reason.strip()
    problem = text_problem(reason, max_bytes)
    if problem:
        raise InvalidReason(problem)
    return reason


def _reason_limit(assignment_id: int) -> int | None:
    """The max_reason_bytes of the assignment's project (one indexed query), or None."""
    return (
        Project.objects.filter(comparisons__assignments=assignment_id)
        .values_list("max_reason_bytes", flat=True)
        .first()
    )


def _count_judgment(comparison: Comparison) -> None:
    """One more judgment on a locked comparison: complete once it has its judgments."""
    comparison.judged += 1
    fields = ["judged", "leased"]
    if comparison.status == Comparison.Status.PENDING and comparison.judged >= comparison.judgments_needed:
        comparison.status = Comparison.Status.COMPLETE
        fields.append("status")
    comparison.save(update_fields=fields)


def submit_judgment(
    assignment_id: int,
    user: AbstractBaseUser,
    shown_choice: str,
    strength: int = Judgment.Strength.CLEAR,
    reason: str = "",
    seconds_spent: float | None = None,
    now: datetime | None = None,
    project_slug: str | None = None,
) -> Judgment:
    """Store the user's judgment of an assigned comparison, in stored (A/B) terms.

    Only an open lease is honoured: a foreign or unknown assignment (or, given `project_slug`,
    one of another project or of a project where the user is no longer an annotator or admin)
    raises NotYourAssignment, an expired, skipped or withdrawn one
    StaleAssignment (its slot may have gone to someone else, so storing it would over-fill the
    comparison), and a second judgment of the same comparison AlreadyJudged. Each stores nothing.
    A reason over the project's `max_reason_bytes` (or with NUL) raises InvalidReason before
    any lock. `seconds_spent=None` (no JavaScript) falls back to the time since the lease was made.
    """
    _validate(strength, seconds_spent)
    stored_choice(shown_choice, False)  # an unknown choice fails before any query
    reason = _checked_reason(reason, None)  # NUL and surrogates before any query
    if reason:
        reason = _checked_reason(reason, _reason_limit(assignment_id))
    try:
        with transaction.atomic():
            # Both rows locked in one statement (assignment, then comparison: the lock order).
            assignment = queue_sql.lock_for_judging(assignment_id, user.pk, project_slug, staff=user.is_staff)
            if assignment is None:
                raise NotYourAssignment("this comparison was not assigned to you")
            comparison = assignment.comparison
            # The lease is checked at the time the locks are held: a submit that waited for them
            # while its lease ran out must not fill a slot another annotator has leased since.
            now = now or _now()
            if assignment.outcome == Assignment.Outcome.JUDGED:
                raise AlreadyJudged("you have already judged this comparison")
            _check_open(assignment, comparison, now)
            if seconds_spent is None:
                seconds_spent = max(0.0, (now - assignment.created).total_seconds())
            judgment = Judgment.objects.create(
                comparison=comparison,
                annotator=user,
                choice=stored_choice(shown_choice, assignment.swapped),
                strength=strength,
                reason=reason,
                seconds_spent=seconds_spent,
            )
            assignment.completed = now
            assignment.outcome = Assignment.Outcome.JUDGED
            assignment.save(update_fields=["completed", "outcome"])
            comparison.leased -= 1
            _count_judgment(comparison)
    except IntegrityError as exc:
        # A judgment of this comparison by this user that came another way (an import).
        raise AlreadyJudged("you have already judged this comparison") from exc
    return judgment


def add_judgment(
    comparison: Comparison,
    annotator: AbstractBaseUser,
    choice: str,
    strength: int = Judgment.Strength.CLEAR,
    reason: str = "",
    seconds_spent: float = 0.0,
) -> Judgment:
    """Store a judgment made outside the queue (imports, fixtures), in stored (A/B) terms.

    Keeps the slot counters exact: the annotator's open lease on it, if any, is closed as judged.
    The reason is held to the project's `max_reason_bytes` like a submitted one.
    """
    if choice not in Judgment.Choice.values:
        raise InvalidJudgment(
            f"unknown choice {choice!r}; expected one of {', '.join(Judgment.Choice.values)}"
        )
    _validate(strength, seconds_spent)
    max_bytes = Project.objects.values_list("max_reason_bytes", flat=True).get(pk=comparison.project_id)
    reason = _checked_reason(reason, max_bytes)
    with transaction.atomic():
        lease = (
            Assignment.objects.select_for_update()
            .filter(comparison=comparison, annotator=annotator, completed__isnull=True)
            .first()
        )
        locked = Comparison.objects.select_for_update().get(pk=comparison.pk)
        judgment = Judgment.objects.create(
            comparison=locked,
            annotator=annotator,
            choice=choice,
            strength=strength,
            reason=reason,
            seconds_spent=seconds_spent,
        )
        if lease is not None:
            lease.completed = _now()
            lease.outcome = Assignment.Outcome.JUDGED
            lease.save(update_fields=["completed", "outcome"])
            locked.leased -= 1
        _count_judgment(locked)
    comparison.refresh_from_db()
    return judgment


def _check_open(assignment: Assignment, comparison: Comparison, now: datetime) -> None:
    if comparison.status == Comparison.Status.RETIRED:
        raise StaleAssignment("this comparison was withdrawn from the queue while you judged it")
    if assignment.outcome == Assignment.Outcome.SKIPPED:
        raise StaleAssignment("you skipped this comparison, so it is no longer yours to judge")
    if assignment.completed is not None or assignment.expires <= now:
        minutes = max(1, round(settings.ASSIGNMENT_LEASE_SECONDS / 60))
        raise StaleAssignment(
            f"your time on this comparison ran out (a lease lasts {minutes} min) and it may have gone "
            "to someone else"
        )


def skip_assignment(assignment_id: int, user: AbstractBaseUser, now: datetime | None = None) -> None:
    """Give a comparison back without judging it: the slot frees for others, never offered again.

    The lease is closed as skipped, so the unique assignment row keeps the comparison out of
    this user's queue while other annotators can take the slot.
    """
    now = now or _now()
    with transaction.atomic():
        lease = Assignment.objects.select_for_update().filter(pk=assignment_id, annotator=user).first()
        if lease is None:
            raise NotYourAssignment("this comparison was not assigned to you")
        if lease.completed is not None:
            return  # already judged, skipped or reclaimed: nothing holds a slot any more
        lease.completed = lease.expires = now
        lease.outcome = Assignment.Outcome.SKIPPED
        lease.save(update_fields=["completed", "expires", "outcome"])
        Comparison.objects.filter(pk=lease.comparison_id).update(leased=F("leased") - 1)


# --- reading ---------------------------------------------------------------------------------


def start_of_today(now: datetime | None = None) -> datetime:
    """Midnight in the site's time zone; "today" on the pages means this."""
    local = timezone.localtime(now or timezone.now())
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Progress:
    """An annotator's own numbers on the annotate page."""

    today: int
    judged_before: bool
    available: int  # what the queue could still give them, their open lease included, up to the cap
    capped: bool  # True when there are AVAILABLE_CAP or more ("500+")


def progress(view: QueueView) -> Progress:
    """The annotate page's numbers, from the QueueView read before leasing.

    Leasing moves one comparison from "left" to the user's lease, so what they see is the same
    before and after: what was left, plus the lease they already held.
    """
    available = view.left + (1 if view.lease_id is not None else 0)
    return Progress(
        today=view.today,
        judged_before=view.judged_before,
        available=min(available, AVAILABLE_CAP),
        capped=available >= AVAILABLE_CAP,
    )


def available_count(project: Project, user: AbstractBaseUser, now: datetime | None = None) -> int:
    """How many comparisons the queue could still give this user (their open lease included), exactly."""
    now = now or timezone.now()
    open_own = 1 if current_assignment(project, user, now) is not None else 0
    return _candidates(project, user).count() + open_own


def queue_stats(
    project: Project, user: AbstractBaseUser | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Queue state for the project and annotate pages.

    Keys: pending, complete, retired, open_leases, judgments, judgments_today,
    annotators (list of {annotator, judgments, today}), and, given a user,
    user_today, user_total and user_available.
    """
    now = now or timezone.now()
    today = start_of_today(now)
    by_status = dict(
        Comparison.objects.filter(project=project)
        .order_by()
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    judgments = Judgment.objects.filter(comparison__project=project)
    per_annotator = (
        judgments.order_by()
        .values("annotator__username")
        .annotate(judgments=Count("id"), today=Count("id", filter=Q(created__gte=today)))
        .order_by("-judgments", "annotator__username")
    )
    stats: dict[str, Any] = {
        "pending": by_status.get(Comparison.Status.PENDING, 0),
        "complete": by_status.get(Comparison.Status.COMPLETE, 0),
        "retired": by_status.get(Comparison.Status.RETIRED, 0),
        "open_leases": _open_assignments(now).filter(comparison__project=project).count(),
        "judgments": judgments.count(),
        "judgments_today": judgments.filter(created__gte=today).count(),
        "annotators": [
            {"annotator": row["annotator__username"], "judgments": row["judgments"], "today": row["today"]}
            for row in per_annotator
        ],
    }
    if user is not None and user.is_authenticated:
        mine = judgments.filter(annotator=user)
        stats["user_today"] = mine.filter(created__gte=today).count()
        stats["user_total"] = mine.count()
        stats["user_available"] = available_count(project, user, now)
    return stats


# Ordinal coding of a judgment for agreement: which side and how strongly (A negative).
_SIGNED = {Judgment.Choice.A: -1, Judgment.Choice.B: 1, Judgment.Choice.TIE: 0}
_NOMINAL = {c: i for i, c in enumerate(Judgment.Choice.values)}
SIGNED_DOMAIN = (-3, -2, -1, 0, 1, 2, 3)  # A much better ... tie ... B much better


def alpha_from_counts(value_counts: Any, domain: Any, level: str) -> float | None:
    """Krippendorff's alpha from per-unit value counts (units x values), nominal or interval;
    None where undefined (fewer than two values used, no unit with two values, no variation).

    The formula krippendorff.alpha(value_counts=...) computes (tests/annotation/test_queue_stats.py
    checks the two agree), over the distinct rows of counts, each weighted by how often it occurs:
    the library builds a units x values x values array (600 MB at 500k comparisons and 7 values),
    while a fixed-overlap queue has a few dozen distinct rows."""
    import numpy as np

    counts = np.asarray(value_counts, dtype=np.int64)
    used = counts.sum(axis=0) > 0  # the values that occur, as a reliability matrix has them
    counts, values = counts[:, used], np.asarray(domain, dtype=np.float64)[used]
    counts = counts[counts.sum(axis=1) >= 2]
    if len(values) < 2 or not len(counts):
        return None
    base = int(counts.max()) + 1
    if base ** len(values) < 2**62:  # each row as one integer: a 1-D unique is 50x faster
        keys = counts @ (base ** np.arange(len(values), dtype=np.int64))
        _, first, weights = np.unique(keys, return_index=True, return_counts=True)
        rows = counts[first]
    else:
        rows, weights = np.unique(counts, axis=0, return_counts=True)
    pairable = rows.sum(axis=1).astype(np.float64)
    outer = rows[:, :, None] * rows[:, None, :] - rows[:, None, :] * np.eye(len(values))[None]
    observed = np.einsum("p,pij->ij", weights / (pairable - 1), outer)
    n_v = observed.sum(axis=0)
    expected = (np.outer(n_v, n_v) - np.diag(n_v)) / (n_v.sum() - 1)
    if level == "nominal":
        distance = 1.0 - np.eye(len(values))
    elif level == "interval":
        distance = (values[:, None] - values[None, :]) ** 2
    else:
        raise ValueError(f"unknown level of measurement {level!r}")
    disagreement = (expected * distance).sum()
    if disagreement == 0:
        return None
    value = float(1.0 - (observed * distance).sum() / disagreement)
    return value if math.isfinite(value) else None


def agreement(project: Project) -> dict[str, Any]:
    """Inter-annotator agreement over comparisons with two or more judgments.

    Krippendorff's alpha handles any number of annotators per item and missing cells, which
    a fixed-overlap queue with skips and late submissions produces. Two codings:
    nominal over the four choices, and interval over signed strength (A much better = -3 ...
    B much better = +3, tie = 0, both-bad left out). Alpha is None where undefined (too few
    items, or every judgment identical). `pairwise` is the plain share of agreeing pairs.

    Judgments come as plain integer rows (comparison, annotator, choice code) and are counted by
    value per comparison with numpy; alpha is computed from those value counts (alpha_from_counts),
    so memory grows with comparisons x values, not annotators x comparisons (1M judgments: 9 s
    and 1.3 GB before).
    """
    import numpy as np

    choices = Judgment.Choice.values
    code = Case(
        *(When(choice=c, then=Value(i * 4)) for i, c in enumerate(choices)),
        default=Value(3 * 4),
        output_field=IntegerField(),
    )
    rows = (
        Judgment.objects.filter(comparison__project=project)
        .order_by()
        .annotate(code=code + F("strength"))
        .values_list("comparison_id", "annotator_id", "code")
    )
    sql, params = rows.query.sql_with_params()
    blocks = []
    with connection.cursor() as cursor:  # plain rows: no ORM converters per row
        cursor.execute(sql, params)
        while block := cursor.fetchmany(50_000):
            blocks.append(np.array(block, dtype=np.int64))
    data = np.concatenate(blocks) if blocks else np.zeros((0, 3), dtype=np.int64)
    units, unit_of = np.unique(data[:, 0], return_inverse=True)
    per_unit = np.bincount(unit_of, minlength=len(units))
    multi = per_unit[unit_of] >= 2
    data, unit_of = data[multi], unit_of[multi]
    kept, unit_of = np.unique(unit_of, return_inverse=True)
    choice, strength = data[:, 2] // 4, data[:, 2] % 4
    nominal = np.zeros((len(kept), len(choices)), dtype=np.int64)
    np.add.at(nominal, (unit_of, choice), 1)
    signed_value = np.where(choice == _NOMINAL[Judgment.Choice.A], -strength, strength)
    signed_value[choice == _NOMINAL[Judgment.Choice.TIE]] = 0
    pairable = choice != _NOMINAL[Judgment.Choice.BOTH_BAD]
    signed = np.zeros((len(kept), len(SIGNED_DOMAIN)), dtype=np.int64)
    np.add.at(signed, (unit_of[pairable], signed_value[pairable] + 3), 1)
    result: dict[str, Any] = {
        "comparisons": int(len(kept)),
        "judgments": int(len(data)),
        "annotators": int(len(np.unique(data[:, 1]))),
        "alpha_nominal": None,
        "alpha_signed": None,
        "pairwise": None,
    }
    if len(kept) < 2:
        return result

    result["alpha_nominal"] = alpha_from_counts(nominal, np.arange(len(choices)), "nominal")
    result["alpha_signed"] = alpha_from_counts(signed, np.array(SIGNED_DOMAIN), "interval")
    n = nominal.sum(axis=1)
    agree = int((nominal * (nominal - 1) // 2).sum())
    total = int((n * (n - 1) // 2).sum())
    result["pairwise"] = agree / total if total else None
    return result
