"""Comparisons, who is judging them, and the judgments themselves."""

from __future__ import annotations

from django.conf import settings
from django.db import models


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
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["project", "status", "id"])]

    def __str__(self) -> str:
        return f"comparison {self.pk}"


class Assignment(models.Model):
    """A lease of one comparison to one annotator, with the left/right order shown."""

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    swapped = models.BooleanField(help_text="True when response B was shown on the left.")
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField()
    completed = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comparison", "annotator"], name="one_assignment_per_annotator")
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
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comparison", "annotator"], name="one_judgment_per_annotator")
        ]
