"""``pip install .`` gives a working reader: the wheel carries the templates and static files.

The wheel is built from a copy of the checkout (as pip does from a source tree, without
leaving ``build/`` behind in the checkout), installed into a fresh virtualenv that sees this
environment's dependencies, and used from a directory outside the checkout, so that nothing
can be found there by accident.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
# What the build reads; anything else in the checkout stays out of it.
BUILD_INPUTS = ("pyproject.toml", "README.md", "reader", "templates", "static")

# Runs inside the virtualenv: the installed app, a fresh database, a French title.
CHECK_APP = """
import sys
from pathlib import Path

import reader
from reader.config import load_config
from reader.models import FeedSource
from reader.store import LOCAL_USER, Store
from reader.web import create_app

here = Path(reader.__file__).resolve()
assert here.is_relative_to(Path(sys.prefix).resolve()), f"reader imported from {here}, not the virtualenv"
db = sys.argv[1]
store = Store.open(db).for_user(LOCAL_USER)
store.add_feeds([FeedSource(url="https://zoe.example/flux.xml", title="L'été « chez » Zoé & #1")])
store.close()
app = create_app(load_config({}, db_path=db))
client = app.test_client()
for path in ("/", "/subscriptions/", "/static/style.css", "/static/app.js"):
    response = client.get(path)
    sys.stdout.buffer.write(b"%d %s %d\\n" % (response.status_code, path.encode(), len(response.data)))
    sys.stdout.buffer.write(response.data + b"\\n--\\n")
print("templates", app.template_folder)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, encoding="utf-8", timeout=120, check=False, **kwargs)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _build_isolation_flag() -> list[str]:
    """Build offline with this environment's setuptools when it has what pyproject.toml asks
    (>= 68, and bdist_wheel built in since 70.1); else pip gets it from the configured index."""
    try:
        major, minor = (int(part) for part in version("setuptools").split(".")[:2])
    except Exception:
        return []
    return ["--no-build-isolation"] if (major, minor) >= (70, 1) else []


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", *_build_isolation_flag(), "-w", out, source])
    (built,) = out.glob("causerie-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> Path:
    """A virtualenv with the wheel installed; its dependencies are this environment's."""
    path = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", path])
    python = path / "bin" / "python"
    # This environment's pip installs into the virtualenv; --force-reinstall because a checkout's
    # editable install of the same version is visible through --system-site-packages.
    _run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--force-reinstall", wheel]
    )
    return path


@pytest.fixture
def outside(tmp_path) -> dict:
    """Run from a directory outside the checkout, with nothing pointing back into it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "READER_"))}
    env["HOME"] = str(tmp_path)
    return {"cwd": tmp_path, "env": env}


def _package_files() -> set[str]:
    """Every file the install needs, named as it sits in the wheel."""
    names = {f"reader/{p.relative_to(ROOT / 'reader')}" for p in (ROOT / "reader").rglob("*.py")}
    for folder in ("templates", "static"):
        names |= {f"reader/{p.relative_to(ROOT)}" for p in (ROOT / folder).rglob("*") if p.is_file()}
    return {name for name in names if "__pycache__" not in name}


def test_wheel_carries_every_module_template_and_static_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = _package_files() - names
    # A package of reader/ missing here is missing from pyproject.toml's [tool.setuptools] packages.
    assert not missing, f"not in the wheel: {sorted(missing)}"
    assert not [name for name in names if name.startswith(("templates/", "static/", "tests/"))]


def test_installed_app_serves_pages_and_static_files(venv, outside, tmp_path):
    db = tmp_path / "données" / "reader.sqlite"
    done = _run([venv / "bin" / "python", "-c", CHECK_APP, db], **outside)
    out = done.stdout
    assert "200 / " in out
    assert "200 /subscriptions/ " in out
    assert "L&#39;été « chez » Zoé &amp; #1" in out  # the title, escaped, from the installed templates
    assert f"200 /static/style.css {len((ROOT / 'static' / 'style.css').read_bytes())}" in out
    assert (ROOT / "static" / "app.js").read_text(encoding="utf-8") in out
    assert f"templates {venv.resolve()}" in out


def test_installed_console_script(venv, outside):
    reader = venv / "bin" / "reader"
    assert "serve" in _run([reader, "--help"], **outside).stdout
    assert "0.1.0" in _run([reader, "--version"], **outside).stdout


def test_installed_reader_serve_answers_over_http(venv, outside, tmp_path):
    port = _free_port()
    db = tmp_path / "reader.sqlite"
    command = [venv / "bin" / "reader", "--db", db, "serve", "--port", str(port), "--no-fetch"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **outside)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/style.css", timeout=2) as response:
                    css = response.read()
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()
                assert time.monotonic() < deadline, "reader serve did not answer in 20 s"
                time.sleep(0.1)
        assert css == (ROOT / "static" / "style.css").read_bytes()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.status == 200
            assert b'href="/static/style.css' in response.read()
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()
