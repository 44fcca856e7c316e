"""Streaming: the file is the same whatever the chunk size and however often the prompt cache is
emptied, progress is reported after each chunk, and judgments made during an export wait for the
next one."""

from __future__ import annotations

import pytest

from tests.platform_factories import make_comparison, project_with_comparisons, vote
from webapp.datasets import exporting
from webapp.datasets.exporting import ExportSpec, export

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    project = project_with_comparisons(7, overlap=2)
    for k, comparison in enumerate(project.comparisons.order_by("id")):
        vote(comparison, "alice", "ab"[k % 2], 1 + k % 3)
        vote(comparison, "bob", ["a", "tie", "both_bad"][k % 3])
    return project


CASES = [(f, a) for f in ("trl", "hh", "parquet") for a in ("all", "majority")] + [("raw", "all")]


@pytest.mark.parametrize(("fmt", "aggregation"), CASES)
def test_chunks_and_cache_do_not_change_the_file(project, tmp_path, monkeypatch, fmt, aggregation):
    spec = ExportSpec(fmt, aggregation=aggregation)
    whole = export(project, spec, tmp_path / "whole" / "out").path.read_bytes()
    monkeypatch.setattr(exporting, "CHUNK", 2)
    monkeypatch.setattr(exporting, "PROMPT_CACHE", 3)
    calls = []
    chunked = export(project, spec, tmp_path / "chunked" / "out", progress=lambda d, t: calls.append((d, t)))
    if fmt != "parquet":  # Parquet's row groups differ with the chunk; its rows are checked below
        assert chunked.path.read_bytes() == whole
    else:
        import pyarrow.parquet as pq

        assert (
            pq.read_table(chunked.path).to_pylist() == pq.read_table(tmp_path / "whole" / "out").to_pylist()
        )
    assert calls[0] == (0, 14) and calls[-1] == (14, 14) and len(calls) > 4
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_judgments_made_during_an_export_wait(project, tmp_path, monkeypatch):
    monkeypatch.setattr(exporting, "CHUNK", 3)
    late = make_comparison(project, prompt="late?")

    def judge_meanwhile(done, total):
        if done == 3:
            vote(late, "carol", "a")

    result = export(project, ExportSpec("raw"), tmp_path / "raw.jsonl", progress=judge_meanwhile)
    assert result.counts["rows"] == 14 == len(result.path.read_text().splitlines())
    assert export(project, ExportSpec("raw"), tmp_path / "again.jsonl").counts["rows"] == 15


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_chunks_are_read_ahead_in_a_thread(tmp_path, monkeypatch):
    """Committed rows: the reader thread (its own connection) reads them, the file is the same as
    read inline; a reader stopped half-way ends its thread and leaves no file."""
    from django.db import transaction

    project = project_with_comparisons(5)
    for comparison in project.comparisons.all():
        vote(comparison, "alice", "a")
    monkeypatch.setattr(exporting, "CHUNK", 2)
    threaded = export(project, ExportSpec("trl"), tmp_path / "threaded.jsonl")
    with transaction.atomic():  # inline, on this connection
        inline = export(project, ExportSpec("trl"), tmp_path / "inline.jsonl")
    assert threaded.path.read_bytes() == inline.path.read_bytes() and threaded.counts["pairs"] == 5

    calls = []
    original = exporting._chunks

    def failing(rows, key):
        for number, chunk in enumerate(original(rows, key)):
            calls.append(number)
            if number == 1:
                raise RuntimeError("stopped by the test")
            yield chunk

    monkeypatch.setattr(exporting, "_chunks", failing)
    with pytest.raises(RuntimeError, match="stopped by the test"):
        export(project, ExportSpec("trl"), tmp_path / "failed.jsonl")
    assert calls == [0, 1] and not (tmp_path / "failed.jsonl").exists()  # nothing half-written
