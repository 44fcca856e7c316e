"""The annotation queue: leasing comparisons to annotators and storing their judgments.

Views, the API, management commands and tests all go through these functions, so the
queue's rules (overlap, never twice to the same person, shown order, leases) live here once.

Concurrency: leasing happens inside `transaction.atomic()`. On PostgreSQL the candidate
comparison row is locked with `SELECT ... FOR UPDATE SKIP LOCKED` and its free slots are
recounted by a fresh statement once the lock is held (READ COMMITTED gives each statement a
new snapshot, so the recount sees every lease committed by whoever held the lock before).
On SQLite the settings open every transaction with BEGIN IMMEDIATE, which serialises writers.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from webapp.annotation.models import Assignment, Comparison, Judgment
from webapp.projects.models import Project

SHOWN_CHOICES: tuple[str, ...] = ("left", "right", "tie", "both_bad")
# A lease candidate can be lost to a concurrent leaser between the filter and the lock; how
# many candidates one call tries before giving up (each retry is one indexed query).
MAX_LEASE_ATTEMPTS = 20

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


# --- leasing ---------------------------------------------------------------------------------


def _lease_expiry(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.ASSIGNMENT_LEASE_SECONDS)


def _open_assignments(now: datetime) -> QuerySet[Assignment]:
    """Leases that still hold a slot: not completed and not expired."""
    return Assignment.objects.filter(completed__isnull=True, expires__gt=now)


def _unjudged_leases(now: datetime) -> QuerySet[Assignment]:
    """Open leases whose holder has not judged yet (a stored judgment counts once, as itself)."""
    own_judgment = Judgment.objects.filter(comparison=OuterRef("comparison"), annotator=OuterRef("annotator"))
    return _open_assignments(now).filter(~Exists(own_judgment))


def _taken_slots(comparison_ids: Any, now: datetime) -> tuple[Subquery, Subquery]:
    """Correlated counts of judgments and open leases, as subqueries.

    Subqueries rather than joins + GROUP BY because PostgreSQL refuses FOR UPDATE with
    GROUP BY, and joins would multiply rows.
    """
    judged = (
        Judgment.objects.filter(comparison=comparison_ids)
        .order_by()
        .values("comparison")
        .annotate(n=Count("id"))
        .values("n")
    )
    leased = (
        _unjudged_leases(now)
        .filter(comparison=comparison_ids)
        .order_by()
        .values("comparison")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        Subquery(judged, output_field=IntegerField()),
        Subquery(leased, output_field=IntegerField()),
    )


def _candidates(project: Project, user: AbstractBaseUser, now: datetime) -> QuerySet[Comparison]:
    """Pending comparisons this user may be given now, in queue order (oldest round, lowest id)."""
    judged, leased = _taken_slots(OuterRef("pk"), now)
    return (
        Comparison.objects.filter(project=project, status=Comparison.Status.PENDING)
        .exclude(assignments__annotator=user)
        .exclude(judgments__annotator=user)
        .alias(
            n_judged=Coalesce(judged, Value(0)),
            n_leased=Coalesce(leased, Value(0)),
        )
        .filter(judgments_needed__gt=F("n_judged") + F("n_leased"))
        .order_by(F("round_id").asc(nulls_first=True), "id")
    )


def _free_slots(comparison: Comparison, now: datetime) -> int:
    """Slots left, counted by fresh statements (0 once the comparison is no longer pending)."""
    if not Comparison.objects.filter(pk=comparison.pk, status=Comparison.Status.PENDING).exists():
        return 0
    judged = Judgment.objects.filter(comparison=comparison).count()
    leased = _unjudged_leases(now).filter(comparison=comparison).count()
    return comparison.judgments_needed - judged - leased


def current_assignment(
    project: Project, user: AbstractBaseUser, now: datetime | None = None
) -> Assignment | None:
    """The user's open lease in this project, so a page refresh shows the same pair, same order."""
    now = now or timezone.now()
    return (
        _open_assignments(now)
        .filter(annotator=user, comparison__project=project)
        .exclude(comparison__status=Comparison.Status.RETIRED)
        .exclude(comparison__judgments__annotator=user)
        .select_related("comparison__prompt", "comparison__response_a", "comparison__response_b")
        .order_by("created", "id")
        .first()
    )


def next_assignment(
    project: Project, user: AbstractBaseUser, now: datetime | None = None
) -> Assignment | None:
    """The comparison this user should judge next, leased to them; None when the queue is dry.

    Returns the user's open lease if there is one. Otherwise leases the first pending
    comparison the user was never assigned and that still has a free slot (judgments plus
    other people's open leases below `judgments_needed`), with a random left/right order.
    """
    now = now or timezone.now()
    tried: list[int] = []  # candidates found full once locked, or leased by this user elsewhere
    for _ in range(MAX_LEASE_ATTEMPTS):
        outcome = _try_lease(project, user, now, tried)
        if outcome is _RETRY:
            continue
        if outcome is None:
            return None
        return Assignment.objects.select_related(
            "comparison__prompt", "comparison__response_a", "comparison__response_b"
        ).get(pk=outcome.pk)
    return None


_RETRY = object()


def _try_lease(project: Project, user: AbstractBaseUser, now: datetime, tried: list[int]) -> Any:
    """One leasing transaction: the new (or already open) Assignment, None (queue dry) or _RETRY."""
    with transaction.atomic():
        # Inside the transaction: on SQLite this makes two tabs of one user serialise too.
        existing = current_assignment(project, user, now)
        if existing is not None:
            return existing
        candidates = _candidates(project, user, now).exclude(pk__in=tried)
        comparison = candidates.select_for_update(skip_locked=True, of=("self",)).first()
        if comparison is None:
            # Either the queue is dry, or every candidate is locked by a concurrent leaser
            # (PostgreSQL, SKIP LOCKED). Then wait for the first one's lock: it is held for the
            # milliseconds of one leasing transaction, and waiting beats reporting an empty queue.
            comparison = candidates.select_for_update(of=("self",)).first()
            if comparison is None:
                return None
        # The lock is held now; recount with a fresh snapshot (see module docstring).
        if _free_slots(comparison, now) <= 0:
            tried.append(comparison.pk)
            return _RETRY
        try:
            with transaction.atomic():  # savepoint: a duplicate must not poison the outer transaction
                return Assignment.objects.create(
                    comparison=comparison,
                    annotator=user,
                    swapped=_rng.random() < 0.5,
                    expires=_lease_expiry(now),
                )
        except IntegrityError:
            # The same user leased it from another tab a moment ago.
            tried.append(comparison.pk)
            return _RETRY


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


def submit_judgment(
    assignment_id: int,
    user: AbstractBaseUser,
    shown_choice: str,
    strength: int = Judgment.Strength.CLEAR,
    reason: str = "",
    seconds_spent: float | None = None,
    now: datetime | None = None,
) -> Judgment:
    """Store the user's judgment of an assigned comparison, in stored (A/B) terms.

    Only an open lease is honoured: a foreign or unknown assignment raises NotYourAssignment,
    an expired, skipped or withdrawn one StaleAssignment (its slot may have gone to someone
    else, so storing it would over-fill the comparison), and a second judgment of the same
    comparison AlreadyJudged. Each of these stores nothing.
    `seconds_spent=None` (no JavaScript) falls back to the time since the lease was made.
    """
    _validate(strength, seconds_spent)
    with transaction.atomic():
        assignment = Assignment.objects.select_for_update().filter(pk=assignment_id, annotator=user).first()
        if assignment is None:
            raise NotYourAssignment("this comparison was not assigned to you")
        # Lock the comparison: concurrent judges must agree on when it becomes complete.
        comparison = Comparison.objects.select_for_update().get(pk=assignment.comparison_id)
        # The lease is checked at the time the locks are held: a submit that waited for them
        # while its lease ran out must not fill a slot another annotator has leased since.
        now = now or timezone.now()
        if Judgment.objects.filter(comparison=comparison, annotator=user).exists():
            raise AlreadyJudged("you have already judged this comparison")
        _check_open(assignment, comparison, now)
        if seconds_spent is None:
            seconds_spent = max(0.0, (now - assignment.created).total_seconds())
        try:
            with transaction.atomic():
                judgment = Judgment.objects.create(
                    comparison=comparison,
                    annotator=user,
                    choice=stored_choice(shown_choice, assignment.swapped),
                    strength=strength,
                    reason=reason.strip(),
                    seconds_spent=seconds_spent,
                )
        except IntegrityError as exc:  # a concurrent double submit that slipped past the check
            raise AlreadyJudged("you have already judged this comparison") from exc
        assignment.completed = now
        assignment.save(update_fields=["completed"])
        if (
            comparison.status == Comparison.Status.PENDING
            and Judgment.objects.filter(comparison=comparison).count() >= comparison.judgments_needed
        ):
            comparison.status = Comparison.Status.COMPLETE
            comparison.save(update_fields=["status"])
    return judgment


def _check_open(assignment: Assignment, comparison: Comparison, now: datetime) -> None:
    if comparison.status == Comparison.Status.RETIRED:
        raise StaleAssignment("this comparison was withdrawn from the queue while you judged it")
    if assignment.completed is not None:
        raise StaleAssignment("you skipped this comparison, so it is no longer yours to judge")
    if assignment.expires <= now:
        minutes = max(1, round(settings.ASSIGNMENT_LEASE_SECONDS / 60))
        raise StaleAssignment(
            f"your time on this comparison ran out (a lease lasts {minutes} min) and it may have gone "
            "to someone else"
        )


def skip_assignment(assignment_id: int, user: AbstractBaseUser, now: datetime | None = None) -> None:
    """Give a comparison back without judging it: the slot frees for others, never offered again.

    The lease is closed (completed with no judgment), so the unique assignment row keeps the
    comparison out of this user's queue while other annotators can take the slot.
    """
    now = now or timezone.now()
    with transaction.atomic():
        updated = Assignment.objects.filter(pk=assignment_id, annotator=user, completed__isnull=True).update(
            completed=now, expires=now
        )
        if not updated and not Assignment.objects.filter(pk=assignment_id, annotator=user).exists():
            raise NotYourAssignment("this comparison was not assigned to you")


# --- reading ---------------------------------------------------------------------------------


def start_of_today(now: datetime | None = None) -> datetime:
    """Midnight in the site's time zone; "today" on the pages means this."""
    local = timezone.localtime(now or timezone.now())
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def available_count(project: Project, user: AbstractBaseUser, now: datetime | None = None) -> int:
    """How many comparisons the queue could still give this user (their open lease included)."""
    now = now or timezone.now()
    open_own = 1 if current_assignment(project, user, now) is not None else 0
    return _candidates(project, user, now).count() + open_own


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


def agreement(project: Project) -> dict[str, Any]:
    """Inter-annotator agreement over comparisons with two or more judgments.

    Krippendorff's alpha handles any number of annotators per item and missing cells, which
    a fixed-overlap queue with skips and late submissions produces. Two codings:
    nominal over the four choices, and interval over signed strength (A much better = -3 ...
    B much better = +3, tie = 0, both-bad left out). Alpha is None where undefined (too few
    items, or every judgment identical). `pairwise` is the plain share of agreeing pairs.
    """
    import krippendorff
    import numpy as np

    multi = (
        Comparison.objects.filter(project=project)
        .annotate(n=Count("judgments"))
        .filter(n__gte=2)
        .values_list("id", flat=True)
    )
    rows = list(
        Judgment.objects.filter(comparison__in=Subquery(multi)).values_list(
            "comparison_id", "annotator_id", "choice", "strength"
        )
    )
    units = sorted({r[0] for r in rows})
    coders = sorted({r[1] for r in rows})
    result: dict[str, Any] = {
        "comparisons": len(units),
        "judgments": len(rows),
        "annotators": len(coders),
        "alpha_nominal": None,
        "alpha_signed": None,
        "pairwise": None,
    }
    if len(units) < 2:
        return result
    unit_index = {u: i for i, u in enumerate(units)}
    coder_index = {c: i for i, c in enumerate(coders)}
    nominal = np.full((len(coders), len(units)), np.nan)
    signed = np.full((len(coders), len(units)), np.nan)
    by_unit: dict[int, list[str]] = {}
    for comparison_id, annotator_id, choice, strength in rows:
        i, j = coder_index[annotator_id], unit_index[comparison_id]
        nominal[i, j] = _NOMINAL[choice]
        if choice in _SIGNED:
            signed[i, j] = _SIGNED[choice] * (strength if choice != Judgment.Choice.TIE else 0)
        by_unit.setdefault(comparison_id, []).append(choice)

    def _alpha(data: Any, level: str) -> float | None:
        try:
            value = float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
        except (ValueError, ZeroDivisionError):
            return None
        return value if math.isfinite(value) else None

    result["alpha_nominal"] = _alpha(nominal, "nominal")
    result["alpha_signed"] = _alpha(signed, "interval")
    agree = total = 0
    for choices in by_unit.values():
        for x in range(len(choices)):
            for y in range(x + 1, len(choices)):
                total += 1
                agree += choices[x] == choices[y]
    result["pairwise"] = agree / total if total else None
    return result
