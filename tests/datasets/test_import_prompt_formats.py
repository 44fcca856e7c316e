"""Prompts also come as CSV (a `prompt` column, optional `split` and `source`), Parquet, and a
Hugging Face dataset directory (command only); what a file holds is told by its first bytes,
not its name. Errors name the line (CSV) or row (tables) and the field, and write nothing."""

from __future__ import annotations

import gzip
import json

import pytest
from django.core.management import CommandError, call_command

from tests import platform_factories as factories
from tests.datasets.import_files import turns
from webapp.catalog.models import Prompt

pytestmark = pytest.mark.django_db

CSV = (
    "prompt,split,source,topic\n"
    "Why is the sky blue?,,,physics\n"
    '"A prompt, with a comma\nand a second line",eval,handmade,\n'
    "\n"
    "Name a prime.,train,,maths\n"
).encode()


@pytest.fixture
def project():
    return factories.make_project("fmt")


def run(path) -> None:
    call_command("import_prompts", "--project", "fmt", str(path))


def stored() -> list[tuple]:
    return [(p.last_user_message, p.split, p.source, p.metadata) for p in Prompt.objects.order_by("id")]


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("name", ["prompts.csv", "prompts.txt"])
def test_csv_rows_become_prompts(project, tmp_path, name, compressed):
    path = tmp_path / name
    path.write_bytes(gzip.compress(CSV) if compressed else CSV)
    run(path)
    assert stored() == [
        ("Why is the sky blue?", "train", str(path), {"topic": "physics"}),
        ("A prompt, with a comma\nand a second line", "eval", "handmade", {}),
        ("Name a prime.", "train", str(path), {"topic": "maths"}),
    ]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"question\nWhy?\n", "line 2, field 'prompt': missing (a CSV of prompts needs a 'prompt' column)"),
        (b"prompt,split\nfine,\nWhy?,test\n", "line 3, field 'split': must be one of train, eval"),
        (b"prompt,split\nfine,train\nWhy?,train,extra\n", "line 3: 3 cells, the header has 2"),
        (b'prompt\nfine\n"caf\xe9"\n', "line 3: not valid UTF-8 (byte 5)"),
        (b'prompt,split\n"two\nlines",train\n"a\x00b",train\n', "line 4, field 'prompt': contains a NUL"),
    ],
)
def test_a_bad_csv_row_is_named(project, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError) as refused:
        run(path)
    assert message in str(refused.value)
    assert not Prompt.objects.exists()


def test_json_lines_named_csv_are_read_as_json_lines(project, tmp_path):
    path = tmp_path / "mislabelled.csv"
    path.write_bytes(b'{"prompt": "from JSON"}\n')
    run(path)
    assert stored()[0][0] == "from JSON"


def parquet_file(path, rows):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=2)
    return path


def test_parquet_rows_become_prompts_whatever_the_name(project, tmp_path):
    rows = [
        {"prompt": "one?", "split": "eval", "source": None},
        {"prompt": "two?", "split": None, "source": "table"},
        {"prompt": "three?", "split": "train", "source": None},
    ]
    path = parquet_file(tmp_path / "prompts.bin", rows)
    run(path)
    assert [(m, s, src) for m, s, src, _ in stored()] == [
        ("one?", "eval", str(path)),
        ("two?", "train", "table"),
        ("three?", "train", str(path)),
    ]


def test_a_preference_export_in_parquet_imports_its_prompts(project, tmp_path):
    from training.data import PreferenceRecord, write_parquet

    prompt = turns("a", "b", "name a fruit")
    path = write_parquet(
        [PreferenceRecord(prompt, "pear", "rock", metadata={"k": 1})], tmp_path / "x.parquet"
    )
    run(path)
    assert Prompt.objects.get().conversation == prompt


def test_a_bad_parquet_row_is_named(project, tmp_path):
    path = parquet_file(tmp_path / "bad.parquet", [{"prompt": "fine"}, {"prompt": "fine"}, {"prompt": ""}])
    with pytest.raises(CommandError, match=r"row 3, field 'prompt': must be a non-empty string"):
        run(path)
    assert not Prompt.objects.exists()


def test_a_dataset_directory_imports_with_its_splits(project, tmp_path):
    from datasets import Dataset, DatasetDict

    single = tmp_path / "single"
    Dataset.from_list([{"prompt": "alone?"}]).save_to_disk(str(single))
    run(single)
    both = tmp_path / "both"
    DatasetDict(
        {
            "train": Dataset.from_list([{"prompt": "to train?"}]),
            "test": Dataset.from_list([{"prompt": "to evaluate?"}, {"prompt": "and this?"}]),
        }
    ).save_to_disk(str(both))
    run(both)
    assert [(m, s) for m, s, _, _ in stored()] == [
        ("alone?", "train"),
        ("to train?", "train"),
        ("to evaluate?", "eval"),
        ("and this?", "eval"),
    ]


def test_a_bad_dataset_row_is_named(project, tmp_path):
    from datasets import Dataset

    path = tmp_path / "bad"
    Dataset.from_list([{"prompt": "fine", "split": "train"}, {"prompt": "x", "split": "dev"}]).save_to_disk(
        str(path)
    )
    with pytest.raises(CommandError, match=r"row 2, field 'split': must be one of train, eval"):
        run(path)
    empty = tmp_path / "not-a-dataset"
    empty.mkdir()
    with pytest.raises(CommandError, match=r"row 1: not a Hugging Face dataset directory"):
        run(empty)
    assert not Prompt.objects.exists()


def test_every_line_is_checked_before_any_is_written_then_written_in_batches(project, tmp_path):
    """2,500 lines with a bad last one: not one INSERT is sent. Good: the prompts go in batches of
    1,000 (three INSERTs on PostgreSQL; SQLite's bound-parameter limit splits them further)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    lines = [json.dumps({"prompt": f"question {i}?"}) + "\n" for i in range(2500)]
    path = tmp_path / "many.jsonl"
    path.write_text("".join(lines[:-1]) + '{"prompt": 7}\n')
    with CaptureQueriesContext(connection) as queries, pytest.raises(CommandError, match="line 2500"):
        run(path)
    assert not [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    path.write_text("".join(lines))
    with CaptureQueriesContext(connection) as queries:
        run(path)
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 3 if connection.vendor == "postgresql" else len(inserts) >= 3
    assert Prompt.objects.count() == 2500
    assert Prompt.objects.order_by("-id").first().last_user_message == "question 2499?"
