"""The database under load from several processes: nobody meets "database is locked".

A web server, a fetch and an OPML import run as the real commands, each its own
process on one SQLite file, as on a server where a timer's ``reader fetch`` and
an import from the command line overlap ``reader serve``.
"""

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from xml.sax.saxutils import quoteattr

from fakes import rss

ENV = {**os.environ, "READER_ALLOW_PRIVATE_ADDRESSES": "all", "READER_PARSE_WORKERS": "0", "READER_OPML": ""}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def outlines(urls) -> str:
    body = "".join(
        f"<outline type='rss' text={quoteattr(f'Carnet n°{i} « été »')} xmlUrl={quoteattr(u)}/>"
        for i, u in enumerate(urls)
    )
    return f"<?xml version='1.0' encoding='utf-8'?><opml version='2.0'><head/><body>{body}</body></opml>"


class Timeline(threading.Thread):
    """GET / over and over on one keep-alive-less connection each time, keeping every answer's status."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.answers: list[tuple[int, bool]] = []  # (status, says "locked")
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=30) as response:
                    body = response.read()
                    self.answers.append((response.status, b"locked" in body.lower()))
            except urllib.error.HTTPError as exc:
                self.answers.append((exc.code, b"locked" in exc.read().lower()))


def test_the_timeline_answers_while_a_full_refresh_and_an_import_write(feed_server, tmp_path):
    urls = [
        feed_server.route(
            f"/f{i}.xml",
            body=rss(*[(f"{i}-{j}", f"L'entrée {j} & « suite »") for j in range(20)]).encode(),
            delay=0.05,
        )
        for i in range(150)
    ]
    (tmp_path / "first.opml").write_text(outlines(urls[:100]))
    (tmp_path / "more.opml").write_text(
        outlines(urls[100:] + [f"https://ailleurs{i}.example/feed" for i in range(3000)])
    )
    reader = [sys.executable, "-m", "reader.cli", "--db", str(tmp_path / "reader.sqlite")]
    subprocess.run([*reader, "import", str(tmp_path / "first.opml")], env=ENV, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [*reader, "serve", "--no-fetch", "--port", str(port)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    timeline = Timeline(port)
    fetch = None
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "reader serve did not start"
                time.sleep(0.1)
        timeline.start()
        with open(tmp_path / "fetch.log", "w") as log:
            fetch = subprocess.Popen([*reader, "fetch"], env=ENV, stdout=log, stderr=subprocess.STDOUT)
        # The fetch picks its feeds before its first request: the import starts once it is fetching.
        deadline = time.monotonic() + 30
        while not feed_server.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        imported = subprocess.run(
            [*reader, "import", str(tmp_path / "more.opml")], env=ENV, capture_output=True, text=True
        )
        fetch.wait(timeout=60)
        output = (tmp_path / "fetch.log").read_text()
    finally:
        if fetch is not None and fetch.poll() is None:
            fetch.kill()
            fetch.wait()
        timeline.stopped.set()
        timeline.join(timeout=60)
        server.terminate()
        server.wait(timeout=30)
    assert imported.returncode == 0 and "imported 3050 feeds" in imported.stdout, imported.stdout + imported.stderr
    assert "100 fetched" in output and "locked" not in output, output
    assert len(timeline.answers) >= 20
    assert all(status == 200 and not locked for status, locked in timeline.answers), timeline.answers
