"""Scripted annotators for the closed-loop benchmark: three preferences of different kinds.

Each is a plain judge, `judge(prompt, response_a, response_b) -> "a" | "b" | "tie"`, usable with
`manage.py simulate_annotators --rule benchmarks.rules.<name>`. Each scores a response, prefers
the higher score and calls near-equal scores a tie. They are chosen to decide at least a third of
SmolLM2-135M-Instruct's own pairs (two samples at temperature 0.7, 96 tokens), so a round has
something to learn from; `benchmarks.closed_loop` reports the share each one decided.
"""

from __future__ import annotations

import re

EXAMPLE_PHRASES = re.compile(r"\b(for example|for instance|e\.g\.|such as)", re.IGNORECASE)
NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
LIST_MARKER = re.compile(
    r"^\s*\d+[.)]\s", re.MULTILINE
)  # "1. " numbering a list item is layout, not a detail


def words(text: str) -> int:
    return len(text.split())


def lines(text: str) -> int:
    return sum(1 for line in text.strip().splitlines() if line.strip())


def concrete_details(text: str) -> int:
    """Numbers in the text (list numbering aside) plus example phrases."""
    return len(NUMBER.findall(LIST_MARKER.sub(" ", text))) + len(EXAMPLE_PHRASES.findall(text))


def _prefer(score_a: float, score_b: float, tolerance: float = 0.0) -> str:
    """The higher score wins; scores within `tolerance` (relative to the larger) tie."""
    if abs(score_a - score_b) <= tolerance * max(abs(score_a), abs(score_b)):
        return "tie"
    return "a" if score_a > score_b else "b"


def concise(prompt: list, response_a: str, response_b: str) -> str:
    """Length: the answer with fewer words wins; word counts within 10% of each other tie."""
    return _prefer(-words(response_a), -words(response_b), tolerance=0.1)


def structured(prompt: list, response_a: str, response_b: str) -> str:
    """Format: the answer laid out in more lines (paragraphs, list items, steps) wins."""
    return _prefer(lines(response_a), lines(response_b))


def concrete(prompt: list, response_a: str, response_b: str) -> str:
    """Content: the answer with more concrete details (numbers, and "for example", "such as", ...) wins;
    the numbers that number a list's items do not count."""
    return _prefer(concrete_details(response_a), concrete_details(response_b))


RULES = {"concise": concise, "structured": structured, "concrete": concrete}
SCORES = {"concise": lambda text: -words(text), "structured": lines, "concrete": concrete_details}


YOU = re.compile(r"\byou(?:r|rs|rself)?\b", re.IGNORECASE)


def addresses_reader(text: str) -> int:
    return len(YOU.findall(text))


def personal(prompt: list, response_a: str, response_b: str) -> str:
    """Tone: the answer that speaks to the reader more ("you", "your") wins."""
    return _prefer(addresses_reader(response_a), addresses_reader(response_b))


RULES["personal"] = personal
SCORES["personal"] = addresses_reader


# "Satisfies the rule", for the share reported per version: a short answer (at most 40 words;
# v0's median is about 70 at 96 tokens), one laid out in at least 3 lines, one with at least 2
# concrete details, one that says "you" at least twice.
SATISFIES = {
    "concise": lambda text: words(text) <= 40,
    "structured": lambda text: lines(text) >= 3,
    "concrete": lambda text: concrete_details(text) >= 2,
    "personal": lambda text: addresses_reader(text) >= 2,
}
