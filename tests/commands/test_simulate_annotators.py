"""Scripted annotators judge through the real queue, with built-in or plug-in rules."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from tests.platform_factories import project_with_comparisons
from webapp.annotation.judges import load_judge, shorter
from webapp.annotation.models import Comparison, Judgment

pytestmark = pytest.mark.django_db


def always_b(prompt, response_a, response_b):
    """A plug-in judge, loaded by dotted path in the test below."""
    return "b"


def test_shorter_rule_prefers_shorter_in_stored_terms():
    project_with_comparisons(5)
    call_command("simulate_annotators", "--project", "demo", "--judgments", "3")
    judgments = Judgment.objects.all()
    assert judgments.count() == 3
    # The factory makes response A the short one; whatever order was shown, "a" is stored.
    assert set(judgments.values_list("choice", flat=True)) == {"a"}
    assert Comparison.objects.filter(status="complete").count() == 3


def test_dotted_path_rule_and_overlap():
    project = project_with_comparisons(2, overlap=2)
    call_command(
        "simulate_annotators",
        "--project",
        "demo",
        "--judgments",
        "10",
        "--rule",
        "tests.commands.test_simulate_annotators.always_b",
    )
    # 2 comparisons x overlap 2: the queue runs dry after 4, each by distinct annotators.
    assert Judgment.objects.count() == 4
    for comparison in project.comparisons.all():
        assert comparison.judgments.values("annotator").distinct().count() == 2
    assert set(Judgment.objects.values_list("choice", flat=True)) == {"b"}


def test_bad_rule_is_a_clear_error():
    project_with_comparisons(1)
    with pytest.raises(CommandError, match="unknown rule 'shortest'"):
        call_command("simulate_annotators", "--project", "demo", "--judgments", "1", "--rule", "shortest")
    with pytest.raises(CommandError, match="cannot import judge"):
        call_command(
            "simulate_annotators", "--project", "demo", "--judgments", "1", "--rule", "no.such.judge"
        )
    assert not Judgment.objects.exists()


def test_builtin_rules():
    assert (
        shorter([], "ab", "abc") == "a" and shorter([], "abc", "ab") == "b" and shorter([], "x", "y") == "tie"
    )
    assert load_judge("longer")([], "ab", "abc") == "b"
    assert load_judge("random")([], "x", "y") in {"a", "b"}
