"""New comparisons from the active policy: what the generate stage and `seed_demo` run.

It loads the model (torch) only when called, so the web process can import it without torch.
"""

from __future__ import annotations

from typing import Callable

from webapp.catalog import services as catalog
from webapp.projects.models import Project


def generate_comparisons(
    project_id: int,
    count: int,
    generate_config: dict,
    round_id: int | None = None,
    seed: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
    progress: bool = False,
    pairing: str = "policy",
) -> int:
    """Answer `count` prompts twice and store each pair as a comparison.

    `pairing` "policy": both answers from the active policy. "parent": one from the active policy,
    one from the version it was trained from (when it has one), so every judgment compares the
    new behaviour with the old: a pair that carries information about the direction of the last
    round, where two samples of one policy often differ only by chance.
    """
    from training.generate import GenerateArgs, generate_from_checkpoint  # torch: only when called

    project = Project.objects.select_related("active_policy__parent").get(pk=project_id)
    policy = project.active_policy
    prompts = catalog.prompts_for_comparisons(project, count, seed=seed)
    if not prompts:
        return 0
    args = GenerateArgs(**{**generate_config, "seed": seed})
    conversations = [p.conversation for p in prompts]
    other = policy.parent if pairing == "parent" and policy.parent is not None else None
    if other is None:
        doubled = generate_from_checkpoint(
            policy.checkpoint, [c for c in conversations for _ in range(2)], args, progress=progress
        )
        firsts, seconds = doubled[0::2], doubled[1::2]
    else:
        firsts = generate_from_checkpoint(policy.checkpoint, conversations, args, progress=progress)
        seconds = generate_from_checkpoint(other.checkpoint, conversations, args, progress=progress)

    def as_dict(generation, source) -> dict:
        return {
            "text": generation.text,
            "token_count": len(generation.token_ids),
            "finished": generation.finished,
            "policy": source,
        }

    pairs = [
        catalog.GeneratedPair(prompt, as_dict(first, policy), as_dict(second, other or policy))
        for prompt, first, second in zip(prompts, firsts, seconds)
    ]
    catalog.create_comparisons(project, policy, pairs, generation=vars(args), round_id=round_id)
    if on_progress:
        on_progress(len(pairs), len(pairs))
    return len(pairs)
