"""Responses made elsewhere (each by a named model) become pending comparisons, every pair of a
prompt's responses, the project's overlap as judgments needed: the queue leases them and an
annotator judges them as any other."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests import platform_factories as factories
from tests.datasets.import_files import turns, write
from webapp.annotation.models import Comparison, Judgment
from webapp.annotation.services import next_assignment, submit_judgment
from webapp.projects.roles import Role

pytestmark = pytest.mark.django_db

ROWS = [
    {
        "prompt": "Name a prime.",
        "responses": [
            {"model": "gpt-x", "text": "Seven."},
            {"model": "llama-y", "text": "Nine."},
            {"model": "mistral-z", "text": "Two."},
        ],
    },
    {
        "conversation": turns("Hi", "Hello", "Tell me a joke."),
        "split": "eval",
        "responses": [{"model": "gpt-x", "text": "No."}, {"model": "llama-y", "text": "Knock knock."}],
    },
]


@pytest.fixture
def project():
    return factories.make_project("cmp", overlap=2)


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_every_pair_becomes_a_pending_comparison(project, tmp_path, compressed, capsys):
    path = write(tmp_path / "responses.jsonl", ROWS, compressed)
    call_command("import_comparisons", str(path), "--project", "cmp")
    assert "imported 4 comparisons of 2 prompts, each to be judged 2 times" in capsys.readouterr().out
    rows = Comparison.objects.order_by("id").select_related("prompt", "response_a", "response_b")
    assert [(c.response_a.model_name, c.response_b.model_name) for c in rows] == [
        ("gpt-x", "llama-y"),
        ("gpt-x", "mistral-z"),
        ("llama-y", "mistral-z"),
        ("gpt-x", "llama-y"),
    ]
    assert {(c.status, c.judgments_needed, c.judged) for c in rows} == {("pending", 2, 0)}
    assert rows[3].prompt.split == "eval" and rows[3].prompt.last_user_message == "Tell me a joke."
    assert {c.prompt.source for c in rows} == {str(path)}
    assert rows[0].response_a.policy is None


def test_the_queue_leases_and_an_annotator_judges_one(project, tmp_path):
    annotator = factories.make_member(project, "ann", Role.ANNOTATOR)
    path = write(tmp_path / "responses.jsonl", ROWS)
    call_command("import_comparisons", str(path), "--project", "cmp")
    lease = next_assignment(project, annotator)
    assert lease is not None and lease.comparison.response_a.model_name == "gpt-x"
    judgment = submit_judgment(lease.pk, annotator, "left")
    comparison = Comparison.objects.get(pk=lease.comparison_id)
    assert judgment.choice == ("b" if lease.swapped else "a") and judgment.source == ""
    assert (comparison.judged, comparison.leased, comparison.status) == (1, 0, "pending")
    assert Judgment.objects.filter(annotator=annotator).count() == 1
    assert next_assignment(project, annotator).comparison_id != comparison.pk


@pytest.mark.parametrize(
    "responses, message",
    [
        ([{"model": "a", "text": "x"}], "line 1, field 'responses': must hold 2 to 6 responses, not 1"),
        (
            [{"model": "a", "text": str(i)} for i in range(7)],
            "line 1, field 'responses': must hold 2 to 6 responses, not 7",
        ),
        ([{"model": "a", "text": "x"}, {"text": "y"}], "line 1, field 'responses[1].model': missing"),
        (
            [{"model": "a", "text": "x"}, {"model": "b", "text": "x"}],
            "line 1, field 'responses[1].text': the same text as responses[0]",
        ),
        (
            [{"model": "a", "text": "x"}, {"model": "b", "text": ["y"]}],
            "line 1, field 'responses[1].text': must be a string",
        ),
    ],
)
def test_bad_responses_are_named(project, tmp_path, responses, message):
    from django.core.management import CommandError

    path = write(tmp_path / "bad.jsonl", [{"prompt": "p", "responses": responses}])
    with pytest.raises(CommandError, match=f"^{path}: " + message.replace("[", r"\[").replace("]", r"\]")):
        call_command("import_comparisons", str(path), "--project", "cmp")
    assert not Comparison.objects.exists()


def test_a_response_over_the_projects_limit_is_refused(project, tmp_path):
    from django.core.management import CommandError

    project.max_response_bytes = 10
    project.save()
    path = write(
        tmp_path / "long.jsonl",
        [{"prompt": "p", "responses": [{"model": "a", "text": "short"}, {"model": "b", "text": "x" * 11}]}],
    )
    with pytest.raises(
        CommandError, match=r"line 1, field 'responses\[1\].text': 11 bytes, the project's limit is 10"
    ):
        call_command("import_comparisons", str(path), "--project", "cmp")
    assert not Comparison.objects.exists()
