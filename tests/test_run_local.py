"""scripts/run_local.py (what `make run` runs): the embedded Redis and stopping whole process groups."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "run_local.py"


@pytest.fixture(scope="module")
def run_local():
    spec = importlib.util.spec_from_file_location("run_local", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as gone
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_embedded_redis_binary_answers_ping(run_local, tmp_path):
    binary = run_local.redis_server_binary()
    assert binary.is_file() and os.access(binary, os.X_OK)
    from tests.conftest import free_port

    port = free_port()
    assert not run_local.redis_ping(port)
    command = [str(binary), "--port", str(port), "--dir", str(tmp_path), "--save", ""]
    server = run_local.start("redis", command, dict(os.environ), stdout=subprocess.DEVNULL)
    try:
        run_local.wait_until(lambda: run_local.redis_ping(port), "redis", 20, server)
        assert run_local.port_in_use(port)
    finally:
        run_local.stop("redis", server)
    assert server.returncode is not None
    assert not run_local.port_in_use(port)


def test_stop_ends_the_whole_process_group_even_when_sigterm_is_ignored(run_local, tmp_path, monkeypatch):
    monkeypatch.setattr(run_local, "GRACE_SECONDS", 1.0)
    pids = tmp_path / "pids"
    # a leader that ignores SIGTERM and a grandchild of its own, like a prefork worker pool
    code = (
        "import os, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pids)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    leader = run_local.start("stubborn", [sys.executable, "-c", code], dict(os.environ))
    deadline = time.monotonic() + 20
    while not (pids.exists() and pids.read_text()):
        assert time.monotonic() < deadline, "the test process did not start its child"
        time.sleep(0.05)
    grandchild = int(pids.read_text())
    assert os.getpgid(grandchild) == leader.pid  # its own group, not the test's

    run_local.stop("stubborn", leader)
    assert leader.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while alive(grandchild):
        assert time.monotonic() < deadline, "the grandchild survived"
        time.sleep(0.05)
