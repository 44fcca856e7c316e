"""How many threads torch may use: `PREFLOOP_TORCH_THREADS`, or one core fewer than the machine has.

torch's OpenMP pool spins at every barrier. When another process (the web server, the database,
another worker) takes one of its cores, each parallel region waits for the descheduled thread,
and throughput collapses: sampling SmolLM2 next to one busy process on 2 cores ran at 1.0 tokens/s
with 2 threads and 9.4 with 1 (`benchmarks/threads.py` measures it on any machine). A worker therefore leaves one core to the rest of the machine unless told
otherwise; a dedicated training machine sets PREFLOOP_TORCH_THREADS to its core count.
"""

from __future__ import annotations

import os

import torch


def default_threads() -> int:
    """Every core but one (at least one)."""
    return max(1, (os.cpu_count() or 1) - 1)


def configured_threads() -> int:
    """PREFLOOP_TORCH_THREADS (a positive integer, or `auto` / unset for `default_threads`)."""
    value = os.environ.get("PREFLOOP_TORCH_THREADS", "auto").strip() or "auto"
    if value == "auto":
        return default_threads()
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"PREFLOOP_TORCH_THREADS must be a positive integer or 'auto', not {value!r}")
    return int(value)


def configure_threads() -> int:
    """Apply the configured thread count to torch (intra-op); returns it."""
    threads = configured_threads()
    torch.set_num_threads(threads)
    return threads
