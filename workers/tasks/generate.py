"""generate: the active policy answers prompts twice; each pair becomes a comparison."""
from __future__ import annotations

from typing import Callable

from workers.celery_app import app
from workers.stage import Reporter, run_stage


def generate_comparisons(
    project_id: int,
    count: int,
    generate_config: dict,
    round_id: int | None = None,
    seed: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
    progress: bool = False,
) -> int:
    """Sample two responses per prompt from the project's active policy and store comparisons."""
    from training.generate import GenerateArgs, generate_from_checkpoint
    from webapp.catalog import services as catalog
    from webapp.projects.models import Project

    project = Project.objects.select_related("active_policy").get(pk=project_id)
    policy = project.active_policy
    prompts = catalog.prompts_for_comparisons(project, count, seed=seed)
    if not prompts:
        return 0
    args = GenerateArgs(**{**generate_config, "seed": seed})
    doubled = [p.conversation for p in prompts for _ in range(2)]
    generations = generate_from_checkpoint(policy.checkpoint, doubled, args, progress=progress)

    def as_dict(generation) -> dict:
        return {"text": generation.text, "token_count": len(generation.token_ids), "finished": generation.finished}

    pairs = [
        catalog.GeneratedPair(prompt, as_dict(generations[2 * i]), as_dict(generations[2 * i + 1]))
        for i, prompt in enumerate(prompts)
    ]
    catalog.create_comparisons(project, policy, pairs, generation=vars(args), round_id=round_id)
    if on_progress:
        on_progress(len(pairs), len(pairs))
    return len(pairs)


@app.task(name="workers.tasks.generate.generate_next_comparisons")
def generate_next_comparisons(round_id: int) -> None:
    from webapp.rounds import state_machine
    from webapp.rounds.models import TrainingRound

    with run_stage(round_id, TrainingRound.State.GENERATE) as training_round:
        config = training_round.config
        reporter = Reporter(round_id, "generate")
        made = generate_comparisons(
            training_round.project_id,
            config["round"]["next_comparisons"],
            config["generate"],
            round_id=round_id,
            seed=training_round.number,
            on_progress=lambda done, total: reporter.progress(done, total, force=True),
        )
        reporter.progress(made, made, f"{made} new comparisons", force=True)
    state_machine.enter(round_id, TrainingRound.State.DONE)
