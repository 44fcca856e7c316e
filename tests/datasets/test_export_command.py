"""`manage.py export_preferences`: its options reach the engine, a progress bar goes to stderr,
bad input is a CommandError naming the option, and --push-to-hub fails clearly without a token
or a network."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from tests.platform_factories import make_comparison, make_round, project_with_comparisons, vote

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    project = project_with_comparisons(3, overlap=3)
    first, second, third = project.comparisons.order_by("id")
    for name, choice in (("alice", "a"), ("bob", "a"), ("carol", "b")):
        vote(first, name, choice)
    vote(second, "alice", "tie")
    vote(third, "alice", "b", source="hh:old.jsonl")
    make_comparison(project, prompt="round one?", round=make_round(project, 1))
    vote(project.comparisons.order_by("-id").first(), "bob", "a")
    return project


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("export_preferences", "--project", "demo", *args, stdout=out)
    return out.getvalue()


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_plain_export_with_progress_on_stderr(project, tmp_path, capsys):
    out = tmp_path / "prefs.jsonl"
    said = run("--out", str(out))
    assert f"wrote 5 preference pairs to {out}" in said and "skipped 1 ties and 0 both-bad" in said
    assert "card: " + str(tmp_path / "prefs.README.md") in said
    assert len(lines(out)) == 5
    assert "6/6" in capsys.readouterr().err  # tqdm's bar, judgments done / total


def test_options_reach_the_engine(project, tmp_path):
    out = tmp_path / "x.jsonl"
    said = run("--out", str(out), "--aggregation", "majority", "--no-progress")
    assert "wrote 3 preference pairs" in said and "1 comparisons without a majority pair" in said
    run("--out", str(out), "--round", "1", "--no-progress")
    assert [r["prompt"][0]["content"] for r in lines(out)] == ["round one?"]
    run("--out", str(out), "--annotator", "alice", "--annotator", "carol", "--no-progress")
    assert len(lines(out)) == 3  # alice's a and b, carol's b
    run("--out", str(out), "--source", "hh:old.jsonl", "--no-progress")
    assert len(lines(out)) == 1
    run("--out", str(out), "--after", "2000-01-01", "--before", "2000-12-31", "--no-progress")
    assert lines(out) == []
    said = run("--out", str(out), "--format", "raw", "--no-progress")
    assert "wrote 6 judgments" in said


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--after", "last tuesday"], "--after: not an ISO 8601 date or time: 'last tuesday'"),
        (["--before", "2026-13-01"], "--before: not an ISO 8601 date or time"),
        (["--after", "2026-12-02", "--before", "2026-12-01"], "--before: must be later than --after"),
        (["--round", "-2"], "--round item 0: a round number is 0 or more"),
        (["--annotator", "nobody"], "--annotator: no user named 'nobody'"),
        (["--format", "raw", "--aggregation", "unanimous"], "--aggregation: raw has one row per judgment"),
    ],
)
def test_bad_option_is_named(project, tmp_path, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        run("--out", str(tmp_path / "x.jsonl"), *args)
    assert not (tmp_path / "x.jsonl").exists()


def test_unknown_project(tmp_path):
    with pytest.raises(CommandError, match="no project with slug 'demo'"):
        run("--out", str(tmp_path / "x.jsonl"))


def test_push_to_hub_needs_a_token(project, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(CommandError, match="--push-to-hub needs a Hugging Face token in .*HF_TOKEN"):
        run("--out", str(tmp_path / "x.jsonl"), "--push-to-hub", "team/prefs")
    assert not (tmp_path / "x.jsonl").exists()  # refused before anything is written


def test_push_to_hub_without_network_is_a_clear_error(project, tmp_path, monkeypatch):
    """This machine reaches no hub; the endpoint is also pointed at a closed local port, so the
    test means the same where a network exists."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    out = tmp_path / "x.jsonl"
    with pytest.raises(
        CommandError, match="could not reach the Hugging Face Hub to push 'team/prefs'"
    ) as caught:
        run("--out", str(out), "--push-to-hub", "team/prefs", "--no-progress")
    assert f"the export is at {out}" in str(caught.value)
    assert len(lines(out)) == 5  # the export itself is kept
