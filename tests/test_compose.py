"""docker-compose.yml has the production shape: every service, queues, GPU trainer, gated start-up."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from workers.celery_app import QUEUES, SOLO, worker_argv

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
SERVICES = {"postgres", "redis", "migrate", "web", "worker", "trainer", "flower"}


def compose_config(**env: str) -> dict[str, Any]:
    """The compose file as `docker-compose config` resolves it (anchors, interpolation)."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose not found: apt-get install -y docker-compose (.ci/run installs it)")
    result = subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "config"],
        cwd=REPO,
        env={**os.environ, "SECRET_KEY": "test-secret-key", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return compose_config()


def queues(service: dict[str, Any]) -> set[str]:
    command = service["command"]
    assert isinstance(command, list), command
    assert command[:4] == ["celery", "-A", "workers", "worker"], command
    return set(command[command.index("-Q") + 1].split(","))


def published_targets(service: dict[str, Any]) -> set[str]:
    """Container ports, from the long form ({target: 8000}) or the short one ("127.0.0.1:5555:5555/tcp")."""
    targets = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            targets.add(str(port["target"]))
        else:
            targets.add(str(port).split("/")[0].rsplit(":", 1)[-1])
    return targets


def test_every_service_is_there(config):
    assert set(config["services"]) == SERVICES


def test_each_worker_serves_its_queues(config):
    services = config["services"]
    assert queues(services["worker"]) == {"default", "generate"}
    assert queues(services["trainer"]) == {"train"}
    trainer = services["trainer"]["command"]
    assert trainer[trainer.index("--concurrency") + 1] == "1"
    # together they serve every queue webapp/config/celery.py routes to, as the tests' worker does
    assert queues(services["worker"]) | queues(services["trainer"]) == set(QUEUES)


def test_the_one_worker_command_serves_every_routed_queue():
    from webapp.config.celery import app

    routed = {route["queue"] for route in app.conf.task_routes.values()} | {app.conf.task_default_queue}
    assert set(QUEUES) == routed
    argv = worker_argv("python", *SOLO)
    assert argv[argv.index("-Q") + 1].split(",") == list(QUEUES) and "solo" in argv


def test_trainer_reserves_one_nvidia_gpu(config):
    devices = config["services"]["trainer"]["deploy"]["resources"]["reservations"]["devices"]
    assert len(devices) == 1
    assert devices[0]["driver"] == "nvidia"
    assert devices[0]["count"] == 1
    assert "gpu" in devices[0]["capabilities"]


def test_start_up_is_gated_on_health_and_migrations(config):
    services = config["services"]
    for name in ("postgres", "redis"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    migrate = services["migrate"]
    assert "migrate" in " ".join(migrate["command"]) and "collectstatic" in " ".join(migrate["command"])
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate.get("restart", "no") == "no"
    for name in ("web", "worker", "trainer"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
    assert services["flower"]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_web_runs_gunicorn_and_flower_its_port(config):
    services = config["services"]
    assert services["web"]["command"][:2] == ["gunicorn", "webapp.config.wsgi:application"]
    assert "8000" in published_targets(services["web"])
    assert services["flower"]["command"][:4] == ["celery", "-A", "workers", "flower"]
    assert "5555" in published_targets(services["flower"])
    # nothing but the web app and Flower is published; the databases stay on the compose network
    assert {name for name, service in services.items() if service.get("ports")} == {"web", "flower"}


def test_app_services_share_settings_and_artifacts(config):
    services = config["services"]
    for name in ("migrate", "web", "worker", "trainer", "flower"):
        service = services[name]
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgres://"), name
        assert "@postgres:5432/" in env["DATABASE_URL"], name
        assert env["REDIS_URL"] == "redis://redis:6379/0", name
        assert env["SECRET_KEY"] == "test-secret-key", name
        assert env["DEBUG"] == "0", name
        assert env["ARTIFACT_ROOT"] == "/srv/artifacts", name
        assert service["build"]["dockerfile"] == "docker/Dockerfile", name
        mounts = [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in service["volumes"]]
        assert any(m.startswith("artifacts:/srv/artifacts") for m in mounts), (name, mounts)
    assert "artifacts" in config["volumes"]


def test_secret_key_is_required():
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose not found: apt-get install -y docker-compose (.ci/run installs it)")
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    result = subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
