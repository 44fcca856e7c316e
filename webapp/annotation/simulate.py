"""Judge pending comparisons as scripted annotators, through the same queue people use."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from webapp.annotation import services
from webapp.annotation.judges import VALID, Judge
from webapp.projects.models import Project

SHOWN = {("a", False): "left", ("a", True): "right", ("b", False): "right", ("b", True): "left"}


def simulated_annotators(project: Project, count: int) -> list:
    User = get_user_model()
    users = []
    for index in range(1, count + 1):
        user, _ = User.objects.get_or_create(username=f"sim-{project.slug}-{index}")
        project.annotators.add(user)
        users.append(user)
    return users


def simulate(project: Project, judgments: int, judge: Judge, on_judgment=None) -> int:
    """Make up to `judgments` judgments; return how many were made (fewer if the queue runs dry).

    As many simulated annotators as the project's overlap take turns, so every comparison can
    reach its overlap without one annotator judging it twice.
    """
    users = simulated_annotators(project, max(1, project.overlap))
    made = 0
    while made < judgments:
        for offset in range(len(users)):  # next annotator in turn who still has work
            user = users[(made + offset) % len(users)]
            assignment = services.next_assignment(project, user)
            if assignment is not None:
                break
        else:
            break  # the queue is dry for every simulated annotator
        comparison = assignment.comparison
        choice = judge(comparison.prompt.conversation, comparison.response_a.text, comparison.response_b.text)
        if choice not in VALID:
            raise ValueError(f"judge returned {choice!r}; expected one of {', '.join(sorted(VALID))}")
        shown = SHOWN.get((choice, assignment.swapped), choice)
        services.submit_judgment(assignment.pk, user, shown, strength=2, reason="", seconds_spent=0.0)
        made += 1
        if on_judgment:
            on_judgment()
    return made
