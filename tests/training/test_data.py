"""Preference records: every writer round-trips, HH transcripts split at their shared prompt."""

from __future__ import annotations

import gzip
import json

import pytest
from datasets import load_dataset, load_from_disk

from training import data
from training.data import (
    PreferenceRecord,
    margin_for_strength,
    read_hh,
    read_preferences,
    split_hh_pair,
    to_trl_rows,
)

RECORDS = [
    PreferenceRecord(
        prompt=[{"role": "user", "content": "What is 2+2?"}],
        chosen="4.",
        rejected="Five, probably.",
        strength=3,
        metadata={"comparison_id": 7, "reason": "correct"},
    ),
    PreferenceRecord(
        prompt=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "Tell me a joke\nwith two lines."},
        ],
        chosen="Why did the cat sit on the computer?\nTo keep an eye on the mouse.",
        rejected="No.",
        strength=1,
        metadata={"comparison_id": 8, "reason": None},
    ),
    PreferenceRecord(prompt=[{"role": "user", "content": "Ünïcödé? 🙂"}], chosen="Ja 🙂", rejected="nein"),
]

WRITERS = ["write_trl_conversational", "write_trl_standard", "write_hh", "write_parquet", "write_hf_dataset"]


def test_margin_mapping():
    assert [margin_for_strength(s) for s in (1, 2, 3)] == [0.0, 0.5, 1.0]
    assert margin_for_strength(2) == margin_for_strength(data.DEFAULT_STRENGTH)
    with pytest.raises(ValueError, match="strength"):
        margin_for_strength(4)


@pytest.mark.parametrize("writer", WRITERS)
def test_writer_round_trips_through_read_preferences(tmp_path, writer):
    out = tmp_path / "nested" / ("prefs" if writer == "write_hf_dataset" else "prefs.out")
    written = getattr(data, writer)(RECORDS, out)
    assert written == out and out.exists()
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temp files left behind
    assert read_preferences(written) == RECORDS


def test_trl_conversational_rows_load_with_datasets(tmp_path):
    path = data.write_trl_conversational(RECORDS, tmp_path / "prefs.jsonl")
    loaded = load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    assert len(loaded) == 3
    assert {"prompt", "chosen", "rejected", "margin", "strength", "metadata"} <= set(loaded.column_names)
    row = loaded[1]
    assert row["prompt"] == RECORDS[1].prompt
    assert row["chosen"] == [{"role": "assistant", "content": RECORDS[1].chosen}]
    assert row["margin"] == 0.0 and row["strength"] == 1
    assert row["metadata"]["comparison_id"] == 8
    assert to_trl_rows(RECORDS)[0]["margin"] == 1.0


def test_standard_and_hh_text(tmp_path):
    standard = data.write_trl_standard(RECORDS[:1], tmp_path / "std.jsonl")
    row = json.loads(standard.read_text())
    assert row["prompt"] == "\n\nHuman: What is 2+2?\n\nAssistant:"
    assert row["chosen"] == " 4." and row["rejected"] == " Five, probably."
    hh = json.loads(data.write_hh(RECORDS[:1], tmp_path / "hh.jsonl").read_text())
    assert hh["chosen"] == "\n\nHuman: What is 2+2?\n\nAssistant: 4."
    loaded = load_dataset("json", data_files=str(standard), split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded[0]["prompt"] + loaded[0]["chosen"] == hh["chosen"]


def test_parquet_and_hf_dataset_columns(tmp_path):
    parquet = data.write_parquet(RECORDS, tmp_path / "prefs.parquet")
    table = load_dataset("parquet", data_files=str(parquet), split="train", cache_dir=str(tmp_path / "cache"))
    assert table.column_names == ["prompt", "chosen", "rejected", "strength", "margin", "metadata"]
    assert table[1]["prompt"][0] == {"role": "system", "content": "Be brief."}
    assert json.loads(table[0]["metadata"]) == {"comparison_id": 7, "reason": "correct"}
    directory = data.write_hf_dataset(RECORDS, tmp_path / "hf")
    dataset = load_from_disk(str(directory))
    assert len(dataset) == 3 and dataset[2]["rejected"] == [{"role": "assistant", "content": "nein"}]
    data.write_hf_dataset(RECORDS[:1], directory)  # overwriting replaces the directory
    assert len(load_from_disk(str(directory))) == 1


def test_hh_split_at_common_prefix_multi_turn(tmp_path):
    shared = "\n\nHuman: hi there\n\nAssistant: Hello!\n\nHuman: How do I boil an egg?\n\nAssistant:"
    chosen = shared + " Put it in boiling water for 8 minutes."
    rejected = shared + " Put it in the microwave."
    prompt, good, bad = split_hh_pair(chosen, rejected)
    assert prompt == [
        {"role": "user", "content": "hi there"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "How do I boil an egg?"},
    ]
    assert (good, bad) == ("Put it in boiling water for 8 minutes.", "Put it in the microwave.")
    # replies that share their first words still split at the assistant turn, not mid-reply
    prompt, good, bad = split_hh_pair(shared + " Put it in water.", shared + " Put it in fire.")
    assert len(prompt) == 3 and (good, bad) == ("Put it in water.", "Put it in fire.")

    path = tmp_path / "hh.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"chosen": chosen, "rejected": rejected}) + "\n\n")
        handle.write(
            json.dumps({"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"})
        )
    records = read_hh(path)
    assert [r.chosen for r in records] == ["Put it in boiling water for 8 minutes.", "b"]
    assert records[1].metadata == {"source": "hh.jsonl.gz", "line": 3} and records[1].strength == 2
    assert read_preferences(path) == [
        PreferenceRecord(r.prompt, r.chosen, r.rejected) for r in records
    ]  # HH rows are detected by read_preferences too
    assert len(read_hh(path, limit=1)) == 1


def test_real_hh_file_parses():
    from pathlib import Path

    path = (
        Path(__file__).resolve().parent / "data" / "hh-harmless-base-sample.jsonl.gz"
    )  # 100 real, unedited lines
    records = read_hh(path)
    assert len(records) == 100
    assert all(r.prompt[-1]["role"] == "user" and r.chosen != r.rejected for r in records[:50])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"line 2: not valid JSON"),
        ('{"prompt": [{"role": "user"}], "chosen": "a", "rejected": "b"}', r"line 2 field 'prompt'"),
        ('{"prompt": "q", "chosen": "a"}', r"line 2 field 'rejected'"),
        ('{"prompt": "q", "chosen": "a", "rejected": "b", "strength": 9}', r"line 2 field 'strength'"),
        ('{"chosen": "no turns here", "rejected": "none"}', r"line 2 field 'chosen'/'rejected'"),
        ('{"prompt": "q", "chosen": 3, "rejected": "b"}', r"line 2 field 'chosen'"),
    ],
)
def test_bad_line_names_line_and_field(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    good = json.dumps(to_trl_rows(RECORDS[:1])[0])
    path.write_text(good + "\n" + line + "\n")
    with pytest.raises(ValueError, match=message):
        read_preferences(path)


def test_read_hh_bad_line(tmp_path):
    path = tmp_path / "hh.jsonl"
    path.write_text(json.dumps({"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": None}) + "\n")
    with pytest.raises(ValueError, match=r"line 1 field 'rejected'"):
        read_hh(path)
