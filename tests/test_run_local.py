"""scripts/run_local.py (what `make run` runs): the embedded Redis and stopping whole process groups."""

from __future__ import annotations

import importlib.util
import os
import signal
import stat
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


def test_secret_key_is_generated_once_and_kept_private(run_local, tmp_path, monkeypatch):
    """Without SECRET_KEY the settings refuse to load (DEBUG off), so `make run` brings its own."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    var = tmp_path / "var"
    key = run_local.secret_key(var)
    assert len(key) >= 50
    path = var / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert run_local.secret_key(var) == key  # the same key on the next run: sessions survive
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert run_local.secret_key(var) == "from-the-environment"


def test_the_children_can_load_the_settings_with_the_generated_key(run_local, tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    env.update(SECRET_KEY=run_local.secret_key(tmp_path), PREFLOOP_VAR=str(tmp_path))
    code = "import django; django.setup(); from django.conf import settings; print(len(settings.SECRET_KEY))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=SCRIPT.parents[1],
        env={**env, "DJANGO_SETTINGS_MODULE": "webapp.config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) >= 50
