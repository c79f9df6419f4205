"""The deployment files under deploy/ (and the Dockerfile, compose.yaml) hold together: the units
parse, systemd accepts them, and every setting they name is one the reader reads."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from reader.config import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = ("causerie.service", "causerie-fetch.service", "causerie-fetch.timer")
# Read by the CLI itself rather than the configuration: `reader user add` in scripts and containers.
CLI_ENVIRONMENT = {"READER_PASSWORD"}


def _unit(name: str) -> configparser.ConfigParser:
    # Unit files are INI-like, with repeated keys (Environment=) and no interpolation.
    parser = configparser.ConfigParser(interpolation=None, strict=False, comment_prefixes=("#", ";"))
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string((DEPLOY / name).read_text(encoding="utf-8"), source=name)
    return parser


def _environment(name: str) -> dict[str, str]:
    text = (DEPLOY / name).read_text(encoding="utf-8")
    return dict(re.findall(r"^Environment=(\w+)=(.*)$", text, re.MULTILINE))


@pytest.mark.parametrize("name", UNITS)
def test_units_parse(name):
    unit = _unit(name)
    assert unit["Unit"]["Description"]
    assert "Service" in unit or "Timer" in unit


@pytest.mark.parametrize("name", ["causerie.service", "causerie-fetch.service"])
def test_services_run_hardened_as_one_dynamic_user_on_one_database(name):
    service = _unit(name)["Service"]
    for key, value in {
        "DynamicUser": "yes",
        "User": "causerie",  # one name: the web and fetch units share the user and its files
        "StateDirectory": "causerie",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "ProtectHome": "yes",
    }.items():
        assert service.get(key) == value, f"{name}: {key}={service.get(key)}"
    assert _environment(name)["READER_DB"] == "/var/lib/causerie/reader.sqlite"


def test_the_web_unit_serves_on_loopback_behind_one_proxy_and_the_timer_fetches_what_is_due():
    assert _unit("causerie.service")["Service"]["ExecStart"].endswith("reader serve --host 127.0.0.1 --port 8000")
    assert _environment("causerie.service")["READER_TRUSTED_PROXIES"] == "1"
    fetch = _unit("causerie-fetch.service")["Service"]
    assert fetch["Type"] == "oneshot"
    assert fetch["ExecStart"].endswith("reader fetch --due")
    assert _unit("causerie-fetch.timer")["Timer"]["Unit"] == "causerie-fetch.service"
    # The proxies send to where the unit listens.
    assert "proxy_pass http://127.0.0.1:8000;" in (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert "reverse_proxy 127.0.0.1:8000" in (DEPLOY / "Caddyfile").read_text(encoding="utf-8")


def test_deployment_files_name_only_settings_the_reader_reads():
    known = {setting.env for setting in SETTINGS} | CLI_ENVIRONMENT
    files = [*(DEPLOY.iterdir()), ROOT / "Dockerfile", ROOT / "compose.yaml"]
    named = {name for path in files for name in re.findall(r"\bREADER_[A-Z_]+\b", path.read_text(encoding="utf-8"))}
    assert named, "no setting found: the pattern is wrong"
    assert named <= known, f"not settings: {sorted(named - known)}"


def test_the_readme_names_deployment_files_that_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"deploy/[\w.-]+", readme))
    assert {f"deploy/{name}" for name in (*UNITS, "nginx.conf", "Caddyfile")} <= named
    assert not {name for name in named if not (ROOT / name).is_file()}


def test_systemd_accepts_the_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("no systemd-analyze on PATH: the units are only parsed as INI")
    for name in UNITS:
        # verify insists that ExecStart's program exists: point it at one that does.
        text = (DEPLOY / name).read_text(encoding="utf-8").replace("/opt/causerie/bin/reader", sys.executable)
        (tmp_path / name).write_text(text, encoding="utf-8")
    done = subprocess.run(
        [analyze, "verify", *(str(tmp_path / name) for name in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # verify exits 0 on unknown keys and bad values, and says so on stderr: any word about our units fails.
    ours = [line for line in (done.stdout + done.stderr).splitlines() if "causerie" in line]
    assert done.returncode == 0 and not ours, done.stdout + done.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_reader_serve_behind_a_trusted_proxy_sets_secure_cookies(tmp_path):
    """What deploy/nginx.conf and deploy/Caddyfile rely on, through the real server (waitress)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("READER_")}
    env |= {"READER_TRUSTED_PROXIES": "1", "READER_PASSWORD": "mot de passe « sûr »", "READER_OPML": ""}
    command = [sys.executable, "-m", "reader.cli", "--db", str(tmp_path / "reader.sqlite")]
    subprocess.run([*command, "user", "add", "zoé"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)
    port = _free_port()
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port), "--no-fetch"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    cookie = response.headers["Set-Cookie"]
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "reader serve did not answer"
                time.sleep(0.1)
        assert "HttpOnly" in cookie
        assert "Secure" in cookie
    finally:
        server.terminate()
        server.wait(timeout=10)
