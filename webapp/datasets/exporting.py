"""The export engine: a project's judgments to a dataset file (and its card), streamed.

Rows go from the database to the file a chunk at a time (keyset pagination on the judgment id,
or on the comparison id when judgments are aggregated), as values tuples, never ORM objects and
never all at once: memory stays flat whatever the project's size. Each prompt conversation is
encoded once (prompts repeat across judgments) and spliced into every line as a pre-encoded
JSON fragment (orjson.Fragment).

Formats (services.EXPORT_FORMATS): the pairwise ones (trl, trl-standard, hh, parquet, hf) keep
the row shapes training.data writes and reads; `raw` has one row per judgment with every field.
Aggregation (pairwise formats only): `all` is one pair per A-or-B judgment (the round snapshot's
shape); `majority` one pair per comparison whose A or B votes are more than half of its votes
(ties and both-bad count against); `unanimous` one pair per comparison whose every vote is A, or
every vote is B.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from webapp.annotation.models import Assignment, Judgment
from webapp.catalog.models import Prompt, Response
from webapp.projects.models import Project

AGGREGATIONS = ("all", "majority", "unanimous")
PAIRWISE = ("trl", "trl-standard", "hh", "parquet", "hf")
CHUNK = 20_000  # judgments (or comparisons) per query: a few MB of rows at a time
PROMPT_CACHE = 50_000  # encoded prompts kept between chunks; cleared past this

_A, _B, _TIE, _BOTH_BAD = (Judgment.Choice.A.value, Judgment.Choice.B.value, "tie", "both_bad")
STRENGTH_MARGINS = {1: 0.0, 2: 0.5, 3: 1.0}  # training.data.STRENGTH_MARGINS (torch-free, but
# imported lazily there; the same numbers, checked by tests/datasets/test_export_formats.py)


def _formats() -> dict[str, tuple[str, str, str]]:
    from webapp.datasets.services import EXPORT_FORMATS

    return EXPORT_FORMATS


# ---------------------------------------------------------------------------------------------
# What to export


def _tuple_of(value: Any, name: str, kind: type) -> tuple | None:
    if value is None:
        return None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"field '{name}': expected a list, got {type(value).__name__}")
    items = []
    for index, item in enumerate(value):
        if kind is int:
            if isinstance(item, bool):
                raise ValueError(f"field '{name}' item {index}: expected a round number, got {item!r}")
            try:
                item = int(item)
            except (TypeError, ValueError):
                raise ValueError(
                    f"field '{name}' item {index}: expected a round number, got {item!r}"
                ) from None
            if item < 0:
                raise ValueError(f"field '{name}' item {index}: a round number is 0 or more, got {item}")
        elif not isinstance(item, str):
            raise ValueError(f"field '{name}' item {index}: expected a string, got {item!r}")
        items.append(item)
    return tuple(items)


def _moment(value: Any, name: str) -> datetime | None:
    """A datetime from a datetime or an ISO 8601 string (a date alone is its midnight); naive
    ones are in the site's time zone."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"field '{name}': not an ISO 8601 date or time: {value!r} (e.g. 2026-12-01 or 2026-12-01T09:30)"
            ) from None
    if not isinstance(value, datetime):
        raise ValueError(f"field '{name}': expected an ISO 8601 date or time, got {value!r}")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


@dataclass(frozen=True)
class ExportSpec:
    """Which judgments go out, in which format, aggregated how. Built from a form, the API or a
    command line by `from_mapping`, stored on a job by `to_mapping`."""

    fmt: str
    aggregation: str = "all"
    rounds: tuple[int, ...] | None = None  # round numbers of the comparisons' round (0: no round)
    after: datetime | None = None  # judgments created after (exclusive)
    before: datetime | None = None  # ... and at or before (inclusive)
    annotators: tuple[str, ...] | None = None  # usernames
    sources: tuple[str, ...] | None = None  # Judgment.source values ("" = judged here)

    def __post_init__(self) -> None:
        formats = _formats()
        if self.fmt not in formats:
            raise ValueError(f"field 'fmt': unknown format {self.fmt!r}; choose one of {', '.join(formats)}")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(
                f"field 'aggregation': unknown aggregation {self.aggregation!r}; "
                f"choose one of {', '.join(AGGREGATIONS)}"
            )
        if self.fmt == "raw" and self.aggregation != "all":
            raise ValueError(
                "field 'aggregation': raw has one row per judgment; aggregation applies to the pairwise formats"
            )
        for name, kind in (("rounds", int), ("annotators", str), ("sources", str)):
            object.__setattr__(self, name, _tuple_of(getattr(self, name), name, kind))
        for name in ("after", "before"):
            object.__setattr__(self, name, _moment(getattr(self, name), name))
        if self.after and self.before and self.after >= self.before:
            raise ValueError("field 'before': must be later than 'after'")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ExportSpec:
        """From a form, API or JSON dict (`format` is taken for `fmt`); ValueError naming the field."""
        if not isinstance(data, Mapping):
            raise ValueError("an export spec must be an object")
        data = dict(data)
        if "format" in data and "fmt" not in data:
            data["fmt"] = data.pop("format")
        known = {"fmt", "aggregation", "rounds", "after", "before", "annotators", "sources"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"field '{unknown[0]}': not an export setting; expected one of {', '.join(sorted(known))}"
            )
        if "fmt" not in data:
            raise ValueError("field 'fmt': missing")
        if data.get("aggregation") in (None, ""):
            data.pop("aggregation", None)
        for name in ("rounds", "annotators", "sources"):
            if data.get(name) == []:
                data[name] = None
        return cls(**data)

    def to_mapping(self) -> dict[str, Any]:
        """JSON-able; `from_mapping(spec.to_mapping()) == spec`."""
        return {
            "fmt": self.fmt,
            "aggregation": self.aggregation,
            "rounds": list(self.rounds) if self.rounds is not None else None,
            "after": self.after.isoformat() if self.after else None,
            "before": self.before.isoformat() if self.before else None,
            "annotators": list(self.annotators) if self.annotators is not None else None,
            "sources": list(self.sources) if self.sources is not None else None,
        }


@dataclass(frozen=True)
class ExportResult:
    path: Path  # the file (or directory for hf; .zip when archived)
    card: Path  # README.md dataset card beside it
    counts: dict[str, int] = field(default_factory=dict)


def _judgments(project: Project, spec: ExportSpec | None):
    """The project's judgments that pass the spec's filters (all of them without a spec)."""
    judgments = Judgment.objects.filter(comparison__project=project)
    if spec is None:
        return judgments
    if spec.rounds is not None:
        numbered = [n for n in spec.rounds if n > 0]
        where = Q(comparison__round__number__in=numbered)
        if 0 in spec.rounds:
            where |= Q(comparison__round__isnull=True)
        judgments = judgments.filter(where)
    if spec.after is not None:
        judgments = judgments.filter(created__gt=spec.after)
    if spec.before is not None:
        judgments = judgments.filter(created__lte=spec.before)
    if spec.annotators is not None:
        judgments = judgments.filter(annotator__username__in=spec.annotators)
    if spec.sources is not None:
        judgments = judgments.filter(source__in=spec.sources)
    return judgments


# ---------------------------------------------------------------------------------------------
# Counting


def _votes(judgments):
    """One row per comparison: its votes by choice and the strength sums of the A and B votes."""
    return (
        judgments.order_by()
        .values("comparison_id")
        .annotate(
            n=Count("id"),
            a=Count("id", filter=Q(choice=_A)),
            b=Count("id", filter=Q(choice=_B)),
            tie=Count("id", filter=Q(choice=_TIE)),
            both_bad=Count("id", filter=Q(choice=_BOTH_BAD)),
            sa=Sum("strength", filter=Q(choice=_A)),
            sb=Sum("strength", filter=Q(choice=_B)),
        )
    )


def _counts_query(judgments) -> dict[str, int]:
    inner, params = (
        _votes(judgments)
        .values_list("comparison_id", "n", "a", "b", "tie", "both_bad")
        .query.sql_with_params()
    )
    sql = (
        "SELECT COUNT(*), COALESCE(SUM(n), 0), COALESCE(SUM(a), 0), COALESCE(SUM(b), 0), "
        "COALESCE(SUM(tie), 0), COALESCE(SUM(both_bad), 0), "
        "COALESCE(SUM(CASE WHEN 2 * a > n OR 2 * b > n THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN a = n OR b = n THEN 1 ELSE 0 END), 0) "
        f"FROM ({inner}) votes"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        comparisons, n, a, b, tie, both_bad, majority, unanimous = (int(x) for x in cursor.fetchone())
    return {
        "judgments": n,
        "tie": tie,
        "both_bad": both_bad,
        "comparisons": comparisons,
        "a_or_b": a + b,
        "majority": majority,
        "unanimous": unanimous,
    }


def _shape(raw: dict[str, int], spec: ExportSpec | None) -> dict[str, int]:
    """The counts an export reports: judgments, pairs (records a pairwise format writes), tie,
    both_bad, comparisons, rows (records in the file)."""
    aggregation = spec.aggregation if spec else "all"
    fmt = spec.fmt if spec else "trl"
    pairs = raw["a_or_b"] if aggregation == "all" else raw[aggregation]
    counts = {
        "judgments": raw["judgments"],
        "pairs": pairs,
        "tie": raw["tie"],
        "both_bad": raw["both_bad"],
        "comparisons": raw["comparisons"],
        "rows": raw["judgments"] if fmt == "raw" else pairs,
    }
    if aggregation != "all":
        counts["left_out"] = raw["comparisons"] - pairs  # comparisons without a majority / unanimity
    return counts


def export_counts(project: Project, spec: ExportSpec | None = None) -> dict[str, int]:
    """What an export of `spec` would hold, in one aggregate query (for pages): judgments, pairs,
    tie, both_bad, comparisons, rows, and left_out (comparisons that make no pair) when
    aggregated. Without a spec: every judgment, aggregation `all`."""
    return _shape(_counts_query(_judgments(project, spec)), spec)


# ---------------------------------------------------------------------------------------------
# Reading rows in chunks


class _Prompts:
    """Prompt conversations by id, each read and encoded once: the JSON fragment for the JSON
    lines formats, the message list for Arrow, the HH text for the text formats."""

    def __init__(self) -> None:
        self.messages: dict[int, list[dict[str, str]]] = {}
        self._json: dict[int, orjson.Fragment] = {}
        self._hh: dict[int, str] = {}

    def load(self, prompt_ids: Iterator[int] | set[int]) -> None:
        missing = {pid for pid in prompt_ids if pid not in self.messages}
        if not missing:
            return
        if len(self.messages) + len(missing) > PROMPT_CACHE:
            self.messages.clear()
            self._json.clear()
            self._hh.clear()
        for pid, conversation in Prompt.objects.filter(id__in=missing).values_list("id", "conversation"):
            self.messages[pid] = [{"role": m["role"], "content": m["content"]} for m in conversation]

    def json(self, pid: int) -> orjson.Fragment:
        encoded = self._json.get(pid)
        if encoded is None:
            encoded = self._json[pid] = orjson.Fragment(orjson.dumps(self.messages[pid]))
        return encoded

    def hh(self, pid: int) -> str:
        text = self._hh.get(pid)
        if text is None:
            from training.data import hh_prompt

            text = self._hh[pid] = hh_prompt(self.messages[pid])
        return text


@dataclass
class _Pair:
    """One record of a pairwise format, before it is shaped."""

    prompt_id: int
    chosen: str
    rejected: str
    strength: int
    metadata: dict[str, Any]


_JUDGMENT_FIELDS = (
    "id",
    "choice",
    "strength",
    "reason",
    "annotator_id",
    "comparison_id",
    "comparison__prompt_id",
    "comparison__response_a__text",
    "comparison__response_b__text",
)


def _judgment_pairs(
    judgments, prompts: _Prompts, counts: dict[str, int]
) -> Iterator[tuple[list[_Pair], int]]:
    """Aggregation `all`: (pairs, judgments read) per chunk, oldest judgment first."""
    last = 0
    while True:
        rows = list(judgments.filter(id__gt=last).order_by("id").values_list(*_JUDGMENT_FIELDS)[:CHUNK])
        if not rows:
            return
        last = rows[-1][0]
        prompts.load({row[6] for row in rows})
        pairs = []
        for jid, choice, strength, reason, annotator_id, cid, pid, text_a, text_b in rows:
            if choice == _A:
                chosen, rejected = text_a, text_b
            elif choice == _B:
                chosen, rejected = text_b, text_a
            else:
                counts[choice] += 1
                continue
            metadata = {
                "comparison_id": cid,
                "judgment_id": jid,
                "annotator_id": annotator_id,
                "prompt_id": pid,
                "reason": reason,
            }
            pairs.append(_Pair(pid, chosen, rejected, strength, metadata))
        counts["judgments"] += len(rows)
        counts["pairs"] += len(pairs)
        yield pairs, len(rows)


def _round_half_up(total: int, n: int) -> int:
    return (2 * total + n) // (2 * n)


def _comparison_pairs(
    judgments, aggregation: str, prompts: _Prompts, counts: dict[str, int]
) -> Iterator[tuple[list[_Pair], int]]:
    """Aggregation `majority` / `unanimous`: one pair per comparison that passes, per chunk of
    comparisons in id order. Strength: the winning votes' mean, rounded half up."""
    from webapp.annotation.models import Comparison

    votes = _votes(judgments).values_list("comparison_id", "n", "a", "b", "tie", "both_bad", "sa", "sb")
    last = 0
    while True:
        rows = list(votes.filter(comparison_id__gt=last).order_by("comparison_id")[:CHUNK])
        if not rows:
            return
        last = rows[-1][0]
        winners: dict[int, tuple[str, int, dict[str, Any]]] = {}
        read = 0
        for cid, n, a, b, tie, both_bad, sa, sb in rows:
            read += n
            counts["judgments"] += n
            counts["tie"] += tie
            counts["both_bad"] += both_bad
            if aggregation == "majority":
                side = _A if 2 * a > n else _B if 2 * b > n else None
            else:
                side = _A if a == n else _B if b == n else None
            if side is None:
                counts["left_out"] += 1
                continue
            strength = _round_half_up(sa, a) if side == _A else _round_half_up(sb, b)
            metadata = {
                "comparison_id": cid,
                "judgments": n,
                "votes": {"a": a, "b": b, "tie": tie, "both_bad": both_bad},
            }
            winners[cid] = (side, strength, metadata)
        counts["comparisons"] += len(rows)
        texts = Comparison.objects.filter(id__in=list(winners)).values_list(
            "id", "prompt_id", "response_a__text", "response_b__text"
        )
        by_id = {row[0]: row for row in texts}
        prompts.load({row[1] for row in by_id.values()})
        pairs = []
        for cid, (side, strength, metadata) in winners.items():
            _, pid, text_a, text_b = by_id[cid]
            chosen, rejected = (text_a, text_b) if side == _A else (text_b, text_a)
            metadata["prompt_id"] = pid
            pairs.append(_Pair(pid, chosen, rejected, strength, metadata))
        counts["pairs"] += len(pairs)
        yield pairs, read


def _has_model_name() -> bool:
    """Response.model_name comes with imports (catalog 0004); until then raw writes ''."""
    return any(f.name == "model_name" for f in Response._meta.get_fields())


def pseudonym(project: Project, user_id: int) -> str:
    """An annotator's stable name within one project: an HMAC of the user id with SECRET_KEY, so
    it cannot be turned back into the user or matched across projects."""
    key = settings.SECRET_KEY.encode()
    digest = hmac.new(key, f"prefloop-annotator:{project.pk}:{user_id}".encode(), hashlib.sha256)
    return "annotator-" + digest.hexdigest()[:16]


def _raw_rows(
    project: Project, judgments, prompts: _Prompts, counts: dict[str, int]
) -> Iterator[tuple[list[bytes], int]]:
    """Format `raw`: one JSON line per judgment, every field, oldest first."""
    swapped = Assignment.objects.filter(
        comparison=OuterRef("comparison_id"), annotator=OuterRef("annotator_id")
    ).values("swapped")[:1]
    fields = [
        "id",
        "comparison_id",
        "comparison__prompt_id",
        "comparison__response_a__text",
        "comparison__response_b__text",
        "shown_swapped",
        "choice",
        "strength",
        "reason",
        "seconds_spent",
        "comparison__round__number",
        "comparison__response_a__policy__number",
        "comparison__response_b__policy__number",
        "annotator_id",
        "source",
        "created",
    ]
    with_models = _has_model_name()
    if with_models:
        fields += ["comparison__response_a__model_name", "comparison__response_b__model_name"]
    rows_of = judgments.annotate(shown_swapped=Subquery(swapped)).order_by("id").values_list(*fields)
    names: dict[int, str] = {}
    last = 0
    while True:
        rows = list(rows_of.filter(id__gt=last)[:CHUNK])
        if not rows:
            return
        last = rows[-1][0]
        prompts.load({row[2] for row in rows})
        lines = []
        for row in rows:
            (
                jid,
                cid,
                pid,
                text_a,
                text_b,
                shown_swapped,
                choice,
                strength,
                reason,
                seconds,
                round_number,
            ) = row[:11]
            policy_a, policy_b, annotator_id, source, created = row[11:16]
            model_a, model_b = row[16:18] if with_models else ("", "")
            name = names.get(annotator_id)
            if name is None:
                name = names[annotator_id] = pseudonym(project, annotator_id)
            if choice in (_TIE, _BOTH_BAD):
                counts[choice] += 1
            else:
                counts["pairs"] += 1
            lines.append(
                orjson.dumps(
                    {
                        "judgment_id": jid,
                        "comparison_id": cid,
                        "prompt_id": pid,
                        "prompt": prompts.json(pid),
                        "response_a": text_a,
                        "response_b": text_b,
                        # which response was shown on the left; None when never shown here (imported)
                        "shown_left": None if shown_swapped is None else ("b" if shown_swapped else "a"),
                        "choice": choice,
                        "strength": strength,
                        "reason": reason,
                        "seconds_spent": seconds,
                        "round": round_number,
                        "policy_a": policy_a,
                        "policy_b": policy_b,
                        "model_a": model_a,
                        "model_b": model_b,
                        "annotator": name,
                        "source": source,
                        "created": created.isoformat(),
                    }
                )
                + b"\n"
            )
        counts["judgments"] += len(rows)
        counts["rows"] += len(rows)
        yield lines, len(rows)


# ---------------------------------------------------------------------------------------------
# Writing


def _margin(strength: int) -> float:
    return STRENGTH_MARGINS[strength]


def _trl_line(pair: _Pair, prompts: _Prompts) -> bytes:
    return (
        orjson.dumps(
            {
                "prompt": prompts.json(pair.prompt_id),
                "chosen": [{"role": "assistant", "content": pair.chosen}],
                "rejected": [{"role": "assistant", "content": pair.rejected}],
                "margin": _margin(pair.strength),
                "strength": pair.strength,
                "metadata": pair.metadata,
            }
        )
        + b"\n"
    )


def _trl_standard_line(pair: _Pair, prompts: _Prompts) -> bytes:
    return (
        orjson.dumps(
            {
                "prompt": prompts.hh(pair.prompt_id),
                "chosen": " " + pair.chosen,
                "rejected": " " + pair.rejected,
                "margin": _margin(pair.strength),
                "strength": pair.strength,
                "metadata": pair.metadata,
            }
        )
        + b"\n"
    )


def _hh_line(pair: _Pair, prompts: _Prompts) -> bytes:
    prompt = prompts.hh(pair.prompt_id)
    return (
        orjson.dumps(
            {
                "chosen": prompt + " " + pair.chosen,
                "rejected": prompt + " " + pair.rejected,
                "margin": _margin(pair.strength),
                "strength": pair.strength,
                "metadata": pair.metadata,
            }
        )
        + b"\n"
    )


_LINES = {"trl": _trl_line, "trl-standard": _trl_standard_line, "hh": _hh_line}


def _arrow_schema(conversational: bool):
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    if conversational:  # the hf rows: training.data.to_trl_rows(metadata_as_json=True)
        return pa.schema(
            [
                ("prompt", pa.list_(message)),
                ("chosen", pa.list_(message)),
                ("rejected", pa.list_(message)),
                ("margin", pa.float64()),
                ("strength", pa.int64()),
                ("metadata", pa.string()),
            ]
        )
    return pa.schema(  # training.data.write_parquet's
        [
            ("prompt", pa.list_(message)),
            ("chosen", pa.string()),
            ("rejected", pa.string()),
            ("strength", pa.int64()),
            ("margin", pa.float64()),
            ("metadata", pa.string()),
        ]
    )


def _arrow_table(pairs: list[_Pair], prompts: _Prompts, conversational: bool):
    import pyarrow as pa

    def reply(text: str) -> Any:
        return [{"role": "assistant", "content": text}] if conversational else text

    columns = {
        "prompt": [prompts.messages[p.prompt_id] for p in pairs],
        "chosen": [reply(p.chosen) for p in pairs],
        "rejected": [reply(p.rejected) for p in pairs],
        "strength": [p.strength for p in pairs],
        "margin": [_margin(p.strength) for p in pairs],
        "metadata": [orjson.dumps(p.metadata, option=orjson.OPT_SORT_KEYS).decode() for p in pairs],
    }
    return pa.Table.from_pydict(columns, schema=_arrow_schema(conversational))


def _temp_beside(out: Path, suffix: str = ".tmp") -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=suffix, dir=out.parent)
    os.close(fd)
    return Path(tmp)


Progress = Callable[[int, int], None]


def _stream(
    chunks: Iterator[tuple[list, int]], write: Callable[[list], None], total: int, progress: Progress | None
) -> None:
    done = 0
    for items, read in chunks:
        write(items)
        done += read
        if progress is not None:
            progress(done, total)


def _write_lines(
    out: Path, chunks, total: int, progress: Progress | None, line: Callable | None, prompts
) -> None:
    tmp = _temp_beside(out)
    try:
        with open(tmp, "wb", buffering=1 << 20) as handle:
            if line is None:  # already lines (raw)
                _stream(chunks, handle.writelines, total, progress)
            else:
                _stream(
                    chunks,
                    lambda pairs: handle.writelines([line(p, prompts) for p in pairs]),
                    total,
                    progress,
                )
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_parquet(
    out: Path, chunks, total: int, progress: Progress | None, prompts, conversational: bool
) -> None:
    import pyarrow.parquet as pq

    tmp = _temp_beside(out)
    try:
        with pq.ParquetWriter(tmp, _arrow_schema(conversational)) as writer:

            def write(pairs: list[_Pair]) -> None:
                if pairs:
                    writer.write_table(_arrow_table(pairs, prompts, conversational))

            _stream(chunks, write, total, progress)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_hf(work: Path, chunks, total: int, progress: Progress | None, prompts) -> Path:
    """A `datasets` directory (load_from_disk) inside `work`: the rows go to a Parquet file in
    row groups, which `datasets` converts to its Arrow files batch by batch; memory stays flat."""
    from datasets import Dataset

    parquet = work / "rows.parquet"
    _write_parquet(parquet, chunks, total, progress, prompts, conversational=True)
    dataset = Dataset.from_parquet(str(parquet), cache_dir=str(work / "cache"), split="train")
    directory = work / "dataset"
    dataset.save_to_disk(str(directory))
    del dataset
    return directory


def _place_hf(directory: Path, out: Path, archive: bool) -> Path:
    """Move the finished dataset directory to `out`, or zip it to `out`.zip (renamed into place)."""
    if archive:  # one folder named like the export inside, as the web download always had
        zip_path = out.with_name(out.name + ".zip")
        named = directory.parent / "zip" / out.name
        named.parent.mkdir()
        directory.rename(named)
        made = shutil.make_archive(
            str(directory.parent / "archive"), "zip", root_dir=named.parent, base_dir=out.name
        )
        os.replace(made, zip_path)
        return zip_path
    if out.exists():
        shutil.rmtree(out)
    directory.rename(out)
    return out


def export(
    project: Project,
    spec: ExportSpec,
    out: Path,
    *,
    archive: bool = False,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the judgments `spec` selects to `out` (atomically: a temp file renamed into place)
    and the dataset card `README.md` beside it. `hf` is a directory, zipped when `archive` (the
    zip is `out` with .zip). `progress(done_judgments, total_judgments)` is called after each
    chunk. The export holds the judgments that existed when it began."""
    out = Path(out)
    upto = _judgments(project, None).aggregate(m=Max("id"))["m"] or 0
    judgments = _judgments(project, spec).filter(id__lte=upto)
    expected = _shape(_counts_query(judgments), spec)
    total = expected["judgments"]
    counts = {"judgments": 0, "pairs": 0, "tie": 0, "both_bad": 0, "comparisons": 0, "rows": 0}
    prompts = _Prompts()
    if spec.fmt == "raw":
        chunks: Iterator = _raw_rows(project, judgments, prompts, counts)
    elif spec.aggregation == "all":
        chunks = _judgment_pairs(judgments, prompts, counts)
    else:
        counts["left_out"] = 0
        chunks = _comparison_pairs(judgments, spec.aggregation, prompts, counts)
    if progress is not None:
        progress(0, total)
    if spec.fmt in _LINES or spec.fmt == "raw":
        _write_lines(out, chunks, total, progress, _LINES.get(spec.fmt), prompts)
        path = out
    elif spec.fmt == "parquet":
        _write_parquet(out, chunks, total, progress, prompts, conversational=False)
        path = out
    else:  # hf: a directory, or its zip
        archive = archive or out.suffix == ".zip"
        if out.suffix == ".zip":
            out = out.with_suffix("")
        out.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        try:
            directory = _write_hf(work, chunks, total, progress, prompts)
            path = _place_hf(directory, out, archive)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if spec.fmt != "raw":
        counts["rows"] = counts["pairs"]
    if spec.aggregation == "all":
        counts["comparisons"] = expected["comparisons"]
    from webapp.datasets.cards import write_card

    card = write_card(project, spec, path, counts)
    return ExportResult(path=path, card=card, counts=counts)
