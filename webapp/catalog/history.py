"""The policy versions page: every version of a project with what its round measured.

Two queries whatever the number of versions (versions with their parents, then the rounds that
made them), so the page stays cheap after hundreds of rounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webapp.catalog.models import PolicyVersion
from webapp.projects.models import Project
from webapp.rounds import learning
from webapp.rounds.models import TrainingRound


@dataclass(frozen=True)
class VersionRow:
    """One version, its numbers formatted as shown; `samples` are parent vs this version."""

    policy: PolicyVersion
    made_by: TrainingRound | None
    label: str
    parent_label: str
    data: str  # what its round's snapshot held: pairs, and demonstrations (SFT)
    win_rate: str
    kl: str
    length: str
    rm_accuracy: str
    ppo_reward: str
    verdict: learning.Verdict | None
    samples: list[learning.Sample]

    @property
    def is_active(self) -> bool:
        return self.policy.status == PolicyVersion.Status.ACTIVE


def _section(metrics: Any, name: str) -> dict[str, Any]:
    value = metrics.get(name) if isinstance(metrics, dict) else None
    return value if isinstance(value, dict) else {}


def data_seen(made_by: TrainingRound | None) -> str:
    """The pairs and demonstrations of the round's snapshot, in words; whether SFT trained on them."""
    if made_by is None:
        return "—"
    counts = made_by.dataset_counts if isinstance(made_by.dataset_counts, dict) else {}
    pairs, demonstrations = learning.count(counts.get("pairs")), learning.count(counts.get("demonstrations"))
    if pairs is None:
        return "—"
    words = f"{pairs} pairs · {demonstrations or 0} demonstrations"
    sft = _section(made_by.metrics, "sft")
    if demonstrations and sft.get("skipped"):
        words += " (SFT skipped)"
    return words


def version_row(policy: PolicyVersion, made_by: TrainingRound | None) -> VersionRow:
    """The version's own metrics (ppo, evaluation) first; its round fills the gaps and gives the RM."""
    round_metrics = made_by.metrics if made_by is not None else {}
    evaluation = _section(policy.metrics, "evaluation") or _section(round_metrics, "evaluation")
    ppo = _section(policy.metrics, "ppo") or _section(round_metrics, "ppo")
    reward = _section(round_metrics, "reward")
    label = f"v{policy.number}"
    parent_label = f"v{policy.parent.number}" if policy.parent is not None else "its parent"
    prompts = learning.count(evaluation.get("prompts"))
    win = learning.number(evaluation.get("win_rate"))
    pairs = learning.count(reward.get("pairs_eval"))
    rm_accuracy = learning.percent(learning.number(reward.get("eval_accuracy")))
    has_length = "new_length" in evaluation or "old_length" in evaluation
    has_ppo = "reward_start" in ppo or "reward_end" in ppo
    return VersionRow(
        policy=policy,
        made_by=made_by,
        label=label,
        parent_label=parent_label,
        data=data_seen(made_by),
        win_rate=learning.percent(win) + (f" of {prompts}" if win is not None and prompts else ""),
        kl=learning.fixed(learning.number(evaluation.get("kl")), 3),
        length=learning.arrow(
            learning.number(evaluation.get("old_length")),
            learning.number(evaluation.get("new_length")),
            lambda v: learning.fixed(v, 1),
        )
        if has_length
        else "—",
        rm_accuracy=rm_accuracy + (f" on {pairs}" if rm_accuracy != "—" and pairs is not None else ""),
        ppo_reward=learning.arrow(
            learning.number(ppo.get("reward_start")), learning.number(ppo.get("reward_end"))
        )
        if has_ppo
        else "—",
        verdict=learning.verdict(win, prompts, label, parent_label),
        samples=learning.samples(evaluation),
    )


def policy_history(project: Project) -> list[VersionRow]:
    """All versions of `project`, newest first, each with the round whose policy_out it is."""
    policies = PolicyVersion.objects.filter(project=project).select_related("parent").order_by("-number")
    made_by: dict[int, TrainingRound] = {}
    for training_round in TrainingRound.objects.filter(project=project, policy_out__isnull=False).order_by(
        "number"
    ):
        made_by[training_round.policy_out_id] = training_round  # a re-run round wins over an older one
    return [version_row(policy, made_by.get(policy.pk)) for policy in policies]
