"""The serving process under a refresh: memory, and the timeline's latency through the real server.

Serves the bench corpus (../shared/bench) on loopback, imports its 1,000 feeds, starts
`reader serve --no-fetch` (waitress), then runs refresh rounds — the same `reader fetch` command
`reader serve`'s background loop runs as its child — while 8 clients with keep-alive connections
request the timeline in a loop. Prints the peak RSS of all the processes (server + fetch and its
workers; also their PSS, which counts shared pages once), the timeline's p50/p95 during the
refreshes, and the login page's p95.

    python3 benchmarks/serve_bench.py --n 1000 --rounds 3

The reader runs from a virtual environment of its own (benchmarks/.cache/serve-venv, made and
refreshed with `pip install .` of this checkout), as a server installs it: a development machine's
other packages change the figures (sqlite-utils imports numpy whenever it is there, +15 MB a
process). `--here` runs it with this interpreter instead.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fetch_bench import DEFAULT_BENCH_DIR, DEFAULT_CACHE, Server, TreeSampler, ensure_corpus, http_get  # noqa: E402


def clean_python(venv: Path) -> str:
    """A virtual environment holding this checkout as `pip install .` gives it; its `reader` command."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--force-reinstall", "--no-deps", str(Path(__file__).resolve().parents[1])], check=True)
    subprocess.run([*pip, str(Path(__file__).resolve().parents[1])], check=True)  # and its dependencies
    return str(venv / "bin" / "reader")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Clients:
    """``count`` threads, each on one keep-alive connection, GETting ``path`` until stopped."""

    def __init__(self, port: int, path: str, count: int) -> None:
        self.port, self.path = port, path
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]

    def _run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stopped.is_set():
            start = time.perf_counter()
            try:
                connection.request("GET", self.path)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(repr(exc))
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                continue
            self.latencies.append(time.perf_counter() - start)
            if response.status != 200 or b"locked" in body:
                self.errors.append(f"HTTP {response.status}")

    def __enter__(self) -> Clients:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join()


def session_memory_kib(sessions: set[int]) -> tuple[int, int]:
    """(RSS, PSS) of every process in these sessions, summed, in KiB. RSS counts a page shared by
    two processes (libpython, libssl, SQLite) in both; PSS splits it between them: the RAM used."""
    rss = pss = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                if int(fh.read().rsplit(b")", 1)[1].split()[3]) not in sessions:
                    continue
            with open(f"/proc/{entry.name}/smaps_rollup", "rb") as fh:
                for line in fh:
                    if line.startswith(b"Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith(b"Pss:"):
                        pss += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
    return rss, pss


class Together(threading.Thread):
    """Every 50 ms, the memory of the server and the fetch of the moment, summed: the peak of the
    sum, not the sum of two peaks that may never have met."""

    def __init__(self, server_session: int) -> None:
        super().__init__(daemon=True)
        self.sessions = {server_session}
        self.peak_rss_mb = self.peak_pss_mb = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            rss, pss = session_memory_kib(set(self.sessions))
            self.peak_rss_mb = max(self.peak_rss_mb, rss / 1024)
            self.peak_pss_mb = max(self.peak_pss_mb, pss / 1024)


def machine_speed() -> float:
    """Milliseconds for a fixed piece of pure Python: this machine's speed at the moment, since a
    shared machine's varies (this one by 2x within an hour), to compare runs by."""
    start = time.process_time()
    total = 0
    for number in range(1_000_000):
        total += number % 7
    return (time.process_time() - start) * 1000


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) >= 100 else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="feeds (default 1000)")
    ap.add_argument("--rounds", type=int, default=3, help="refresh rounds after the first fetch (default 3)")
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--here", action="store_true", help="run the reader with this interpreter, not a clean venv")
    a = ap.parse_args()
    # The venv's console script, not `python -m`, which would import the checkout's reader/ from the cwd.
    command = [sys.executable, "-m", "reader.cli"] if a.here else [clean_python(DEFAULT_CACHE / "serve-venv")]

    corpus, _, _ = ensure_corpus(DEFAULT_BENCH_DIR, DEFAULT_CACHE, a.n)
    work = Path(tempfile.mkdtemp(prefix="causerie-serve-bench-"))
    feeds = Server(DEFAULT_BENCH_DIR, corpus, work, a.latency_ms, 3600)
    feeds.start()
    env = {**os.environ, "READER_ALLOW_PRIVATE_ADDRESSES": "all", "READER_OPML": ""}
    reader = [*command, "--db", str(work / "reader.sqlite")]
    (work / "feeds.opml").write_bytes(http_get(feeds.base + "/feeds.opml"))
    subprocess.run([*reader, "import", str(work / "feeds.opml")], env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [*reader, "serve", "--no-fetch", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                http_get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        sampler = TreeSampler(server.pid)  # the server's session: it and anything it starts
        sampler.start()
        together = Together(server.pid)
        together.start()
        print(f"machine speed: {machine_speed():.0f} ms for the reference loop")
        fetch_peak = 0.0
        idle = Clients(port, "/", a.clients)
        with idle:
            time.sleep(5)
        print(f"timeline, idle, empty database: p95 {percentile(idle.latencies, 95):.1f} ms")
        timeline: list[float] = []
        errors: list[str] = []
        for number in range(a.rounds + 1):
            if number:
                http_get(feeds.base + "/__bench__/next-round?percent=10")
            fetch = subprocess.Popen(
                [*reader, "fetch"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
            )
            fetch_sampler = TreeSampler(fetch.pid)
            fetch_sampler.start()
            together.sessions.add(fetch.pid)
            start = time.perf_counter()
            with Clients(port, "/", a.clients) as clients:
                output = fetch.communicate()[0].decode(errors="replace").splitlines()
            fetch_sampler.done.set()
            together.sessions.discard(fetch.pid)
            fetch_peak = max(fetch_peak, fetch_sampler.peak_mb)
            timeline += clients.latencies
            errors += clients.errors
            print(
                f"round {number}: {time.perf_counter() - start:.1f} s, {output[0] if output else '?'};"
                f" timeline p50 {percentile(clients.latencies, 50):.1f} ms, p95 {percentile(clients.latencies, 95):.1f}"
                f" ms over {len(clients.latencies)} requests; fetch peak {fetch_sampler.peak_mb:.0f} MB"
            )
        with Clients(port, "/login", a.clients) as login:
            time.sleep(5)
        sampler.done.set()
        together.done.set()
        print(f"machine speed: {machine_speed():.0f} ms for the reference loop")
        print(f"timeline during refreshes: p95 {percentile(timeline, 95):.1f} ms (target <= 50), errors {len(errors)}")
        print(f"login page: p95 {percentile(login.latencies, 95):.1f} ms over {len(login.latencies)} requests")
        print(
            f"peak RSS: server {sampler.peak_mb:.0f} MB, fetch {fetch_peak:.0f} MB,"
            f" the two peaks added {sampler.peak_mb + fetch_peak:.0f} MB;"
            f" peak of the sum {together.peak_rss_mb:.0f} MB RSS, {together.peak_pss_mb:.0f} MB PSS (target <= 100)"
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
        feeds.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
