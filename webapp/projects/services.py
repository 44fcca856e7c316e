"""Project-level reads for the project page and commands."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from webapp.annotation.models import Comparison, Judgment
from webapp.catalog.models import PolicyVersion
from webapp.projects.models import Project
from webapp.rounds.models import TrainingRound


def project_overview(project: Project) -> dict[str, Any]:
    by_status = dict(
        Comparison.objects.filter(project=project)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    # What the next round trains on by default (round.judgments "new"): judgments since the last
    # finished round's snapshot.
    last_round = (
        TrainingRound.objects.filter(project=project, state=TrainingRound.State.DONE)
        .order_by("-number")
        .first()
    )
    judged_since = Judgment.objects.filter(comparison__project=project)
    if last_round is not None:
        judged_since = judged_since.filter(created__gt=last_round.created)
    return {
        "pending": by_status.get(Comparison.Status.PENDING, 0),
        "complete": by_status.get(Comparison.Status.COMPLETE, 0),
        "judgments": Judgment.objects.filter(comparison__project=project).count(),
        "judgments_since_last_round": judged_since.count(),
        "policies": PolicyVersion.objects.filter(project=project)
        .select_related("parent")
        .order_by("-number"),
        "rounds": TrainingRound.objects.filter(project=project)
        .select_related("policy_in", "policy_out")
        .order_by("-number")[:10],
        "active_round": TrainingRound.objects.filter(project=project)
        .exclude(state__in=TrainingRound.FINISHED)
        .first(),
    }
