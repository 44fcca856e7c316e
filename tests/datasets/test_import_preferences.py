"""Preferences judged elsewhere (the export's formats, plain or gzip) become complete comparisons,
each judged once, A = the chosen, by the inactive `imported` user, marked with their source:
they never enter the annotators' queue."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests import platform_factories as factories
from tests.datasets.import_files import turns, write
from webapp.annotation.models import Comparison, Judgment
from webapp.annotation.services import next_assignment
from webapp.catalog.models import Prompt
from webapp.datasets.imports import import_preferences, import_user
from webapp.projects.roles import Role

pytestmark = pytest.mark.django_db

HH = [
    {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello!", "rejected": "\n\nHuman: Hi\n\nAssistant: Go away."},
    {
        "chosen": "\n\nHuman: a\n\nAssistant: b\n\nHuman: name a fruit\n\nAssistant: A pear.",
        "rejected": "\n\nHuman: a\n\nAssistant: b\n\nHuman: name a fruit\n\nAssistant: A rock.",
        "strength": 3,
    },
]
TRL = [
    {
        "prompt": turns("Hi"),
        "chosen": [{"role": "assistant", "content": "Hello!"}],
        "rejected": [{"role": "assistant", "content": "Go away."}],
        "chosen_model": "model-x",
        "rejected_model": "model-y",
    },
    {  # implicit prompt: the whole conversation in chosen and rejected
        "chosen": turns("a", "b", "name a fruit", "A pear."),
        "rejected": turns("a", "b", "name a fruit", "A rock."),
        "strength": 3,
    },
]
STANDARD = [
    {"prompt": "\n\nHuman: Hi\n\nAssistant:", "chosen": " Hello!", "rejected": " Go away."},
    {
        "prompt": "\n\nHuman: a\n\nAssistant: b\n\nHuman: name a fruit\n\nAssistant:",
        "chosen": " A pear.",
        "rejected": " A rock.",
        "strength": 3,
    },
]
FORMATS = {"hh": HH, "trl": TRL, "trl-standard": STANDARD}


@pytest.fixture
def project():
    return factories.make_project("prefs", overlap=3)


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_each_format_imports_as_judged_pairs(project, tmp_path, fmt, compressed):
    name = "prefs.jsonl.gz" if compressed else "prefs.jsonl"
    path = write(tmp_path / name, FORMATS[fmt], compressed)
    with open(path, "rb") as handle:
        result = import_preferences(project, handle, str(path), fmt)
    assert (result.prompts, result.comparisons, result.judgments) == (2, 2, 2)

    comparisons = list(
        Comparison.objects.filter(project=project)
        .order_by("id")
        .select_related("prompt", "response_a", "response_b")
    )
    assert [c.prompt.conversation for c in comparisons] == [turns("Hi"), turns("a", "b", "name a fruit")]
    assert [(c.response_a.text, c.response_b.text) for c in comparisons] == [
        ("Hello!", "Go away."),
        ("A pear.", "A rock."),
    ]
    assert {(c.status, c.judgments_needed, c.judged, c.leased) for c in comparisons} == {
        ("complete", 1, 1, 0)
    }
    judgments = list(Judgment.objects.order_by("id"))
    assert [(j.comparison_id, j.choice, j.strength) for j in judgments] == [
        (comparisons[0].pk, "a", 2),
        (comparisons[1].pk, "a", 3),
    ]
    assert {j.source for j in judgments} == {f"{fmt}:{name}"}
    assert {j.annotator.username for j in judgments} == {"imported"}
    assert {p.source for p in Prompt.objects.all()} == {f"{fmt}:{name}"}


def test_model_names_come_from_the_row_else_the_source(project, tmp_path):
    path = write(tmp_path / "trl.jsonl", TRL)
    with open(path, "rb") as handle:
        import_preferences(project, handle, "trl.jsonl", "trl")
    first, second = Comparison.objects.order_by("id").select_related("response_a", "response_b")
    assert (first.response_a.model_name, first.response_b.model_name) == ("model-x", "model-y")
    assert (second.response_a.model_name, second.response_b.model_name) == ("trl:trl.jsonl",) * 2
    assert first.response_a.policy is None


def test_imported_pairs_never_enter_the_queue(project, tmp_path):
    annotator = factories.make_member(project, "ann", Role.ANNOTATOR)
    path = write(tmp_path / "hh.jsonl", HH)
    with open(path, "rb") as handle:
        import_preferences(project, handle, "hh.jsonl", "hh")
    assert next_assignment(project, annotator) is None


def test_the_imported_user_cannot_log_in_and_is_made_once(project, tmp_path):
    for name in ("one.jsonl", "two.jsonl"):
        with open(write(tmp_path / name, HH), "rb") as handle:
            import_preferences(project, handle, name, "hh")
    user = import_user()
    assert not user.is_active and not user.has_usable_password()
    assert Judgment.objects.filter(annotator=user).count() == 4
    assert set(Judgment.objects.values_list("source", flat=True)) == {"hh:one.jsonl", "hh:two.jsonl"}


def test_a_row_of_another_format_is_named(project, tmp_path):
    from django.core.management import CommandError

    path = write(tmp_path / "standard.jsonl", STANDARD)
    with pytest.raises(
        CommandError,
        match=r"line 1, field 'prompt': not part of the hh format, whose rows are two full transcripts",
    ):
        call_command("import_preferences", str(path), "--project", "prefs", "--format", "hh")
    with pytest.raises(
        CommandError, match=r"line 1, field 'chosen': expected a message list in the trl format"
    ):
        call_command("import_preferences", str(path), "--project", "prefs", "--format", "trl")
    assert not Comparison.objects.exists()


def test_the_command_says_what_it_imported(project, tmp_path, capsys):
    path = write(tmp_path / "hh.jsonl.gz", HH, compressed=True)
    call_command("import_preferences", str(path), "--project", "prefs", "--format", "hh")
    assert "imported 2 judged pairs of 2 prompts (source 'hh:hh.jsonl.gz')" in capsys.readouterr().out


def test_a_parquet_export_imports_as_trl(project, tmp_path):
    """The export's Parquet rows (prompt as messages, metadata as JSON text) read as trl rows."""
    from training.data import PreferenceRecord, write_parquet

    records = [
        PreferenceRecord(turns("Hi"), "Hello!", "Go away.", strength=1, metadata={"k": 1}),
        PreferenceRecord(turns("a", "b", "name a fruit"), "A pear.", "A rock.", strength=3),
    ]
    path = write_parquet(records, tmp_path / "prefs.parquet")
    call_command("import_preferences", str(path), "--project", "prefs", "--format", "trl")
    comparisons = Comparison.objects.order_by("id").select_related("prompt", "response_a", "response_b")
    assert [(c.prompt.conversation, c.response_a.text, c.response_b.text) for c in comparisons] == [
        (r.prompt, r.chosen, r.rejected) for r in records
    ]
    assert list(Judgment.objects.order_by("id").values_list("strength", "source")) == [
        (1, "trl:prefs.parquet"),
        (3, "trl:prefs.parquet"),
    ]
    assert comparisons[0].prompt.metadata == {"k": 1}
