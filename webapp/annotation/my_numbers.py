"""An annotator's own numbers in one project: how much, how fast, and how often others agree.

Three queries whatever the number of judgments (counts; the median's middle rows; agreement), so
the stats page that shows them stays cheap; the annotate page links there rather than paying for
them on every judgment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, Q
from django.utils import timezone

from webapp.annotation.models import Judgment
from webapp.annotation.services import start_of_today
from webapp.projects.models import Project

PREFERENCES = (Judgment.Choice.A, Judgment.Choice.B)


@dataclass(frozen=True)
class MyNumbers:
    """What one annotator has done in a project."""

    today: int  # judgments since midnight (site time zone)
    this_week: int  # judgments since Monday midnight
    total: int
    timed: int  # judgments made on the page with a time measured (imports carry none)
    median_seconds: float | None  # over the timed ones; None when there are none
    shared: int  # their A/B judgments on comparisons someone else judged too
    pairs: int  # (their A/B judgment, another annotator's judgment of that comparison) pairs
    agreed: int  # of those pairs, the ones where both chose the same side

    @property
    def agreement(self) -> float | None:
        """The share of pairs that agree; None when nobody else judged what they judged."""
        return self.agreed / self.pairs if self.pairs else None

    @property
    def agreement_percent(self) -> int | None:
        return None if self.agreement is None else round(100 * self.agreement)


def start_of_week(now: datetime | None = None) -> datetime:
    """Monday midnight in the site's time zone: "this week" on the pages."""
    today = start_of_today(now)
    return today - timedelta(days=today.weekday())


def median_seconds(values_sorted_middle: list[float], count: int) -> float | None:
    """The median from the one or two middle values of `count` sorted values."""
    if count == 0:
        return None
    if count % 2:
        return float(values_sorted_middle[0])
    return (values_sorted_middle[0] + values_sorted_middle[1]) / 2


def my_numbers(project: Project, user: AbstractBaseUser, now: datetime | None = None) -> MyNumbers:
    """The annotator's numbers in `project` as of `now`.

    Agreement counts every pair of one of their A-or-B judgments with another annotator's judgment
    of the same comparison (ties and both-bad by others count as not matching): with overlap 3 a
    judgment that matches one of the two others scores 1 of 2.
    """
    now = now or timezone.now()
    mine = Judgment.objects.filter(comparison__project=project, annotator=user).order_by()
    timed_q = Q(source="", seconds_spent__gt=0)
    counts = mine.aggregate(
        total=Count("id"),
        today=Count("id", filter=Q(created__gte=start_of_today(now))),
        this_week=Count("id", filter=Q(created__gte=start_of_week(now))),
        timed=Count("id", filter=timed_q),
    )
    timed = counts["timed"]
    middle: list[float] = []
    if timed:
        start = (timed - 1) // 2
        middle = list(
            mine.filter(timed_q)
            .order_by("seconds_spent", "id")
            .values_list("seconds_spent", flat=True)[start : start + 2 - timed % 2]
        )
    # One row per (their judgment, another judgment of the same comparison): a self-join through
    # the comparison, read as three counts.
    pairs = (
        Judgment.objects.filter(comparison__project=project)
        .exclude(annotator=user)
        .filter(comparison__judgments__annotator=user, comparison__judgments__choice__in=PREFERENCES)
        .order_by()
        .aggregate(
            pairs=Count("id"),
            agreed=Count("id", filter=Q(choice=F("comparison__judgments__choice"))),
            shared=Count("comparison__judgments__id", distinct=True),
        )
    )
    return MyNumbers(
        today=counts["today"],
        this_week=counts["this_week"],
        total=counts["total"],
        timed=timed,
        median_seconds=median_seconds(middle, timed),
        shared=pairs["shared"],
        pairs=pairs["pairs"],
        agreed=pairs["agreed"],
    )
