"""Imports: prompts, preferences judged elsewhere, and responses made elsewhere to judge here.

Every import is all or nothing, at any size, in two passes over the file (`readers.RowSource`):
the first checks every row and keeps none, the second writes them in batches of `BATCH_SIZE`
with `bulk_create`, all inside one transaction. So memory stays flat, and a bad row anywhere
(the last of a million) writes nothing; its error names the line (`row` in a table, `item` in
an API body) and the field: `line 3, field 'chosen': missing`.

* Prompts (`import_prompt_file`): JSON lines, CSV, Parquet or a dataset directory of prompt rows.
* Preferences (`import_preferences`, formats `PREFERENCE_FORMATS`, the export's names): each
  pair becomes a prompt, two responses (`model_name` from the row's `chosen_model` /
  `rejected_model`, else the import's source) and a comparison that is already complete (it
  never enters the annotators' queue), judged once, A (the chosen) over B, by the inactive
  `imported` user, with `Judgment.source = "<format>:<file name>"`. UltraFeedback rows (a
  prompt and rated completions) give one pair for every two completions whose scores differ,
  the higher-rated chosen; a row with no such two gives none and is skipped.
* Comparisons (`import_comparisons`): a prompt and 2 to `MAX_RESPONSES` responses by named
  models; every pair of them becomes a pending comparison (the project's overlap as judgments
  needed) for the queue, sides as given: the queue picks the shown order at random.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterable, TypeVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction

from training.data import DEFAULT_STRENGTH, record_from_row
from training.prompts import prompt_conversation
from webapp.annotation.models import Comparison, Judgment
from webapp.catalog.models import Prompt, Response
from webapp.catalog.text import conversation_problem, text_problem, utf8_size
from webapp.datasets.readers import ImportFileError, Numbered, RowSource, field_error, open_rows
from webapp.projects.models import Project

PREFERENCE_FORMATS: dict[str, str] = {
    "hh": "HH-RLHF: full chosen/rejected transcripts",
    "trl": "TRL conversational: prompt, chosen and rejected as message lists",
    "trl-standard": "TRL standard: prompt, chosen and rejected as plain text",
    "ultrafeedback": "UltraFeedback: an instruction and rated completions (or binarized chosen/rejected)",
}
BATCH_SIZE = 1000
MAX_RESPONSES = 6  # per compared prompt: 15 pairs
IMPORT_USERNAME = "imported"
SCORE_FIELDS = ("overall_score", "rating", "score")

T = TypeVar("T")


@dataclass
class ImportResult:
    prompts: int = 0
    comparisons: int = 0
    judgments: int = 0


def import_user() -> AbstractBaseUser:
    """The one inactive user who holds every imported judgment (made on first use); refused
    if someone made a real account with its name, whose judgments these are not."""
    user, created = get_user_model().objects.get_or_create(
        username=IMPORT_USERNAME, defaults={"is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    elif user.is_active or user.has_usable_password():
        raise ImportFileError(
            f"the user {IMPORT_USERNAME!r} can log in: it must be prefloop's inactive holder of "
            "imported judgments; rename that account first"
        )
    return user


# ---------------------------------------------------------------------------------------------
# The two passes


Progress = Callable[..., None]  # progress(done, total, phase="checking" | "writing")


def _run(
    rows: Iterable[tuple[str, dict[str, Any]]],
    parse: Callable[[str, dict], T],
    write: Callable[[list[T]], None],
    empty: str | None,
    progress: Progress | None = None,
) -> None:
    """Check every row (keeping none), then parse again and write in batches, in one transaction.
    No rows at all is the error `empty` (None: nothing to do). `progress`, when given, hears of
    every row checked (total 0: not known yet) and every batch written (of the rows checked)."""
    checked = 0
    for where, row in rows:
        parse(where, row)
        checked += 1
        if progress is not None:
            progress(checked, 0, phase="checking")
    if not checked:
        if empty is None:
            return
        raise ImportFileError(empty)
    written = 0
    with transaction.atomic():
        batch: list[T] = []
        for where, row in rows:
            batch.append(parse(where, row))
            if len(batch) >= BATCH_SIZE:
                write(batch)
                written += len(batch)
                batch = []
                _forget_queries()
                if progress is not None:
                    progress(written, checked, phase="writing")
        if batch:
            write(batch)
            written += len(batch)
        if progress is not None:
            progress(written, checked, phase="writing")


def _forget_queries() -> None:
    """With DEBUG on, Django keeps the SQL of the last 9,000 queries, and one batch INSERT's is
    about a megabyte: dropped after each batch so memory stays flat in development too (a test's
    CaptureQueriesContext, which forces the log on, keeps it)."""
    if not connection.force_debug_cursor:
        connection.queries_log.clear()


def _clean_name(name: str) -> str:
    return "".join(ch for ch in name if ch.isprintable())[:200]


def file_source(fmt: str, name: str) -> str:
    return _clean_name(f"{fmt}:{Path(name).name}")


def _items(rows: Iterable[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """An API body's items, numbered; read twice, so held (the body is in memory already)."""
    numbered = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise ImportFileError(f"item {number}: expected a JSON object")
        numbered.append((f"item {number}", row))
    return numbered


EMPTY_FILE = "line 1: the file is empty: nothing to import"
EMPTY_ITEMS = "item 1: no items: nothing to import"


# ---------------------------------------------------------------------------------------------
# Checks shared by every kind


def _conversation(where: str, row: dict[str, Any], max_bytes: int) -> list[dict[str, str]]:
    """The row's prompt as a conversation: any row training.prompts reads (prefloop's own, TRL's
    prompt lists, HH-RLHF text), then checked by catalog.text.conversation_problem."""
    try:
        conversation = prompt_conversation(row, where)
    except ValueError as exc:
        raise ImportFileError(str(exc)) from exc
    one_field = "prompt" if isinstance(row.get("prompt"), str) and "conversation" not in row else ""
    found = conversation_problem(conversation, max_bytes, one_field if len(conversation) == 1 else "")
    if found:
        raise field_error(where, *found)
    return conversation


def _metadata_problem(value: Any) -> str | None:
    """Why a JSON value cannot be stored (PostgreSQL's jsonb refuses NUL), or None."""
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list):
        return next((p for p in map(_metadata_problem, value) if p), None)
    return None


def _metadata(where: str, metadata: Any, max_bytes: int) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise field_error(where, "metadata", "must be an object")
    problem = _metadata_problem(metadata)
    size = utf8_size(json.dumps(metadata, ensure_ascii=False, default=str))
    if not problem and size > max_bytes:  # never shown, but stored with the prompt: its limit
        problem = f"{size:,} bytes as JSON, the project's limit is {max_bytes:,}"
    if problem:
        raise field_error(where, "metadata", problem)
    return metadata


def _text(where: str, field: str, value: Any, max_bytes: int | None) -> str:
    if not isinstance(value, str):
        raise field_error(where, field, "missing" if value is None else "must be a string")
    problem = text_problem(value, max_bytes)
    if problem:
        raise field_error(where, field, problem)
    return value


def _model(where: str, field: str, value: Any, default: str) -> str:
    if value is None or value == "":
        return default
    return _text(where, field, value, 200)


# ---------------------------------------------------------------------------------------------
# Prompts


def prompt_row(where: str, row: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """A prompt row's fields for a Prompt, checked: conversation, split, source, metadata."""
    conversation = _conversation(where, row, max_bytes)
    split = row.get("split", Prompt.Split.TRAIN)
    if split not in Prompt.Split.values:
        raise field_error(where, "split", f"must be one of {', '.join(Prompt.Split.values)}")
    metadata = _metadata(where, row.get("metadata", {}), max_bytes)
    source = str(row.get("source", ""))[:200]
    problem = text_problem(source)
    if problem:
        raise field_error(where, "source", problem)
    return {"conversation": conversation, "split": split, "source": source, "metadata": metadata}


def _table_row(kind: str, where: str, row: dict[str, Any]) -> dict[str, Any]:
    """A CSV row's cells, or a table row's columns, as a prompt row: CSV cells other than prompt,
    split and source go to metadata; a table's metadata may be JSON text (as exports write it)."""
    if kind == "csv":
        if "prompt" not in row:
            raise field_error(where, "prompt", "missing (a CSV of prompts needs a 'prompt' column)")
        named = {k: row[k] for k in ("prompt", "split", "source") if k in row}
        extra = {k: v for k, v in row.items() if k not in named}
        return {**named, "metadata": extra} if extra else named
    if kind in ("parquet", "dataset") and isinstance(row.get("metadata"), str):
        try:
            return {**row, "metadata": json.loads(row["metadata"])}
        except json.JSONDecodeError:
            raise field_error(where, "metadata", "not valid JSON") from None
    return row


def import_prompts(project: Project, lines: Iterable[str | bytes], source: str = "") -> int:
    """Import prompts from JSON lines already in memory (text, or bytes decoded here so that a
    bad byte names its line), all or nothing.

    Each line: {"prompt": "..."} or {"conversation": [{role, content}, ...]}, optional "split"
    (train/eval), "source", "metadata". Every line is validated before anything is written:
    valid Unicode without NUL, and within the project's `max_prompt_bytes`.
    """
    from webapp.datasets.readers import decode_line

    held = list(lines)

    def numbered() -> Numbered:
        for number, raw in enumerate(held, start=1):
            if raw.strip():
                yield f"line {number}", decode_line(f"line {number}", raw)

    return _import_prompt_rows(project, RowSource("jsonl", numbered), source, empty=None)


def _import_prompt_rows(
    project: Project, rows: RowSource, source: str, empty: str | None, progress: Progress | None = None
) -> int:
    max_bytes = project.max_prompt_bytes
    count = 0

    def parse(where: str, row: dict[str, Any]) -> Prompt:
        fields = prompt_row(where, _table_row(rows.kind, where, row), max_bytes)
        fields["source"] = fields["source"] or source
        return Prompt(project=project, **fields)

    def write(batch: list[Prompt]) -> None:
        nonlocal count
        Prompt.objects.bulk_create(batch)
        count += len(batch)

    _run(rows, parse, write, empty, progress)
    return count


def import_prompt_rows(project: Project, rows: Iterable[dict], source: str = "") -> int:
    """`import_prompts` for rows already parsed (the API's bulk create), all or nothing; errors
    name `item N` (the first row is item 1) instead of a line."""
    items = _items(rows)
    return _import_prompt_rows(
        project, RowSource("items", lambda: iter(items)), _clean_name(source), EMPTY_ITEMS
    )


def import_prompt_file(
    project: Project,
    handle: IO[bytes] | Path,
    name: str,
    max_bytes: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Import a file of prompts (an upload, one the command opened, or a dataset directory's
    Path), all or nothing: JSON lines, CSV (a `prompt` column, optional `split`, `source`) or
    Parquet, gzip-compressed or not, told by the first bytes (see `readers`); at most
    `max_bytes` of text when given (the web page's cap). Each prompt's source is the file's name
    unless its row names one."""
    rows = open_rows(handle, name, max_bytes)
    return _import_prompt_rows(project, rows, _clean_name(name), EMPTY_FILE, progress)


# ---------------------------------------------------------------------------------------------
# Preferences and comparisons


@dataclass
class _Item:
    """One row's writes: a prompt, its responses, and the pairs of them to compare."""

    conversation: list[dict[str, str]]
    metadata: dict[str, Any]
    responses: list[tuple[str, str]]  # (text, model name)
    pairs: list[tuple[int, int, int]]  # (response A, response B, strength of A over B if judged)
    source: str = ""
    split: str = Prompt.Split.TRAIN


_SHAPES = {
    # format -> (field, test, what it must be): a row of another format is named as such
    "hh": (
        "prompt",
        lambda row: "prompt" not in row,
        "not part of the hh format, whose rows are two full transcripts (is the file trl-standard?)",
    ),
    "trl": (
        "chosen",
        lambda row: isinstance(row.get("prompt"), list) or isinstance(row.get("chosen"), list),
        "expected a message list in the trl format (is the file trl-standard or hh?)",
    ),
    "trl-standard": (
        "prompt",
        lambda row: isinstance(row.get("prompt"), str),
        "expected text in the trl-standard format (is the file trl or hh?)",
    ),
}


def _pair_item(where: str, row: dict[str, Any], fmt: str, project: Project, source: str) -> _Item:
    """A TRL or HH row, read by training.data.record_from_row (one reader of these formats)."""
    if fmt in _SHAPES and "chosen" in row and "rejected" in row:
        field, fits, what = _SHAPES[fmt]
        if not fits(row):
            raise field_error(where, field, what)
    try:
        record = record_from_row(row, f"{where},")
    except ValueError as exc:
        raise ImportFileError(str(exc)) from exc
    found = conversation_problem(record.prompt, project.max_prompt_bytes)
    if found:
        named = {"hh": "chosen", "trl-standard": "prompt"}.get(fmt) or found[0].replace(
            "conversation", "prompt", 1
        )
        raise field_error(where, named, found[1])
    limit = project.max_response_bytes
    chosen = _text(where, "chosen", record.chosen, limit)
    rejected = _text(where, "rejected", record.rejected, limit)
    responses = [
        (chosen, _model(where, "chosen_model", row.get("chosen_model"), source)),
        (rejected, _model(where, "rejected_model", row.get("rejected_model"), source)),
    ]
    metadata = _metadata(where, record.metadata, project.max_prompt_bytes)
    return _Item(record.prompt, metadata, responses, [(0, 1, record.strength)])


def _score(where: str, field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise field_error(where, field, "missing" if value is None else "must be a number")
    return float(value)


def _ultrafeedback_item(where: str, row: dict[str, Any], project: Project, source: str) -> _Item | None:
    """UltraFeedback: {"instruction"|"prompt", "completions": [{"model", "response", "overall_score"
    |"rating"}, ...]}, every two completions with different scores a pair (the higher chosen);
    or the binarized rows: chosen/rejected (message lists or text) with score_chosen/score_rejected."""
    if "completions" not in row:
        if "chosen" not in row:
            raise field_error(where, "completions", "missing")
        if "score_chosen" in row or "score_rejected" in row:
            scores = [_score(where, f, row.get(f)) for f in ("score_chosen", "score_rejected")]
            if scores[0] == scores[1]:
                return None
            if scores[0] < scores[1]:
                raise field_error(where, "score_chosen", "lower than score_rejected")
        pair = dict(row)
        if isinstance(pair.get("chosen"), list) and isinstance(pair.get("prompt"), str):
            del pair["prompt"]  # binarized: the prompt is also the first turns of chosen/rejected
        return _pair_item(where, pair, "ultrafeedback", project, source)
    if "instruction" in row:
        instruction = row["instruction"]
        if not isinstance(instruction, str) or not instruction.strip():
            raise field_error(where, "instruction", "must be a non-empty string")
        conversation = [{"role": "user", "content": instruction}]
        found = conversation_problem(conversation, project.max_prompt_bytes, "instruction")
        if found:
            raise field_error(where, *found)
    else:
        conversation = _conversation(where, row, project.max_prompt_bytes)
    completions = row["completions"]
    if not isinstance(completions, list):
        raise field_error(where, "completions", "must be a list")
    responses, scores = [], []
    for index, completion in enumerate(completions):
        field = f"completions[{index}]"
        if not isinstance(completion, dict):
            raise field_error(where, field, "must be an object")
        key = "response" if "response" in completion or "text" not in completion else "text"
        text = _text(where, f"{field}.{key}", completion.get(key), project.max_response_bytes)
        score_key = next((k for k in SCORE_FIELDS if k in completion), SCORE_FIELDS[0])
        scores.append(_score(where, f"{field}.{score_key}", completion.get(score_key)))
        responses.append((text, _model(where, f"{field}.model", completion.get("model"), source)))
    pairs = []
    for i, j in itertools.combinations(range(len(responses)), 2):
        if scores[i] != scores[j]:
            better, worse = (i, j) if scores[i] > scores[j] else (j, i)
            pairs.append((better, worse, DEFAULT_STRENGTH))
    if not pairs:
        return None
    metadata = _metadata(where, row.get("metadata", {}), project.max_prompt_bytes)
    return _Item(conversation, metadata, responses, pairs)


def _comparison_item(where: str, row: dict[str, Any], project: Project, source: str) -> _Item:
    """{"prompt" (any prompt row), "responses": [{"model": "...", "text": "..."}, ...]}: 2 to
    MAX_RESPONSES responses, all pairs of them."""
    fields = prompt_row(where, row, project.max_prompt_bytes)
    responses = row.get("responses")
    if not isinstance(responses, list):
        raise field_error(where, "responses", "missing" if responses is None else "must be a list")
    if not 2 <= len(responses) <= MAX_RESPONSES:
        raise field_error(
            where, "responses", f"must hold 2 to {MAX_RESPONSES} responses, not {len(responses)}"
        )
    seen: dict[str, int] = {}
    held = []
    for index, response in enumerate(responses):
        field = f"responses[{index}]"
        if not isinstance(response, dict):
            raise field_error(where, field, "must be an object")
        text = _text(where, f"{field}.text", response.get("text"), project.max_response_bytes)
        model = _text(where, f"{field}.model", response.get("model"), 200)
        if not model.strip():
            raise field_error(where, f"{field}.model", "must name the model")
        if text in seen:
            raise field_error(where, f"{field}.text", f"the same text as responses[{seen[text]}]")
        seen[text] = index
        held.append((text, model))
    pairs = [(i, j, 0) for i, j in itertools.combinations(range(len(held)), 2)]
    return _Item(
        fields["conversation"], fields["metadata"], held, pairs, fields["source"] or source, fields["split"]
    )


def _writer(project: Project, prompt_source: str, judgment_source: str | None, result: ImportResult):
    """Writes a batch of items: prompts, responses, comparisons (complete and judged when
    `judgment_source` is given, else pending for the queue), judgments."""
    judges: list[AbstractBaseUser] = []  # the imported user, made once the rows are all good

    def write(batch: list[_Item | None]) -> None:
        if judgment_source is not None and not judges:
            judges.append(import_user())
        judge = judges[0] if judges else None
        items = [item for item in batch if item is not None]
        prompts = Prompt.objects.bulk_create(
            Prompt(
                project=project,
                conversation=i.conversation,
                metadata=i.metadata,
                split=i.split,
                source=i.source or prompt_source,
            )
            for i in items
        )
        responses = Response.objects.bulk_create(
            Response(prompt=p, text=text, model_name=model)
            for p, i in zip(prompts, items)
            for text, model in i.responses
        )
        comparisons, strengths, start = [], [], 0
        for prompt, item in zip(prompts, items):
            own = responses[start : start + len(item.responses)]
            start += len(item.responses)
            for a, b, strength in item.pairs:
                comparisons.append(
                    Comparison(
                        project=project,
                        prompt=prompt,
                        response_a=own[a],
                        response_b=own[b],
                        **(_DONE if judge else {"judgments_needed": project.overlap}),
                    )
                )
                strengths.append(strength)
        Comparison.objects.bulk_create(comparisons)
        if judge is not None:
            Judgment.objects.bulk_create(
                Judgment(
                    comparison=c,
                    annotator=judge,
                    choice=Judgment.Choice.A,
                    strength=s,
                    source=judgment_source,
                )
                for c, s in zip(comparisons, strengths)
            )
            result.judgments += len(comparisons)
        result.prompts += len(prompts)
        result.comparisons += len(comparisons)

    return write


_DONE = {"judgments_needed": 1, "judged": 1, "status": Comparison.Status.COMPLETE}


def _preference_parser(project: Project, fmt: str, model_default: str) -> Callable[[str, dict], _Item | None]:
    if fmt not in PREFERENCE_FORMATS:
        raise ImportFileError(f"unknown format {fmt!r}; choose one of {', '.join(PREFERENCE_FORMATS)}")
    if fmt == "ultrafeedback":
        return lambda where, row: _ultrafeedback_item(where, row, project, model_default)
    return lambda where, row: _pair_item(where, row, fmt, project, model_default)


def _import_preference_rows(
    project: Project, rows: Iterable, fmt: str, source: str, empty: str, progress: Progress | None = None
) -> ImportResult:
    parse = _preference_parser(project, fmt, source)
    result = ImportResult()
    _run(rows, parse, _writer(project, source, source, result), empty, progress)
    return result


def import_preferences(
    project: Project,
    handle: IO[bytes] | Path,
    name: str,
    fmt: str,
    max_bytes: int | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import preferences judged elsewhere from a file (see the module docstring), all or nothing:
    each pair a complete comparison judged by the `imported` user, source `"<fmt>:<file name>"`."""
    _preference_parser(project, fmt, "")  # an unknown format is refused before the file is read
    rows = open_rows(handle, name, max_bytes)
    return _import_preference_rows(project, rows, fmt, file_source(fmt, name), EMPTY_FILE, progress)


def import_preference_rows(project: Project, rows: Iterable[dict], fmt: str, source: str) -> ImportResult:
    """`import_preferences` for rows already parsed (the API's body); errors name `item N`."""
    return _import_preference_rows(project, _items(rows), fmt, _clean_name(source), EMPTY_ITEMS)


def _import_comparison_rows(
    project: Project, rows: Iterable, source: str, empty: str, progress: Progress | None = None
) -> ImportResult:
    result = ImportResult()
    _run(
        rows,
        lambda where, row: _comparison_item(where, row, project, source),
        _writer(project, source, None, result),
        empty,
        progress,
    )
    return result


def import_comparisons(
    project: Project,
    handle: IO[bytes] | Path,
    name: str,
    max_bytes: int | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import prompts with responses made elsewhere, to be judged here (see the module
    docstring), all or nothing; each prompt's source is the file's name unless its row names one."""
    rows = open_rows(handle, name, max_bytes)
    return _import_comparison_rows(project, rows, _clean_name(name), EMPTY_FILE, progress)


def import_comparison_rows(project: Project, rows: Iterable[dict], source: str) -> ImportResult:
    """`import_comparisons` for rows already parsed (the API's body); errors name `item N`."""
    return _import_comparison_rows(project, _items(rows), _clean_name(source), EMPTY_ITEMS)
