"""Rows for platform tests that need no model: a project, policy v0, comparisons, judgments."""
from __future__ import annotations

from django.contrib.auth import get_user_model

from webapp.annotation.models import Comparison, Judgment
from webapp.catalog.models import PolicyVersion, Prompt, Response
from webapp.projects.models import Project


def project_with_comparisons(count: int = 4, slug: str = "demo", overlap: int = 1) -> Project:
    project = Project.objects.create(name=slug.title(), slug=slug, overlap=overlap)
    policy = PolicyVersion.objects.create(
        project=project, number=0, checkpoint="/nonexistent", base_model="tiny", status=PolicyVersion.Status.ACTIVE
    )
    project.active_policy = policy
    project.save()
    for i in range(count):
        prompt = Prompt.objects.create(project=project, conversation=[{"role": "user", "content": f"question {i}?"}])
        a = Response.objects.create(prompt=prompt, policy=policy, text=f"short {i}")
        b = Response.objects.create(prompt=prompt, policy=policy, text=f"a much longer answer {i}")
        Comparison.objects.create(project=project, prompt=prompt, response_a=a, response_b=b, judgments_needed=overlap)
    return project


def judge_all(project: Project, choice: str = "a", username: str = "judge", strength: int = 2) -> list[Judgment]:
    user, _ = get_user_model().objects.get_or_create(username=username)
    return [
        Judgment.objects.create(comparison=c, annotator=user, choice=choice, strength=strength)
        for c in project.comparisons.order_by("id")
    ]
