"""Prompt import is all-or-nothing and names the bad line and field."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import CommandError, call_command

from webapp.catalog.models import Prompt
from webapp.datasets.services import PromptImportError, import_prompts
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project() -> Project:
    return Project.objects.create(name="P", slug="p")


def test_imports_plain_and_conversation_lines(project):
    lines = [
        json.dumps({"prompt": "Hi?", "split": "eval", "metadata": {"k": 1}}),
        "",
        json.dumps(
            {
                "conversation": [
                    {"role": "user", "content": "a"},
                    {"role": "assistant", "content": "b"},
                    {"role": "user", "content": "c"},
                ]
            }
        ),
    ]
    assert import_prompts(project, lines, source="file.jsonl") == 2
    first, second = Prompt.objects.order_by("id")
    assert first.conversation == [{"role": "user", "content": "Hi?"}] and first.split == "eval"
    assert second.last_user_message == "c" and second.source == "file.jsonl"


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("{not json", "line 2: not valid JSON"),
        (json.dumps({"prompt": ""}), "line 2, field 'prompt': must be a non-empty string"),
        (json.dumps({"conversation": [{"role": "bot", "content": "x"}]}), "line 2, field 'conversation[0]'"),
        (
            json.dumps(
                {"conversation": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}
            ),
            "line 2, field 'conversation': must end with a user message",
        ),
        (json.dumps({"prompt": "x", "split": "test"}), "line 2, field 'split'"),
    ],
)
def test_bad_line_aborts_everything(project, bad_line, message):
    lines = [json.dumps({"prompt": "fine"}), bad_line, json.dumps({"prompt": "also fine"})]
    with pytest.raises(PromptImportError, match=message.replace("[", r"\[").replace("]", r"\]")):
        import_prompts(project, lines)
    assert not Prompt.objects.exists()


def test_command_reports_line_and_imports_nothing(project, tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text(json.dumps({"prompt": "ok"}) + "\n" + "[1, 2]\n")
    with pytest.raises(CommandError, match="line 2: expected a JSON object; nothing was imported"):
        call_command("import_prompts", "--project", "p", str(path))
    assert not Prompt.objects.exists()


NASTY = [
    (
        json.dumps({"prompt": "ok"}) + "\n" + '{"prompt": "a\\u0000b"}',
        "line 2, field 'prompt': contains a NUL",
    ),
    (
        '{"prompt": "\\ud800 lone"}',
        "line 1, field 'prompt': contains a lone UTF-16 surrogate",
    ),
    ('{"prompt": "x", "metadata": {"score": NaN}}', "line 1: not valid JSON (NaN is not a JSON number)"),
    (
        '{"prompt": "x", "metadata": {"score": Infinity}}',
        "line 1: not valid JSON (Infinity is not a JSON number)",
    ),
    ('{"prompt": "x", "metadata": ' + "[" * 100_000 + "]" * 100_000 + "}", "line 1: JSON nested too deeply"),
]


@pytest.mark.parametrize("text, message", NASTY, ids=["nul", "surrogate", "nan", "infinity", "deep"])
def test_nasty_input_is_refused_with_its_line_and_field(project, tmp_path, text, message):
    path = tmp_path / "prompts.jsonl"
    path.write_text(text + "\n", encoding="utf-8", errors="surrogatepass")
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("import_prompts", "--project", "p", str(path))
    assert not Prompt.objects.exists()


def test_invalid_utf8_names_the_line(project, tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_bytes(b'{"prompt": "fine"}\n{"prompt": "caf\xe9"}\n')
    with pytest.raises(CommandError, match=r"line 2: not valid UTF-8 \(byte 16\); nothing was imported"):
        call_command("import_prompts", "--project", "p", str(path))
    assert not Prompt.objects.exists()


def test_imports_the_prompts_of_a_preference_export(project, tmp_path):
    """Prompt rows are read by training.prompts, the CLI's reader: a TRL or HH-RLHF export imports."""
    from training.data import PreferenceRecord, write_hh, write_trl_conversational

    prompt = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    prompt.append({"role": "user", "content": "name a fruit"})
    records = [PreferenceRecord(prompt=prompt, chosen="pear", rejected="rock")]
    for writer in (write_trl_conversational, write_hh):
        path = writer(records, tmp_path / f"{writer.__name__}.jsonl")
        assert import_prompts(project, path.read_text().splitlines()) == 1
    assert [p.conversation for p in Prompt.objects.order_by("id")] == [prompt, prompt]


def test_the_command_reads_gzip_as_the_import_page_does(project, tmp_path):
    """The command and the web page read files one way: compressed by their first bytes."""
    import gzip

    path = tmp_path / "prompts.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"prompt": "a"}\n{"prompt": "b"}\n'))
    call_command("import_prompts", "--project", "p", str(path))
    assert [p.last_user_message for p in Prompt.objects.order_by("id")] == ["a", "b"]
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(gzip.compress(b'{"prompt": "c"}\n' * 50)[:40])
    with pytest.raises(CommandError, match="the file is not valid gzip"):
        call_command("import_prompts", "--project", "p", str(broken))
    assert Prompt.objects.count() == 2
