"""A folder as a streamed tar archive: what the checkpoint download sends, a block at a time,
without a temp file or the whole model in memory."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Iterator


def tar_stream(folder: str | Path, arcname: str, block: int = 1 << 20) -> Iterator[bytes]:
    """Yield a ustar/pax archive of `folder` (its files under `arcname/`) in pieces of at most
    `block` bytes: each member's header from tarfile, its bytes, padding to 512, then the end.

    Raises FileNotFoundError at once (not mid-download) when the folder is missing."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(root)
    files = sorted(p for p in root.rglob("*") if p.is_file())

    def generate() -> Iterator[bytes]:
        written = 0
        for path in files:
            info = tarfile.TarInfo(f"{arcname}/{path.relative_to(root)}")
            stat = path.stat()
            info.size, info.mtime, info.mode = stat.st_size, int(stat.st_mtime), 0o644
            header = info.tobuf(tarfile.PAX_FORMAT)
            yield header
            written += len(header)
            with open(path, "rb") as handle:
                while chunk := handle.read(block):
                    yield chunk
            padding = -stat.st_size % tarfile.BLOCKSIZE
            yield b"\0" * padding
            written += stat.st_size + padding
        end = 2 * tarfile.BLOCKSIZE
        yield b"\0" * (end + (-(written + end) % tarfile.RECORDSIZE))

    return generate()
