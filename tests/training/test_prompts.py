"""training.prompts: prompts from prompt files and from every preference export format."""

from __future__ import annotations

import json
import re

import pytest

from training.data import (
    PreferenceRecord,
    write_hh,
    write_parquet,
    write_trl_conversational,
    write_trl_standard,
)
from training.prompts import load_prompts

RECORDS = [
    PreferenceRecord(
        prompt=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "name a fruit"},
        ],
        chosen="pear",
        rejected="rock",
    ),
    PreferenceRecord(
        prompt=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "name a fruit"},
        ],
        chosen="apple",
        rejected="car",
    ),
    PreferenceRecord(prompt=[{"role": "user", "content": "2+2?"}], chosen="4", rejected="5"),
]
EXPECTED = [RECORDS[0].prompt, RECORDS[2].prompt]


@pytest.mark.parametrize("writer", [write_trl_conversational, write_trl_standard, write_hh, write_parquet])
def test_every_export_format_gives_the_unique_prompts_in_order(tmp_path, writer):
    suffix = ".parquet" if writer is write_parquet else ".jsonl"
    path = writer(RECORDS, tmp_path / f"prefs{suffix}")
    assert load_prompts(path) == EXPECTED


def test_prompt_file_and_limit(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text(
        json.dumps({"prompt": "a"})
        + "\n\n"
        + json.dumps({"conversation": [{"role": "user", "content": "b"}]})
        + "\n"
    )
    assert load_prompts(path) == [[{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]]
    assert load_prompts(path, limit=1) == [[{"role": "user", "content": "a"}]]


def test_bad_line_is_named(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text(json.dumps({"prompt": "a"}) + "\n{oops\n")
    with pytest.raises(ValueError, match="line 2"):
        load_prompts(path)
    path.write_text(json.dumps({"prompt": "a"}) + "\n" + json.dumps({"text": "x"}) + "\n")
    with pytest.raises(ValueError, match="line 2: no prompt"):
        load_prompts(path)


def test_a_prompt_text_that_starts_with_a_bracket_is_text(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text(json.dumps({"prompt": "[citation needed] who said it?"}) + "\n")
    assert load_prompts(path) == [[{"role": "user", "content": "[citation needed] who said it?"}]]


@pytest.mark.parametrize(
    "row, message",
    [
        ({"prompt": "  "}, "line 1, field 'prompt': must be a non-empty string"),
        ({"conversation": []}, "line 1, field 'conversation': must be a non-empty list"),
        ({"conversation": [{"role": "bot", "content": "x"}]}, "line 1, field 'conversation[0]': must be"),
        ({"prompt": [{"role": "user", "content": 3}]}, "line 1, field 'prompt[0]': must be"),
        (
            {"conversation": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]},
            "line 1, field 'conversation': must end with a user message",
        ),
    ],
)
def test_a_malformed_row_names_its_field(tmp_path, row, message):
    """The same reader checks rows for the CLI and for the web's prompt import."""
    path = tmp_path / "prompts.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(ValueError, match=re.escape(message)):
        load_prompts(path)
