"""An import file's rows, read as often as the import needs (validate, then write).

What a file holds is told by its first bytes, not its name: gzip (its magic bytes; the content
inside is told the same way), Parquet (`PAR1`), JSON lines (a line starting with `{`) or CSV
(a header line); a directory is a Hugging Face dataset (`datasets.load_from_disk`). Every
reader streams: JSON lines and CSV one line at a time, Parquet in record batches, a dataset
from its memory-mapped Arrow files, so memory stays flat whatever the size. Each pass over a
`RowSource` starts again from the top of the file (a file on disk or a Django upload can be
re-read), so an import can check every row before it writes one.

Errors are `ImportFileError`, whose message starts with where: `line N` (JSON lines, CSV) or
`row N` (Parquet, datasets), then the field: `line 3, field 'prompt': ...`.
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from webapp.catalog.text import strict_json

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
# Parquet rows are read this many at a time (one Arrow record batch).
PARQUET_BATCH = 1000

Numbered = Iterator[tuple[str, dict[str, Any]]]  # ("line 3", row)


class ImportFileError(ValueError):
    """Bad input in an import file; the message names the line (or row, or item) and field."""


def field_error(where: str, field: str, problem: str) -> ImportFileError:
    return ImportFileError(f"{where}, field '{field}': {problem}")


def decode_line(where: str, raw: str | bytes) -> dict[str, Any]:
    """One JSON line as an object (NaN and Infinity refused); bytes are decoded here, so that a
    bad byte names its line."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"{where}: not valid UTF-8 (byte {exc.start + 1})") from exc
    try:
        row = strict_json(raw)
    except json.JSONDecodeError as exc:
        raise ImportFileError(f"{where}: not valid JSON ({exc.msg})") from exc
    except ValueError as exc:  # NaN, Infinity
        raise ImportFileError(f"{where}: not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise ImportFileError(f"{where}: JSON nested too deeply") from exc
    if not isinstance(row, dict):
        raise ImportFileError(f"{where}: expected a JSON object")
    return row


def lines(handle: IO[bytes], max_bytes: int | None, what: str = "") -> Iterator[bytes]:
    """The lines of `handle`. A file that is not valid gzip, or (given `max_bytes`) lines past
    `max_bytes` in all, raise ImportFileError with the line: a .gz can unpack to far more than
    was uploaded, and one line is never read whole past the cap."""
    total, line_number = 0, 0
    while True:
        try:
            line = handle.readline(-1 if max_bytes is None else max_bytes - total + 1)
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise ImportFileError(f"line {line_number + 1}: the file is not valid gzip ({exc})") from exc
        if not line:
            return
        line_number += 1
        total += len(line)
        if max_bytes is not None and total > max_bytes:
            raise ImportFileError(
                f"line {line_number}: the file is over {max_bytes:,} bytes{what}, this page's limit; "
                "split it, or import it with `manage.py`"
            )
        yield line


@dataclass(frozen=True)
class RowSource:
    """The rows of one import file: each `iter()` reads the file again from the top."""

    kind: str  # "jsonl", "csv", "parquet" or "dataset"
    read: Callable[[], Numbered]

    def __iter__(self) -> Numbered:
        return self.read()


def open_rows(file: IO[bytes] | Path, name: str = "", max_bytes: int | None = None) -> RowSource:
    """The rows of `file`: an open binary file or upload (seekable), or the Path of a dataset
    directory. `max_bytes` caps the bytes of text read (a .gz counted unpacked)."""
    if isinstance(file, Path):
        if file.is_dir():
            return RowSource("dataset", lambda: _dataset_rows(file))
        raise ImportFileError(f"{name or file}: not a file or a dataset directory")
    head = file.read(4)
    file.seek(0)
    if head.startswith(PARQUET_MAGIC):
        return RowSource("parquet", lambda: _parquet_rows(file))
    compressed = head.startswith(GZIP_MAGIC)
    kind = _text_kind(_peek(file, compressed), name)
    reader = _csv_rows if kind == "csv" else _jsonl_rows
    return RowSource(kind, lambda: reader(file, compressed, max_bytes))


def _stream(file: IO[bytes], compressed: bool) -> IO[bytes]:
    file.seek(0)
    return gzip.GzipFile(fileobj=file, mode="rb") if compressed else file


def _peek(file: IO[bytes], compressed: bool) -> bytes:
    try:
        head = _stream(file, compressed).read(4096)
    except (OSError, EOFError, zlib.error):
        head = b""  # the first pass names the broken gzip with its line
    file.seek(0)
    return head


def _text_kind(head: bytes, name: str) -> str:
    """JSON lines when the first thing in the file is a `{` (or the file is empty); CSV when
    it starts with a header naming a `prompt` column, or the name says .csv."""
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if first in (b"{", b"", b"["):
        return "jsonl"
    header = head.splitlines()[0] if head else b""
    named_csv = name.lower().removesuffix(".gz").endswith(".csv")
    looks_csv = b"prompt" in header.lower() and b"," in header or header.strip().lower() == b"prompt"
    return "csv" if named_csv or looks_csv else "jsonl"


def _jsonl_rows(file: IO[bytes], compressed: bool, max_bytes: int | None) -> Numbered:
    what = " uncompressed" if compressed else ""
    for line_number, raw in enumerate(lines(_stream(file, compressed), max_bytes, what), start=1):
        if raw.strip():
            where = f"line {line_number}"
            yield where, decode_line(where, raw)


def _csv_rows(file: IO[bytes], compressed: bool, max_bytes: int | None) -> Numbered:
    """CSV with a header line; a row's line is the line it starts on (a quoted field may hold
    newlines). Cells are strings; empty cells are left out of the row."""
    csv.field_size_limit(max(csv.field_size_limit(), sys.maxsize >> 1))  # the project's limits apply
    at = [0]  # the physical line last read

    def text_lines() -> Iterator[str]:
        what = " uncompressed" if compressed else ""
        for raw in lines(_stream(file, compressed), max_bytes, what):
            at[0] += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ImportFileError(f"line {at[0]}: not valid UTF-8 (byte {exc.start + 1})") from exc
            yield text.removeprefix("\ufeff") if at[0] == 1 else text

    reader = csv.reader(text_lines())
    try:
        header = next(reader, None)
        if header is None:
            return
        header = [cell.strip() for cell in header]
        while True:
            start = at[0] + 1
            cells = next(reader, None)
            if cells is None:
                return
            if not any(cell.strip() for cell in cells):
                continue
            where = f"line {start}"
            if len(cells) != len(header):
                raise ImportFileError(f"{where}: {len(cells)} cells, the header has {len(header)}")
            yield where, {key: value for key, value in zip(header, cells) if value != ""}
    except csv.Error as exc:
        raise ImportFileError(f"line {at[0]}: not valid CSV ({exc})") from exc


def _parquet_rows(file: IO[bytes]) -> Numbered:
    import pyarrow as pa
    import pyarrow.parquet as pq

    file.seek(0)
    number = 0
    try:
        batches = pq.ParquetFile(file).iter_batches(batch_size=PARQUET_BATCH)
        for batch in batches:
            for row in batch.to_pylist():
                number += 1
                yield f"row {number}", {k: v for k, v in row.items() if v is not None}
    except (pa.ArrowException, OSError) as exc:
        raise ImportFileError(f"row {number + 1}: not readable Parquet ({exc})") from exc


def _dataset_rows(directory: Path) -> Numbered:
    """A `datasets` directory: one dataset, or a DatasetDict whose splits are read in order
    (each row without a `split` of its own gets `train` from a split named train, else `eval`)."""
    from datasets import Dataset, load_from_disk

    try:
        loaded = load_from_disk(str(directory))
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise ImportFileError(f"row 1: not a Hugging Face dataset directory ({exc})") from exc
    parts = [(None, loaded)] if isinstance(loaded, Dataset) else list(loaded.items())
    number = 0
    for split, dataset in parts:
        for row in dataset:
            number += 1
            row = {k: v for k, v in row.items() if v is not None}
            if split is not None and "split" not in row:
                row["split"] = "train" if split == "train" else "eval"
            yield f"row {number}", row
