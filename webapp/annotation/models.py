"""Comparisons, who is judging them, and the judgments themselves."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

# Queue order key: comparisons of no round (a project's first) come before every round's.
# SQLite indexes cannot say NULLS FIRST, so the index and the queue sort on this expression;
# the 0 is literal SQL, not a bound parameter, so that SQLite matches the ORDER BY to the index.
QUEUE_ROUND = Coalesce(F("round_id"), RawSQL("0", (), output_field=models.IntegerField()))


class Comparison(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        COMPLETE = "complete"
        RETIRED = "retired"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="comparisons")
    # The round whose generate stage made it; None for the first comparisons of a project.
    round = models.ForeignKey(
        "rounds.TrainingRound", null=True, blank=True, on_delete=models.SET_NULL, related_name="comparisons"
    )
    prompt = models.ForeignKey("catalog.Prompt", on_delete=models.CASCADE, related_name="comparisons")
    response_a = models.ForeignKey("catalog.Response", on_delete=models.CASCADE, related_name="+")
    response_b = models.ForeignKey("catalog.Response", on_delete=models.CASCADE, related_name="+")
    judgments_needed = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Slot counters, kept exact by `annotation.services` in the transaction that changes them
    # (under this row's lock), so that leasing reads two columns instead of counting rows:
    # `judged` = its judgments, `leased` = its assignments not yet closed (judged, skipped or
    # reclaimed after expiry). A comparison has a free slot while judged + leased < judgments_needed.
    judged = models.PositiveIntegerField(default=0)
    leased = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The queue in its order (the project's first comparisons, then oldest round first,
            # then id) after project and status: leasing reads the pending part from the front.
            # Not a partial index on status: SQLite cannot match one to a bound parameter.
            models.Index(F("project"), F("status"), QUEUE_ROUND, F("id"), name="annotation_queue_order"),
        ]

    def __str__(self) -> str:
        return f"comparison {self.pk}"


class Assignment(models.Model):
    """A lease of one comparison to one annotator, with the left/right order shown.

    Open while `completed` is None; closed when judged, skipped, or reclaimed after it expired
    (`outcome` says which). The row stays, so nobody is offered the same comparison twice.
    """

    class Outcome(models.TextChoices):
        OPEN = "", "open"
        JUDGED = "judged"
        SKIPPED = "skipped"
        EXPIRED = "expired"

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    swapped = models.BooleanField(help_text="True when response B was shown on the left.")
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField()
    completed = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.OPEN, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comparison", "annotator"], name="one_assignment_per_annotator")
        ]
        # Open leases are few (about one per active annotator): a user's own, and the expired
        # ones to reclaim, are found in this small index.
        indexes = [
            models.Index(
                fields=["annotator", "expires"],
                condition=Q(completed__isnull=True),
                name="annotation_open_leases",
            ),
            models.Index(
                fields=["expires"], condition=Q(completed__isnull=True), name="annotation_lease_expiry"
            ),
        ]


class Judgment(models.Model):
    class Choice(models.TextChoices):
        A = "a", "A is better"
        B = "b", "B is better"
        TIE = "tie", "Tie"
        BOTH_BAD = "both_bad", "Both bad"

    class Strength(models.IntegerChoices):
        SLIGHT = 1, "Slightly"
        CLEAR = 2, "Clearly"
        MUCH = 3, "Much"

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="judgments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="judgments"
    )
    # Always in terms of the stored response_a / response_b, whatever order was shown.
    choice = models.CharField(max_length=16, choices=Choice.choices)
    strength = models.PositiveSmallIntegerField(choices=Strength.choices, default=Strength.CLEAR)
    reason = models.TextField(blank=True)
    seconds_spent = models.FloatField(default=0)
    # Where the judgment was made: "" = judged here; an imported one holds "<format>:<file name>"
    # (e.g. "hh:harmless-base-test.jsonl.gz"), so exports can keep or drop outside data.
    source = models.CharField(max_length=200, blank=True, default="", db_index=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comparison", "annotator"], name="one_judgment_per_annotator")
        ]
        # An annotator's own counts on the annotate page (today, in all).
        indexes = [models.Index(fields=["annotator", "created"], name="annotation_judgments_mine")]
