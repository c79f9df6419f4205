"""The Dockerfile builds, and its image serves: a non-root process, the data in the volume,
the health check on /healthz passing.

Needs a Docker engine; skipped, with the reason, when the ``docker`` command is missing or its
daemon does not answer. The containers run with ``--network none``: the health check and the
requests below run inside the container, and nothing in a test can fetch from the internet.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "mot de passe « sûr » & #1"

# Run inside the container: what /healthz and / answer (the latter is the login page once an account exists).
REQUESTS = """
import urllib.request
for path in ("/healthz", "/"):
    with urllib.request.urlopen("http://127.0.0.1:8000" + path, timeout=5) as response:
        body = response.read().decode()
        print(path, response.status, response.url, body[:2000].replace("\\n", " "))
"""


def _docker() -> str:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker command on PATH: the image is not built or run")
    try:
        done = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        pytest.skip("the Docker daemon did not answer 'docker info' within 30 s")
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"the Docker daemon does not answer 'docker info': {reason}")
    return docker


def _run(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, encoding="utf-8", timeout=timeout, check=False)
    if check:
        assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def image() -> tuple[str, str]:
    docker = _docker()
    tag = f"causerie-test:{uuid.uuid4().hex[:12]}"
    # Pulls python:3.11-slim and installs the dependencies from PyPI: minutes the first time.
    _run(docker, "build", "--tag", tag, str(ROOT), timeout=1200)
    yield docker, tag
    _run(docker, "image", "rm", "--force", tag, check=False)


@pytest.fixture
def volume(image) -> str:
    docker, _ = image
    name = f"causerie-test-{uuid.uuid4().hex[:12]}"
    _run(docker, "volume", "create", name)
    yield name
    _run(docker, "volume", "rm", "--force", name, check=False)


def _container(docker: str, tag: str, volume: str, *args: str) -> list[str]:
    return [docker, "run", "--network", "none", "--volume", f"{volume}:/data", *args, tag]


def test_the_image_refuses_to_serve_before_an_account_exists(image, volume):
    docker, tag = image
    done = _run(*_container(docker, tag, volume, "--rm"), check=False)
    assert done.returncode != 0
    assert "reader user add NAME" in done.stdout + done.stderr


def test_the_image_serves_as_a_non_root_user_and_passes_its_health_check(image, volume):
    docker, tag = image
    created = _run(
        *_container(docker, tag, volume, "--rm", "--env", f"READER_PASSWORD={PASSWORD}"), "reader", "user", "add", "zoé"
    )
    assert "created zoé" in created.stdout

    # The image's own HEALTHCHECK command, asked every second instead of every 30.
    name = f"causerie-test-{uuid.uuid4().hex[:12]}"
    _run(*_container(docker, tag, volume, "--detach", "--name", name, "--health-interval", "1s"))
    try:
        deadline = time.monotonic() + 90
        while (health := _health(docker, name)) != "healthy":
            running = _run(docker, "inspect", "--format", "{{.State.Running}}", name).stdout.strip()
            logs = _run(docker, "logs", name, check=False)
            assert running == "true", f"the container stopped:\n{logs.stdout}\n{logs.stderr}"
            assert health != "unhealthy" and time.monotonic() < deadline, (
                f"health {health}:\n{logs.stdout}\n{logs.stderr}"
            )
            time.sleep(1)

        answers = _run(docker, "exec", name, "python", "-c", REQUESTS).stdout
        assert "/healthz 200 http://127.0.0.1:8000/healthz ok" in answers
        assert "/ 200 http://127.0.0.1:8000/login" in answers  # templates from the installed wheel
        assert _run(docker, "exec", name, "id", "-u").stdout.strip() == "10001"
        files = _run(docker, "exec", name, "ls", "/data").stdout.split()
        assert "reader.sqlite" in files and "secret_key" in files
    finally:
        _run(docker, "rm", "--force", name, check=False)


def _health(docker: str, name: str) -> str:
    return _run(docker, "inspect", "--format", "{{.State.Health.Status}}", name).stdout.strip()
