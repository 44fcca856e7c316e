"""Policy versions, deploys and comparison creation."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q

from webapp.annotation.models import Comparison
from webapp.catalog.models import PolicyVersion, Prompt, Response
from webapp.catalog.text import clip_to_bytes, renderable
from webapp.projects.models import Project


def policy_dir(project: Project, number: int) -> Path:
    return Path(settings.ARTIFACT_ROOT) / project.slug / "policies" / f"v{number:04d}"


def next_policy_number(project: Project) -> int:
    highest = PolicyVersion.objects.filter(project=project).aggregate(n=Max("number"))["n"]
    return 0 if highest is None else highest + 1


def register_policy(
    project: Project,
    checkpoint: Path,
    base_model: str,
    parent: PolicyVersion | None,
    number: int | None = None,
) -> PolicyVersion:
    return PolicyVersion.objects.create(
        project=project,
        number=next_policy_number(project) if number is None else number,
        parent=parent,
        checkpoint=str(checkpoint),
        base_model=base_model,
        status=PolicyVersion.Status.READY,
    )


def lineage_root(policy: PolicyVersion) -> PolicyVersion:
    """The version `policy` descends from that has no parent: the project's base (v0)."""
    seen = {policy.pk}
    while policy.parent_id is not None and policy.parent_id not in seen:
        policy = policy.parent
        seen.add(policy.pk)
    return policy


def deploy(policy: PolicyVersion) -> None:
    """Make `policy` the project's active policy: the only place that changes it, atomically."""
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=policy.project_id)
        PolicyVersion.objects.filter(project=project, status=PolicyVersion.Status.ACTIVE).exclude(
            pk=policy.pk
        ).update(status=PolicyVersion.Status.RETIRED)
        PolicyVersion.objects.filter(pk=policy.pk).update(status=PolicyVersion.Status.ACTIVE)
        project.active_policy = policy
        project.save(update_fields=["active_policy"])
        # Unjudged comparisons from older policies would show stale outputs: retire them.
        # Partly judged ones stay so their judgments get their full overlap.
        Comparison.objects.filter(
            project=project, status=Comparison.Status.PENDING, judgments__isnull=True
        ).exclude(response_a__policy=policy).update(status=Comparison.Status.RETIRED)


def create_base_policy(project: Project, base_model: str) -> PolicyVersion:
    """Convert `base_model` (bundled SmolLM2, a path or a hub id) and deploy it as version 0.

    Idempotent: an existing version 0 is returned as it is.
    """
    from training.models import convert_base_model  # torch: only when called

    existing = PolicyVersion.objects.filter(project=project, number=0).first()
    if existing is not None:
        return existing
    checkpoint = convert_base_model(base_model, policy_dir(project, 0))
    policy = register_policy(project, checkpoint, base_model, parent=None, number=0)
    deploy(policy)
    return policy


def prompts_for_comparisons(project: Project, count: int, seed: int = 0) -> list[Prompt]:
    """Train-split prompts that have been compared least, ties broken at random (seeded)."""
    prompts = list(
        Prompt.objects.filter(project=project, split=Prompt.Split.TRAIN).annotate(
            n=Count("comparisons", filter=~Q(comparisons__status=Comparison.Status.RETIRED))
        )
    )
    rng = random.Random(seed)
    rng.shuffle(prompts)
    prompts.sort(key=lambda p: p.n)
    return prompts[:count]


def sample_prompts(project: Project, split: str, count: int, seed: int = 0) -> list[Prompt]:
    prompts = list(Prompt.objects.filter(project=project, split=split).order_by("id"))
    random.Random(seed).shuffle(prompts)
    return prompts[:count]


@dataclass(frozen=True)
class GeneratedPair:
    prompt: Prompt
    first: dict  # {"text", "token_count", "finished"}, and "policy" when not the comparison's policy
    second: dict


def storable_response(text: str, max_bytes: int) -> tuple[str, bool]:
    """Model output as the database and the annotate page can hold it, and whether it was clipped.

    NUL and lone surrogates become U+FFFD (PostgreSQL text refuses NUL). A response over the
    project's `max_response_bytes` is clipped, with a marker the annotator sees, rather than
    refused: a refused pair would leave its prompt unanswered and a generate stage of runaway
    outputs with no comparisons at all, stalling the loop; a clipped one is still judged (as
    shown), and a runaway answer is usually a bad one, which is worth a judgment too.
    """
    safe = renderable(text)
    clipped = clip_to_bytes(safe, max_bytes)
    return clipped, clipped != safe


def create_comparisons(
    project: Project,
    policy: PolicyVersion,
    pairs: list[GeneratedPair],
    generation: dict,
    round_id: int | None = None,
) -> list[Comparison]:
    """Store two responses per prompt and a pending comparison between them, atomically; each
    response made storable and clipped to the project's limit (`storable_response`)."""
    comparisons = []
    with transaction.atomic():
        for pair in pairs:
            responses = []
            for sample in (pair.first, pair.second):
                text, clipped = storable_response(sample["text"], project.max_response_bytes)
                responses.append(
                    Response.objects.create(
                        prompt=pair.prompt,
                        policy=sample.get("policy", policy),
                        text=text,
                        token_count=sample["token_count"],
                        finished=sample["finished"] and not clipped,  # what is stored did not end
                        generation=generation,
                    )
                )
            comparisons.append(
                Comparison.objects.create(
                    project=project,
                    round_id=round_id,
                    prompt=pair.prompt,
                    response_a=responses[0],
                    response_b=responses[1],
                    judgments_needed=project.overlap,
                )
            )
    return comparisons
