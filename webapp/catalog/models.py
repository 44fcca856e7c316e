"""What policies answer: prompts, policy versions and their responses."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from webapp.catalog.text import conversation_problem, text_problem


class Prompt(models.Model):
    class Split(models.TextChoices):
        TRAIN = "train"
        EVAL = "eval"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="prompts")
    # A chat conversation: [{"role": "user"|"system"|"assistant", "content": str}, ...]
    conversation = models.JSONField()
    source = models.CharField(max_length=200, blank=True)
    split = models.CharField(max_length=8, choices=Split.choices, default=Split.TRAIN)
    metadata = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["project", "split"])]

    def clean(self) -> None:
        """The import's checks for a prompt edited in the admin: storable, within the limit."""
        if self.project_id is None:
            return  # the form already refuses a missing project
        found = conversation_problem(self.conversation, self.project.max_prompt_bytes)
        if found:
            raise ValidationError({"conversation": f"field '{found[0]}': {found[1]}"})

    @property
    def last_user_message(self) -> str:
        for message in reversed(self.conversation):
            if message.get("role") == "user":
                return message.get("content", "")
        return ""

    def __str__(self) -> str:
        return self.last_user_message[:80]


class PolicyVersion(models.Model):
    class Status(models.TextChoices):
        READY = "ready"  # trained, not serving
        ACTIVE = "active"  # serving: the project's active_policy
        RETIRED = "retired"  # served before

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="policies")
    number = models.PositiveIntegerField()
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    checkpoint = models.CharField(max_length=1000, help_text="Directory of the saved model.")
    base_model = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.READY)
    metrics = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "number"], name="unique_policy_number")]
        ordering = ["project", "number"]

    def __str__(self) -> str:
        return f"{self.project.slug} v{self.number}"


class Response(models.Model):
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="responses")
    policy = models.ForeignKey(
        PolicyVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="responses"
    )
    text = models.TextField()
    # The outside model that wrote an imported response; "" for prefloop's own (`policy` names it).
    model_name = models.CharField(max_length=200, blank=True, default="")
    generation = models.JSONField(default=dict, blank=True, help_text="Sampling settings used.")
    token_count = models.PositiveIntegerField(default=0)
    finished = models.BooleanField(default=True, help_text="Ended with EOS rather than the length limit.")
    created = models.DateTimeField(auto_now_add=True)

    def clean(self) -> None:
        """A response edited in the admin is refused over the limit (generation clips instead)."""
        if self.prompt_id is None:
            return
        problem = text_problem(self.text, self.prompt.project.max_response_bytes)
        if problem:
            raise ValidationError({"text": problem})

    def __str__(self) -> str:
        return self.text[:80]
