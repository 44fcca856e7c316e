"""How a training loop is told to stop early: a cancelled round asks, the loop raises `Stopped`."""

from __future__ import annotations


class Stopped(Exception):
    """`should_stop` asked the run to end (a cancelled round): nothing was saved."""
