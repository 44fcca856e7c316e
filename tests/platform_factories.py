"""Rows for platform tests that need no model: users, a project, policy v0, comparisons, judgments.

Plain functions (no factory_boy), shared by every test package; the annotation tests use the
small builders (`make_*`), the round, deploy and command tests `project_with_comparisons`.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from webapp.annotation.models import Comparison, Judgment
from webapp.annotation.services import add_judgment
from webapp.catalog.models import PolicyVersion, Prompt, Response
from webapp.datasets.models import ExportJob, ImportJob
from webapp.projects.models import Membership, Project
from webapp.projects.roles import Role
from webapp.rounds.models import TrainingRound

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def make_user(
    username: str | None = None, *, staff: bool = False, password: str = PASSWORD
) -> AbstractBaseUser:
    username = username or f"user{next(_seq)}"
    return get_user_model().objects.create_user(username=username, password=password, is_staff=staff)


def make_member(project: Project, username: str | None = None, role: str = Role.ADMIN) -> AbstractBaseUser:
    """A new user holding `role` in `project` (a project admin unless told otherwise)."""
    user = make_user(username)
    Membership.objects.create(project=project, user=user, role=role)
    return user


def make_project(
    slug: str = "demo",
    *,
    overlap: int = 1,
    guidelines: str = "Prefer the **helpful**, honest answer.",
    annotators: Iterable[AbstractBaseUser] = (),
    name: str | None = None,
) -> Project:
    name = name or slug.replace("-", " ").title()
    project = Project.objects.create(name=name, slug=slug, overlap=overlap, guidelines=guidelines)
    project.annotators.add(*annotators)
    return project


def make_policy(
    project: Project,
    number: int = 0,
    *,
    checkpoint: str | None = None,
    status: str = PolicyVersion.Status.READY,
) -> PolicyVersion:
    return PolicyVersion.objects.create(
        project=project,
        number=number,
        checkpoint=checkpoint or f"/tmp/policy-{number}",
        base_model="tiny",
        status=status,
    )


def make_round(project: Project, number: int) -> TrainingRound:
    return TrainingRound.objects.create(project=project, number=number, state=TrainingRound.State.DONE)


def make_comparison(
    project: Project,
    *,
    prompt: str | None = None,
    text_a: str | None = None,
    text_b: str | None = None,
    judgments_needed: int | None = None,
    round: TrainingRound | None = None,
    policy: PolicyVersion | None = None,
) -> Comparison:
    """A prompt, two responses to it and the comparison of them (A and B in stored order)."""
    n = next(_seq)
    prompt_row = Prompt.objects.create(
        project=project, conversation=[{"role": "user", "content": prompt or f"Question number {n}?"}]
    )
    policy = policy or project.policies.order_by("number").first() or make_policy(project)
    response_a = Response.objects.create(prompt=prompt_row, policy=policy, text=text_a or f"Answer A{n}.")
    response_b = Response.objects.create(prompt=prompt_row, policy=policy, text=text_b or f"Answer B{n}.")
    return Comparison.objects.create(
        project=project,
        round=round,
        prompt=prompt_row,
        response_a=response_a,
        response_b=response_b,
        judgments_needed=judgments_needed if judgments_needed is not None else project.overlap,
    )


def make_comparisons(project: Project, count: int, **kwargs) -> list[Comparison]:
    return [make_comparison(project, **kwargs) for _ in range(count)]


def project_with_comparisons(count: int = 4, slug: str = "demo", overlap: int = 1) -> Project:
    """A project with an active policy v0 and `count` comparisons of a short and a longer answer."""
    project = make_project(slug, overlap=overlap, guidelines="", name=slug.title())
    policy = make_policy(project, 0, checkpoint="/nonexistent", status=PolicyVersion.Status.ACTIVE)
    project.active_policy = policy
    project.save()
    for i in range(count):
        make_comparison(
            project,
            prompt=f"question {i}?",
            text_a=f"short {i}",
            text_b=f"a much longer answer {i}",
            policy=policy,
        )
    return project


def judge_all(
    project: Project, choice: str = "a", username: str = "judge", strength: int = 2
) -> list[Judgment]:
    user, _ = get_user_model().objects.get_or_create(username=username)
    return [
        add_judgment(comparison=c, annotator=user, choice=choice, strength=strength)
        for c in project.comparisons.order_by("id")
    ]


def make_export_job(
    project: Project, directory: Path, status: str = ExportJob.Status.DONE, **fields
) -> ExportJob:
    """A finished export job with its data file and card in `directory` (as a worker leaves it)."""
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / f"{project.slug}-preferences-trl.jsonl"
    card = directory / f"{project.slug}-preferences-trl.README.md"  # as exporting names it
    data.write_text('{"prompt": [], "chosen": [], "rejected": []}\n')
    card.write_text("---\nlicense: other\n---\n# An export\n")
    defaults = {"spec": {"fmt": "trl", "aggregation": "all"}, "done": 1, "total": 1, "counts": {"pairs": 1}}
    if status == ExportJob.Status.DONE:
        defaults.update(path=str(data), card=str(card))
    return ExportJob.objects.create(project=project, status=status, **{**defaults, **fields})


def make_import_job(
    project: Project, directory: Path, status: str = ImportJob.Status.DONE, **fields
) -> ImportJob:
    """A finished import job of one prompt, its stored file in `directory` (as a worker leaves it)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "prompts.jsonl"
    path.write_text('{"prompt": "stored?"}\n')
    defaults = {
        "kind": ImportJob.Kind.PROMPTS,
        "name": path.name,
        "path": str(path),
        "size": path.stat().st_size,
        "phase": ImportJob.Phase.WRITING,
        "done": 1,
        "total": 1,
        "counts": {"prompts": 1, "comparisons": 0, "judgments": 0},
    }
    return ImportJob.objects.create(project=project, status=status, **{**defaults, **fields})


def vote(
    comparison: Comparison,
    username: str,
    choice: str,
    strength: int = 2,
    *,
    source: str = "",
    created=None,
    reason: str = "",
) -> Judgment:
    """One judgment by `username` (made when missing), optionally imported (`source`) or dated."""
    user, _ = get_user_model().objects.get_or_create(username=username)
    judgment = add_judgment(
        comparison=comparison, annotator=user, choice=choice, strength=strength, reason=reason
    )
    changes = {"source": source} if source else {}
    if created is not None:
        changes["created"] = created
    if changes:
        Judgment.objects.filter(pk=judgment.pk).update(**changes)
        judgment.refresh_from_db()
    return judgment


def make_token(user: AbstractBaseUser, name: str = "") -> str:
    """A new API token of `user` (the token itself: only its sha256 is stored)."""
    from webapp.api.tokens import create_token

    return create_token(user, name)[1]


def api_client(token: str | None = None):
    """A test client that sends `Authorization: Bearer <token>` (none without a token)."""
    from django.test import Client

    return Client(headers={"authorization": f"Bearer {token}"}) if token else Client()


def make_demonstrations(project: Project, count: int, author: AbstractBaseUser | None = None) -> list:
    """`count` answers written for new prompts of `project` (what the write page stores)."""
    from webapp.demonstrations.models import Demonstration

    demos = []
    for _ in range(count):
        n = next(_seq)
        prompt = Prompt.objects.create(
            project=project, conversation=[{"role": "user", "content": f"write {n}?"}]
        )
        demos.append(
            Demonstration.objects.create(
                project=project, prompt=prompt, text=f"a written answer {n}.", author=author
            )
        )
    return demos
