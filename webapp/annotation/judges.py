"""Scripted annotators: built-in rules and any dotted path to `judge(prompt, a, b)`.

A judge sees the prompt conversation and both responses in stored order and returns "a", "b",
"tie" or "both_bad". Teams plug in their own (a model-based judge gives AI feedback).
"""

from __future__ import annotations

import random
from typing import Callable

from django.utils.module_loading import import_string

Judge = Callable[[list, str, str], str]
VALID = {"a", "b", "tie", "both_bad"}


def shorter(prompt: list, response_a: str, response_b: str) -> str:
    """Prefer the shorter response (a known, learnable preference: the loop should shorten answers)."""
    if len(response_a) == len(response_b):
        return "tie"
    return "a" if len(response_a) < len(response_b) else "b"


def longer(prompt: list, response_a: str, response_b: str) -> str:
    if len(response_a) == len(response_b):
        return "tie"
    return "a" if len(response_a) > len(response_b) else "b"


_rng = random.Random(0)


def coin(prompt: list, response_a: str, response_b: str) -> str:
    """A or B at random (seeded): noise, for agreement and robustness checks."""
    return _rng.choice(["a", "b"])


BUILTIN: dict[str, Judge] = {"shorter": shorter, "longer": longer, "random": coin}


def load_judge(rule: str) -> Judge:
    if rule in BUILTIN:
        return BUILTIN[rule]
    if "." not in rule:
        raise ValueError(f"unknown rule {rule!r}: use one of {', '.join(BUILTIN)} or a dotted path")
    try:
        judge = import_string(rule)
    except ImportError as exc:
        raise ValueError(f"cannot import judge {rule!r}: {exc}") from exc
    if not callable(judge):
        raise ValueError(f"{rule!r} is not callable")
    return judge
