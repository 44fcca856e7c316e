"""A training round: snapshot -> sft -> reward -> policy -> evaluate -> deploy -> generate."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TrainingRound(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued"
        SNAPSHOT = "snapshot"
        SFT = "sft", "SFT"
        REWARD = "reward"
        POLICY = "policy"
        EVALUATE = "evaluate"
        DEPLOY = "deploy"
        GENERATE = "generate"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    # The states a round ends in; any other state is an active round (the one definition).
    FINISHED = frozenset({State.DONE, State.FAILED, State.CANCELLED})

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="rounds")
    number = models.PositiveIntegerField()
    # Changed only by rounds.state_machine.
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    config = models.JSONField(default=dict, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    dataset_path = models.CharField(max_length=1000, blank=True)
    dataset_sha256 = models.CharField(max_length=64, blank=True)
    dataset_counts = models.JSONField(default=dict, blank=True)
    reward_model_path = models.CharField(max_length=1000, blank=True)
    # The SFT stage's policy (a checkpoint in the round's directory, no version of its own): where
    # the reward model and the policy update start. Blank when the stage was skipped.
    sft_policy_path = models.CharField(max_length=1000, blank=True)
    policy_in = models.ForeignKey(
        "catalog.PolicyVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    policy_out = models.ForeignKey(
        "catalog.PolicyVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # {"stage": str, "done": int, "total": int, "message": str}
    progress = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    # {state: ISO time the round entered it}, written by rounds.state_machine: stage durations.
    timeline = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # Recovery (rounds.state_machine): which try of the current stage this is; the running stage's
    # last sign of life (a queued round: when it was last sent); who runs it ("host:pid:start", or
    # a claim by recovery); the stage the round was in when it failed or was cancelled (retry).
    attempt = models.PositiveIntegerField(default=0)
    heartbeat = models.DateTimeField(null=True, blank=True)
    runner = models.CharField(max_length=200, blank=True)
    stopped_stage = models.CharField(max_length=16, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "number"], name="unique_round_number")]
        ordering = ["project", "-number"]

    @property
    def start_checkpoint(self) -> str:
        """Where the reward model and the policy update start: the SFT stage's policy when it
        ran, else the round's starting version."""
        return self.sft_policy_path or self.policy_in.checkpoint

    @property
    def is_active(self) -> bool:
        return self.state not in self.FINISHED

    def __str__(self) -> str:
        return f"{self.project.slug} round {self.number}"


class RoundEvent(models.Model):
    """One metric point or log line of a round, appended as the stages run (for curves)."""

    round = models.ForeignKey(TrainingRound, on_delete=models.CASCADE, related_name="events")
    stage = models.CharField(max_length=16)
    step = models.IntegerField(default=0)
    data = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["round", "stage", "step"])]
