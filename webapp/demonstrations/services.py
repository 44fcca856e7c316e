"""Demonstrations: storing answers people write, choosing prompts to write for, and reading
them back as TRL SFT rows (the `sft` export and the round snapshot's demonstrations.jsonl)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q

from webapp.catalog.models import Prompt
from webapp.catalog.text import text_problem
from webapp.demonstrations.models import Demonstration, WritingSettings
from webapp.projects.models import Project

CHUNK = 5_000  # demonstrations per query when reading rows


class InvalidDemonstration(ValueError):
    """A demonstration that cannot be stored; `field` names the form field, `problem` says why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"field '{field}': {problem}")
        self.field, self.problem = field, problem


@dataclass(frozen=True)
class Draft:
    """A better answer typed on the annotate page, checked before the judgment's transaction.

    `source` is the SHOWN side it was edited from ("left", "right") or "" when written from blank.
    """

    text: str
    source: str = ""
    seconds_spent: float = 0.0


def check_text(text: str, max_bytes: int, field: str = "text") -> str:
    """The text to store (surrounding whitespace dropped), or InvalidDemonstration naming `field`."""
    text = text.strip()
    if not text:
        raise InvalidDemonstration(field, "is empty; write an answer")
    problem = text_problem(text, max_bytes)
    if problem:
        raise InvalidDemonstration(field, f"{problem}; shorten it")
    return text


def check_seconds(seconds: float | None) -> float:
    if seconds is None:
        return 0.0
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidDemonstration("seconds_spent", "must be a finite number of seconds, 0 or more")
    return float(seconds)


def edited_preferred(project: Project) -> bool:
    """The project's setting: an edited answer also counts as preferred over its source response."""
    return WritingSettings.objects.filter(project=project, edited_preferred=True).exists()


def set_edited_preferred(project: Project, value: bool) -> WritingSettings:
    settings, _ = WritingSettings.objects.update_or_create(
        project=project, defaults={"edited_preferred": value}
    )
    return settings


def store_from_comparison(draft: Draft, judgment: Any, assignment: Any, max_bytes: int) -> Demonstration:
    """The draft as a Demonstration of the judged comparison (inside the judgment's transaction).

    The shown side maps to the stored response through the assignment's swap; text and time are
    checked again here so that no caller can store what the form would refuse."""
    comparison = assignment.comparison
    text = check_text(draft.text, max_bytes, field="better_answer")
    source_id = None
    if draft.source in ("left", "right"):
        left_is_a = not assignment.swapped
        source_id = (
            comparison.response_a_id if (draft.source == "left") == left_is_a else comparison.response_b_id
        )
    elif draft.source:
        raise InvalidDemonstration("better_source", f"{draft.source!r} is not left, right or blank")
    return Demonstration.objects.create(
        project_id=comparison.project_id,
        prompt_id=comparison.prompt_id,
        text=text,
        author=judgment.annotator,
        source_response_id=source_id,
        comparison=comparison,
        seconds_spent=check_seconds(draft.seconds_spent),
    )


def next_prompt(project: Project, user: AbstractBaseUser) -> Prompt | None:
    """The train prompt to write for: fewest demonstrations first (oldest prompt among equals),
    never one this user has already written for."""
    return (
        Prompt.objects.filter(project=project, split=Prompt.Split.TRAIN)
        .exclude(demonstrations__author=user)
        .annotate(written=Count("demonstrations"))
        .order_by("written", "id")
        .first()
    )


def write(
    project: Project, prompt_id: int, user: AbstractBaseUser, text: str, seconds_spent: float | None = None
) -> Demonstration:
    """Store an answer written on the write page; InvalidDemonstration (nothing stored) when the
    text is empty or over `max_response_bytes`, or the prompt is not one of the project's train
    prompts this user may still write for."""
    text = check_text(text, project.max_response_bytes)
    seconds = check_seconds(seconds_spent)
    prompt = Prompt.objects.filter(pk=prompt_id, project=project, split=Prompt.Split.TRAIN).first()
    if prompt is None:
        raise InvalidDemonstration("prompt", "not a training prompt of this project")
    if Demonstration.objects.filter(prompt=prompt, author=user).exists():
        raise InvalidDemonstration("prompt", "you have already written an answer for this prompt")
    return Demonstration.objects.create(
        project=project, prompt=prompt, text=text, author=user, seconds_spent=seconds
    )


def _window(project: Project, after: datetime | None, before: datetime | None):
    demos = Demonstration.objects.filter(project=project)
    if after is not None:
        demos = demos.filter(created__gt=after)
    if before is not None:
        demos = demos.filter(created__lte=before)
    return demos


def count(project: Project, after: datetime | None = None, before: datetime | None = None) -> int:
    return _window(project, after, before).count()


def demonstration_rows(
    project: Project, after: datetime | None = None, before: datetime | None = None
) -> Iterator[dict]:
    """TRL SFT rows, `{"messages": [...prompt turns..., {"role": "assistant", "content": text}]}`,
    one per demonstration created in (after, before], in id order, read a chunk at a time."""
    demos = _window(project, after, before).order_by("id")
    last = 0
    while True:
        rows = list(demos.filter(id__gt=last).values_list("id", "prompt__conversation", "text")[:CHUNK])
        if not rows:
            return
        for _, conversation, text in rows:
            turns = [{"role": m["role"], "content": m["content"]} for m in conversation]
            yield {"messages": [*turns, {"role": "assistant", "content": text}]}
        last = rows[-1][0]


def preference_pairs(project: Project, where: Q | None = None) -> Iterator[list[tuple]]:
    """(demonstration id, prompt id, edited text, source text, source response id, comparison id) of each
    edited demonstration, a chunk at a time in id order: the pairs the export adds when the
    project's edited_preferred setting is on."""
    demos = Demonstration.objects.filter(project=project, source_response__isnull=False)
    if where is not None:
        demos = demos.filter(where)
    demos = demos.order_by("id")
    last = 0
    while True:
        rows = list(
            demos.filter(id__gt=last).values_list(
                "id", "prompt_id", "text", "source_response__text", "source_response_id", "comparison_id"
            )[:CHUNK]
        )
        if not rows:
            return
        yield rows
        last = rows[-1][0]
