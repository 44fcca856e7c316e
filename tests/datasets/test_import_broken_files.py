"""A broken file of any kind (prompts, preferences, comparisons) writes nothing, and its error names
the line and the field: bad JSON, a missing field, a wrong type, an empty file, invalid UTF-8, and
one bad line near the end of 10,000 good ones (checked before anything is written)."""

from __future__ import annotations

import gzip
import json
import re

import pytest
from django.core.management import CommandError, call_command

from tests import platform_factories as factories
from tests.datasets.import_files import jsonl, table_counts

pytestmark = pytest.mark.django_db

GOOD = {
    "prompts": {"prompt": "Hi, why is the sky blue?"},
    "preferences": {
        "chosen": "\n\nHuman: Hi\n\nAssistant: Hello!",
        "rejected": "\n\nHuman: Hi\n\nAssistant: No.",
    },
    "comparisons": {
        "prompt": "Hi",
        "responses": [{"model": "a", "text": "Hello!"}, {"model": "b", "text": "No."}],
    },
}
MISSING = {
    "prompts": ({"text": "no prompt here"}, "line 2: no prompt found"),
    "preferences": ({"chosen": "\n\nHuman: Hi\n\nAssistant: Hello!"}, "line 2, field 'rejected': missing"),
    "comparisons": ({"prompt": "Hi"}, "line 2, field 'responses': missing"),
}
WRONG_TYPE = {
    "prompts": ({"prompt": 42}, "line 2, field 'prompt': must be a non-empty string"),
    "preferences": (
        {"chosen": "\n\nHuman: Hi\n\nAssistant: x", "rejected": 7},
        "line 2, field 'rejected': expected a string",
    ),
    "comparisons": ({"prompt": "Hi", "responses": "two"}, "line 2, field 'responses': must be a list"),
}
KINDS = sorted(GOOD)


def run(kind: str, path) -> None:
    extra = ["--format", "hh"] if kind == "preferences" else []
    call_command(f"import_{kind}", str(path), "--project", "broken", *extra)


@pytest.fixture
def counted(tmp_path):
    """A project that already holds rows of every kind, and their counts."""
    project = factories.make_project("broken")
    factories.make_comparison(project)
    for kind in KINDS:  # one good import of each kind
        path = tmp_path / f"good-{kind}.jsonl"
        path.write_bytes(jsonl([GOOD[kind]]))
        run(kind, path)
    before = table_counts()
    assert all(before)
    return before


def refused(kind: str, path, message: str, before) -> None:
    with pytest.raises(CommandError) as error:
        run(kind, path)
    assert re.search(f"^{re.escape(str(path))}: {re.escape(message)}", str(error.value)), str(error.value)
    assert str(error.value).endswith("; nothing was imported")
    assert table_counts() == before


@pytest.mark.parametrize("kind", KINDS)
def test_bad_json(kind, tmp_path, counted):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(jsonl([GOOD[kind]]) + b'{"prompt": }\n' + jsonl([GOOD[kind]]))
    refused(kind, path, "line 2: not valid JSON (Expecting value)", counted)


@pytest.mark.parametrize("kind", KINDS)
def test_missing_field(kind, tmp_path, counted):
    row, message = MISSING[kind]
    path = tmp_path / "missing.jsonl"
    path.write_bytes(jsonl([GOOD[kind], row]))
    refused(kind, path, message, counted)


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_type(kind, tmp_path, counted):
    row, message = WRONG_TYPE[kind]
    path = tmp_path / "wrong.jsonl"
    path.write_bytes(jsonl([GOOD[kind], row]))
    refused(kind, path, message, counted)


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("kind", KINDS)
def test_empty_file(kind, tmp_path, counted, compressed):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(gzip.compress(b"\n\n") if compressed else b"")
    refused(kind, path, "line 1: the file is empty: nothing to import", counted)


@pytest.mark.parametrize("kind", KINDS)
def test_invalid_utf8(kind, tmp_path, counted):
    path = tmp_path / "latin1.jsonl"
    good = jsonl([GOOD[kind]])
    path.write_bytes(good + good.replace(b"Hi", b"H\xe9"))
    refused(kind, path, "line 2: not valid UTF-8", counted)


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("kind", KINDS)
def test_one_bad_line_near_the_end_of_ten_thousand(kind, tmp_path, counted, compressed):
    row, message = WRONG_TYPE[kind]
    lines = [json.dumps(GOOD[kind]).encode() + b"\n"] * 10_000
    lines[9_990] = json.dumps(row).encode() + b"\n"
    data = b"".join(lines)
    path = tmp_path / "big.jsonl.gz"
    path.write_bytes(gzip.compress(data) if compressed else data)
    refused(kind, path, message.replace("line 2", "line 9991"), counted)
