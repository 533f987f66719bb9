"""docker-compose.yml is for users (no Docker engine runs in CI): check it parses and is complete."""

from __future__ import annotations

import shutil
import subprocess

import yaml

from gateway.settings import REPO_ROOT


def test_compose_file_names_the_services_users_need() -> None:
    doc = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    services = doc["services"]
    assert {"rabbitmq", "postgres", "api", "worker"} <= set(services)
    assert "management" in services["rabbitmq"]["image"]
    assert services["api"]["command"][:2] == ["gateway", "serve"]
    assert services["worker"]["command"] == ["gateway", "worker"]
    for role in ("api", "worker"):
        env = services[role]["environment"]
        assert env["GATEWAY_AMQP_URL"].startswith("amqp://") and "@rabbitmq:" in env["GATEWAY_AMQP_URL"]
        assert (
            env["GATEWAY_DATABASE_URL"].startswith("postgresql://")
            and "@postgres:" in env["GATEWAY_DATABASE_URL"]
        )


def test_compose_file_is_valid_for_docker_compose_when_the_client_is_installed() -> None:
    docker = shutil.which("docker")
    if docker is None:  # the YAML checks above still ran
        return
    if subprocess.run([docker, "compose", "version"], capture_output=True, timeout=60).returncode != 0:
        return  # a client without the compose plugin; the YAML checks above still ran
    result = subprocess.run(
        [docker, "compose", "-f", str(REPO_ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
