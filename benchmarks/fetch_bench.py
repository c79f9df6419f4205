#!/usr/bin/env python3
"""Measure `reader fetch` on the shared benchmark corpus (stdlib only, Unix only: uses os.wait4).

Steps: generate the corpus once into benchmarks/.cache/ (gitignore it), serve it on loopback with
serve_corpus.py, import its OPML into a fresh database, then time one `reader --db DB fetch` per
round: "cold" (empty database), "unchanged" (same again: every feed should answer 304) and
"changedK" (after the server's next-round?percent=K, e.g. changed10). For each round it reports
wall time, CPU time (user+sys), peak RSS and the server's request counters.

    python3 benchmarks/fetch_bench.py                      # 1000 feeds, 50 ms latency
    python3 benchmarks/fetch_bench.py --n 100 --targets
    python3 benchmarks/fetch_bench.py --env READER_FETCH_PER_HOST=64 --env READER_FETCH_WORKERS=64
    python3 benchmarks/fetch_bench.py --compare-lemon24    # and lemon24/reader on the same rounds

With --compare-lemon24, each round also runs lemon24/reader (PyPI `reader`, through
lemon24_driver.py in a virtual environment of its own) right after Causerie, on the same server
state, with the same measurements.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_BENCH_DIR = HERE.parents[1] / "shared" / "bench"
DEFAULT_CACHE = HERE / ".cache"  # generated corpora; keep out of git
SEED = 1
DEFAULT_ROUNDS = "cold,unchanged,changed10"
# Wall-time targets (seconds) by round name, and the peak-memory target for every round.
# Issue 8's targets: wall and CPU (the whole process tree) per round.
TARGET_WALL_S = {"cold": 12.0, "unchanged": 1.5, "changed10": 2.5}
TARGET_CPU_S = {"cold": 12.0, "unchanged": 1.0, "changed10": 2.0}
TARGET_PEAK_MB = 100.0
# lemon24/reader, for --compare-lemon24. Its import name is `reader` too, so it gets a venv of its own.
LEMON24_VERSION = "3.27"
LEMON24_MIN_PYTHON = (3, 12)  # what reader 3.27 requires
LEMON24_DRIVER = HERE / "lemon24_driver.py"
RSS_NOTE = (
    "note: peak MB is ru_maxrss from os.wait4() on the reader process: the largest resident set of that\n"
    "      process or of any descendant it waited for, NOT a sum. If the reader runs worker processes at\n"
    "      the same time, their memory adds up and is not shown here. cpu s does include reaped children.\n"
    "      'all MB' is sampled every 50 ms from /proc: every process of the run (reader, parser workers)\n"
    "      added up; it can miss a peak shorter than 50 ms.\n"
    "      Linux also copies the forking parent's peak into the child's, so no value is below this script's\n"
    "      own peak RSS at spawn time (the floor printed below): a value at the floor means 'at most that'."
)

# The server is on loopback: never send its requests through a proxy.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class BenchError(Exception):
    """A step failed; the message says which."""


@dataclass
class Run:
    cmd: list[str]
    wall_s: float
    cpu_s: float
    peak_mb: float
    returncode: int
    log: Path
    floor_mb: float
    timed_out: bool = False
    tree_peak_mb: float = 0.0  # sampled: all processes of the run added up

    def tail(self, n: int) -> list[str]:
        try:
            lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []
        return lines[-n:]


@dataclass
class Round:
    name: str
    label: str
    percent: float | None
    run: Run | None = None
    stats: dict = field(default_factory=dict)
    change: dict = field(default_factory=dict)
    lemon24: Run | None = None  # --compare-lemon24: the same round, same server state
    lemon24_stats: dict = field(default_factory=dict)
    lemon24_result: dict = field(default_factory=dict)  # what the driver counted


def session_rss_mb(session_id: int) -> float:
    """Resident memory of every process in a session (the reader and its workers), summed."""
    total_kib = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            if int(fields[3]) != session_id:  # fields after "(comm)": state ppid pgrp session ...
                continue
            with open(f"/proc/{entry.name}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"VmRSS:"):
                        total_kib += int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
    return total_kib / 1024


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a session every 50 ms and keeps the peak."""

    def __init__(self, session_id: int) -> None:
        super().__init__(daemon=True)
        self.session_id = session_id
        self.peak_mb = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.peak_mb = max(self.peak_mb, session_rss_mb(self.session_id))


def parse_rounds(spec: str) -> list[Round]:
    rounds = []
    for name in (s.strip() for s in spec.split(",")):
        if name in ("cold", "unchanged"):
            rounds.append(Round(name, name, None))
            continue
        m = re.fullmatch(r"changed(\d+(?:\.\d+)?)", name)
        if not m or not 0 < float(m.group(1)) <= 100:
            raise argparse.ArgumentTypeError(
                f"unknown round {name!r}: use cold, unchanged or changedK with 0 < K <= 100 (e.g. changed10)"
            )
        rounds.append(Round(name, f"{m.group(1)}% changed", float(m.group(1))))
    if not rounds:
        raise argparse.ArgumentTypeError("no rounds given")
    return rounds


def parse_env(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise argparse.ArgumentTypeError(f"--env wants KEY=VALUE, got {item!r}")
    return key, value


def http_get(url: str, timeout: float = 30.0) -> bytes:
    with _OPENER.open(url, timeout=timeout) as resp:
        return resp.read()


def http_json(url: str) -> dict:
    return json.loads(http_get(url))


def run_measured(cmd: list[str], *, env: dict, cwd: Path, log: Path, timeout: float) -> Run:
    """Run cmd to completion; wall time, user+sys CPU and peak RSS come from os.wait4()."""
    timed_out = threading.Event()
    floor_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,  # own process group: a timeout or Ctrl-C kills its workers too
        )

        def kill_group() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill_group)
        timer.daemon = True
        timer.start()
        sampler = TreeSampler(proc.pid)  # start_new_session: the session id is the reader's pid
        sampler.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
        except BaseException:  # Ctrl-C while waiting: do not leave the reader running
            kill_group()
            proc.wait()
            raise
        finally:
            timer.cancel()
            sampler.done.set()
            sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
    return Run(
        cmd=cmd,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_mb=usage.ru_maxrss / 1024,  # Linux reports KiB
        returncode=proc.returncode,
        log=log,
        floor_mb=floor_mb,
        timed_out=timed_out.is_set(),
        tree_peak_mb=sampler.peak_mb,
    )


def check_run(what: str, run: Run) -> None:
    if run.returncode == 0 and not run.timed_out:
        return
    why = "timed out" if run.timed_out else f"exited with {run.returncode}"
    lines = "\n".join("    " + line for line in run.tail(20)) or "    (no output)"
    raise BenchError(f"{what} {why}: {shlex.join(run.cmd)}\n  last lines of output:\n{lines}")


def generator_version(bench_dir: Path) -> int | None:
    m = re.search(r"^GENERATOR_VERSION = (\d+)", (bench_dir / "gen_corpus.py").read_text(), re.M)
    return int(m.group(1)) if m else None


def ensure_corpus(bench_dir: Path, cache: Path, n: int) -> tuple[Path, dict, list[str] | None]:
    """Return (corpus dir, manifest, generation command or None if it was already there)."""
    out = cache / f"c{n}-s{SEED}"
    manifest_path = out / "manifest.json"
    if manifest_path.exists() and (out / "feeds").is_dir():
        manifest = json.loads(manifest_path.read_text())
        if (
            manifest.get("n") == n
            and manifest.get("seed") == SEED
            and manifest.get("generator_version") == generator_version(bench_dir)
        ):
            return out, manifest, None
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(bench_dir / "gen_corpus.py"), "--n", str(n), "--seed", str(SEED)]
    cmd += ["--out", str(out)]
    note = " (the 1000-feed corpus is ~213 MB, ~20 s)" if n >= 500 else ""
    print(f"generating corpus{note}: {shlex.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"corpus generation failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    print(f"  done in {time.perf_counter() - t0:.1f} s", flush=True)
    return out, json.loads(manifest_path.read_text()), cmd


def site_hosts(corpus: Path) -> list[str]:
    """The host names in the first lines of each feed of the corpus: its site, its own address."""
    hosts: set[str] = set()
    for path in (corpus / "feeds").iterdir():
        with open(path, "rb") as feed:
            hosts.update(re.findall(rb"https?://([A-Za-z0-9.-]+\.[A-Za-z]+)[/\"<]", feed.read(1500)))
    return sorted(host.decode() for host in hosts)


class Server:
    """serve_corpus.py as a subprocess; always stop() it."""

    def __init__(self, bench_dir: Path, corpus: Path, work: Path, latency_ms: float, time_limit: float, hosts: int = 1):
        self.port_file = work / "server.port"
        self.log = work / "server.log"
        self.cmd = [sys.executable, str(bench_dir / "serve_corpus.py"), "--corpus", str(corpus)]
        self.cmd += ["--port", "0", "--port-file", str(self.port_file), "--latency-ms", f"{latency_ms:g}"]
        self.cmd += ["--time-limit", f"{time_limit:g}"]
        if hosts > 1:
            self.cmd += ["--hosts", str(hosts)]
        self.proc: subprocess.Popen | None = None
        self.base = ""

    def start(self, wait_s: float = 120.0) -> None:
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                self.cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + wait_s
        while not self.port_file.exists():
            if self.proc.poll() is not None:
                raise BenchError(f"server exited with {self.proc.returncode}:\n{self.log_text()}")
            if time.monotonic() > deadline:
                raise BenchError(f"server wrote no port file within {wait_s:g} s:\n{self.log_text()}")
            time.sleep(0.05)
        self.base = f"http://127.0.0.1:{int(self.port_file.read_text().strip())}"

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def get_json(self, path: str) -> dict:
        return http_json(self.base + path)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        if self.base:
            with contextlib.suppress(OSError):
                http_get(self.base + "/__bench__/stop", timeout=5)
            try:
                self.proc.wait(timeout=10)
                return
            except subprocess.TimeoutExpired:
                pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def reader_command(arg: str | None, env: dict) -> list[str]:
    if arg:
        return shlex.split(arg)
    found = shutil.which("reader")
    if found:
        return [found]
    # Not installed: run it from this checkout.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return [sys.executable, "-m", "reader.cli"]


def _python_version(python: str) -> tuple[int, ...] | None:
    """The version of an interpreter that runs, else None (e.g. a pyenv shim of a version not selected)."""
    try:
        done = subprocess.run(
            [python, "-I", "-c", "import sys; print(*sys.version_info[:3])"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    try:
        return tuple(int(x) for x in done.stdout.split()) if done.returncode == 0 else None
    except ValueError:
        return None


def _version_key(path: str) -> tuple[int, ...]:
    """(3, 12, 1) for .../versions/3.12.1/bin/python3; a name that is not a version sorts last."""
    name = Path(path).parents[1].name
    return tuple(int(x) for x in name.split(".")) if re.fullmatch(r"\d+(\.\d+)*", name) else (999,)


def lemon24_base_python(arg: str | None) -> str:
    """An interpreter new enough for lemon24/reader: --lemon24-python, this one, python3.X on PATH, pyenv's."""
    if arg:
        candidates = [arg]
    else:
        candidates = [sys.executable]
        candidates += [found for m in range(LEMON24_MIN_PYTHON[1], 20) if (found := shutil.which(f"python3.{m}"))]
        pyenv = shutil.which("pyenv")
        if pyenv:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                root = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=30).stdout.strip()
                if root:  # oldest first: the closest to the Python Causerie runs on
                    found = glob.glob(os.path.join(root, "versions", "3.*", "bin", "python3"))
                    candidates += sorted(found, key=_version_key)
    for python in candidates:
        version = _python_version(python)
        if version and version >= LEMON24_MIN_PYTHON:
            return python
    need = ".".join(map(str, LEMON24_MIN_PYTHON))
    raise BenchError(f"lemon24/reader {LEMON24_VERSION} needs Python >= {need}; none found (use --lemon24-python)")


def lemon24_venv(venv: Path, python_arg: str | None) -> tuple[str, str]:
    """Make (once) a venv holding lemon24/reader; return its python and what it holds."""
    python = str(venv / "bin" / "python")
    probe = (
        "import importlib.metadata as m, platform, reader; "
        "print(reader.__version__, platform.python_version(), "
        "*(f'{d} {m.version(d)}' for d in ('feedparser', 'requests')), sep=', ')"
    )

    def installed() -> str | None:
        if not Path(python).exists():
            return None
        # -I and cwd in the venv: never this checkout's reader/
        done = subprocess.run([python, "-I", "-c", probe], capture_output=True, text=True, cwd=venv)
        if done.returncode != 0 or not done.stdout.startswith(LEMON24_VERSION + ","):
            return None
        version, python_version, *deps = done.stdout.strip().split(", ")
        return f"lemon24/reader {version}, python {python_version}, " + ", ".join(deps)

    found = installed()
    if found:
        return python, found
    base = lemon24_base_python(python_arg)
    print(f"making {venv} with lemon24/reader {LEMON24_VERSION} (python {base})", flush=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [base, "-m", "venv", "--clear", str(venv)],
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"reader=={LEMON24_VERSION}"],
    ]
    for cmd in steps:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=venv.parent)
        if done.returncode != 0:
            raise BenchError(f"{shlex.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    found = installed()
    if not found:
        raise BenchError(f"{venv} does not import lemon24/reader {LEMON24_VERSION} after pip install")
    return python, found


def bypass_proxies(env: dict[str, str], hosts: int) -> dict[str, str]:
    """``env`` with the benchmark server's loopback hosts (127.0.0.1 … 127.0.0.<hosts>) kept from any
    proxy: named one by one, as aiohttp's (urllib's) reading of no_proxy has no address ranges."""
    loopback = ",".join([*(f"127.0.0.{i}" for i in range(1, hosts + 1)), "localhost"])
    for key in ("no_proxy", "NO_PROXY"):
        env[key] = ",".join(p for p in (env.get(key, ""), loopback) if p)
    return env


def lemon24_environ(hosts: int) -> dict[str, str]:
    """The driver's environment: no PYTHON* variables, and no proxy for the server's hosts."""
    return bypass_proxies({k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}, hosts)


def driver_result(run: Run) -> dict:
    """The driver's last `RESULT {json}` line."""
    for line in reversed(run.tail(50)):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise BenchError(f"the lemon24 driver printed no RESULT line: {shlex.join(run.cmd)}")


def shown(cmd: list[str], extra_env: dict[str, str]) -> str:
    prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in extra_env.items())
    return f"{prefix} {shlex.join(cmd)}" if prefix else shlex.join(cmd)


def db_facts(db: Path) -> tuple[int, int, str]:
    """(main file bytes, -wal + -shm bytes, entries row count or a note)."""
    size = db.stat().st_size if db.exists() else 0
    side = sum(p.stat().st_size for p in (Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists())
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            entries = str(con.execute("SELECT count(*) FROM entries").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error as exc:
        entries = f"n/a ({exc})"
    return size, side, entries


def machine_facts() -> list[str]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    mem = ""
    with contextlib.suppress(ValueError, OSError, AttributeError):
        mem = f", RAM {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.1f} GiB"
    load = ""
    with contextlib.suppress(OSError):
        load = ", load avg " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"nproc {usable} (cpu_count {os.cpu_count()}){mem}{load}",
        f"python {platform.python_version()} ({sys.executable}) on {platform.platform()}",
    ]


def print_table(rounds: list[Round]) -> None:
    if not any(r.run for r in rounds):
        print("(no round ran)")
        return
    compare = any(r.lemon24 for r in rounds)
    tool_head = f"{'tool':<10}" if compare else ""
    head = f"{'round':<16}{tool_head}{'wall s':>9}{'cpu s':>9}{'peak MB':>9}{'all MB':>9}{'requests':>10}{'200s':>7}"
    head += f"{'304s':>7}"
    print(head)
    print("-" * len(head))
    for r in rounds:
        for tool, run, s in (("causerie", r.run, r.stats), ("lemon24", r.lemon24, r.lemon24_stats)):
            if run is None:
                continue
            print(
                f"{r.label:<16}{f'{tool:<10}' if compare else ''}{run.wall_s:>9.2f}{run.cpu_s:>9.2f}"
                f"{run.peak_mb:>9.1f}{run.tree_peak_mb:>9.1f}"
                f"{s.get('requests', '?'):>10}{s.get('status_200', '?'):>7}{s.get('status_304', '?'):>7}"
            )


def print_targets(rounds: list[Round]) -> None:
    print("\ntargets (informational):")
    for r in rounds:
        if r.run is None or r.name not in TARGET_WALL_S:
            continue
        for what, value, limit in (
            ("wall", r.run.wall_s, TARGET_WALL_S[r.name]),
            ("cpu", r.run.cpu_s, TARGET_CPU_S[r.name]),
        ):
            verdict = "ok" if value <= limit else "MISSED"
            print(f"  {r.label + ' ' + what:<22}{value:>8.2f} s  {f'<= {limit:g} s':<10}{verdict}")
    done = [r for r in rounds if r.run is not None]
    if done:
        worst = max(done, key=lambda r: max(r.run.peak_mb, r.run.tree_peak_mb))
        peak = max(worst.run.peak_mb, worst.run.tree_peak_mb)
        verdict = "ok" if peak <= TARGET_PEAK_MB else "MISSED"
        print(
            f"  {'peak memory (all)':<22}{peak:>8.1f} MB {f'<= {TARGET_PEAK_MB:g} MB':<10}{verdict}"
            f"  (max over rounds: {worst.label})"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="number of feeds in the corpus (default 1000)")
    ap.add_argument("--latency-ms", type=float, default=50.0, help="server latency per request (default 50)")
    ap.add_argument(
        "--rounds",
        type=parse_rounds,
        default=DEFAULT_ROUNDS,
        help=f"comma-separated: cold, unchanged, changedK (default {DEFAULT_ROUNDS})",
    )
    ap.add_argument("--reader", help="reader command (default: `reader` on PATH, else `python -m reader.cli`)")
    ap.add_argument(
        "--env",
        type=parse_env,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment for the reader command, repeatable (e.g. READER_FETCH_PER_HOST=64)",
    )
    ap.add_argument(
        "--hosts",
        type=int,
        default=16,
        help="spread the feeds over this many loopback hosts, as subscriptions are over many sites, so that"
        " the per-host limit acts as it does in life (default 16; 1: every feed on 127.0.0.1)",
    )
    ap.add_argument(
        "--compare-lemon24",
        action="store_true",
        help=f"after Causerie, run lemon24/reader {LEMON24_VERSION} on the same round and server state"
        " (its own venv in the cache folder, made once)",
    )
    ap.add_argument("--lemon24-workers", type=int, default=4, help="lemon24's update_feeds(workers=) (default 4)")
    ap.add_argument(
        "--lemon24-python",
        help=f"the Python >= {'.'.join(map(str, LEMON24_MIN_PYTHON))} that makes lemon24's venv"
        " (default: this one if new enough, else python3.X on PATH, else pyenv's)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (database, OPML, logs)")
    ap.add_argument("--targets", action="store_true", help="compare the results with the targets")
    ap.add_argument("--bench-dir", type=Path, default=DEFAULT_BENCH_DIR, help="folder with gen/serve scripts")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="corpus cache (default benchmarks/.cache)")
    ap.add_argument("--tmp-dir", type=Path, help="where to make the temp dir (default: the system's)")
    ap.add_argument(
        "--timeout", type=float, help="seconds per reader command (default 900; 1800 with --compare-lemon24)"
    )
    ap.add_argument(
        "--server-time-limit", type=float, help="server exits after (default 1800; 3600 with --compare-lemon24)"
    )
    a = ap.parse_args(argv)
    if a.n <= 0:
        ap.error("--n must be positive")
    if a.lemon24_workers <= 0:
        ap.error("--lemon24-workers must be positive")
    # lemon24's cold round of 1000 feeds takes minutes of CPU: more time for each command and the server.
    if a.timeout is None:
        a.timeout = 1800.0 if a.compare_lemon24 else 900.0
    if a.server_time_limit is None:
        a.server_time_limit = 3600.0 if a.compare_lemon24 else 1800.0
    bench_dir = a.bench_dir.resolve()
    if not (bench_dir / "gen_corpus.py").is_file() or not (bench_dir / "serve_corpus.py").is_file():
        ap.error(f"no gen_corpus.py / serve_corpus.py in {bench_dir} (use --bench-dir)")
    if not hasattr(os, "wait4"):
        ap.error("os.wait4 is not available on this platform")

    # The corpus server is on 127.0.0.1, which Causerie refuses to fetch unless told otherwise.
    extra_env = {"READER_ALLOW_PRIVATE_ADDRESSES": "all", **dict(a.env)}
    env = os.environ.copy()
    env.update(extra_env)
    bypass_proxies(env, a.hosts)
    reader = reader_command(a.reader, env)

    lemon24_python = lemon24_about = None
    try:
        corpus, manifest, gen_cmd = ensure_corpus(bench_dir, a.cache.resolve(), a.n)
        if a.compare_lemon24:
            lemon24_python, lemon24_about = lemon24_venv(a.cache.resolve() / "lemon24-venv", a.lemon24_python)
            print(f"compare with: {lemon24_about}", flush=True)
    except BenchError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    n_feeds = manifest["n"]

    if a.tmp_dir:
        a.tmp_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="causerie-fetch-bench-", dir=a.tmp_dir)).resolve()
    db = work / "bench.sqlite"
    opml = work / "subscriptions.opml"
    lemon24_db = work / "lemon24.sqlite"
    lemon24_env = lemon24_environ(a.hosts)
    server = Server(bench_dir, corpus, work, a.latency_ms, a.server_time_limit, a.hosts)
    rounds: list[Round] = a.rounds
    commands: list[str] = []
    failed = None
    try:
        server.start()
        print(f"server: {server.base} ({n_feeds} feeds, latency {a.latency_ms:g} ms)", flush=True)
        opml.write_bytes(http_get(server.base + "/feeds.opml"))
        # A first fetch looks for ways to reach each new person on their home page (the feed's own
        # link). There is no network here, and this machine's resolver takes 10 s to fail each
        # lookup (the cold round waited 160 s on it): the sites the feeds name at their top resolve
        # to 127.0.0.1, where nothing answers on 80 or 443, as if every home page were down.
        homes = site_hosts(corpus)
        if homes and "READER_RESOLVE" not in extra_env:
            env["READER_RESOLVE"] = ",".join(f"{host}=127.0.0.1" for host in homes)
            extra_env["READER_RESOLVE"] = f"<{len(homes)} site hosts>=127.0.0.1"

        import_cmd = [*reader, "--db", str(db), "import", str(opml)]
        commands.append(shown(import_cmd, extra_env))
        run = run_measured(import_cmd, env=env, cwd=work, log=work / "import.log", timeout=a.timeout)
        check_run("import", run)
        print(f"import: {run.wall_s:.2f} s (not part of the rounds)", flush=True)

        fetch_cmd = [*reader, "--db", str(db), "fetch"]
        commands.append(shown(fetch_cmd, extra_env) + "    # once per round")
        if lemon24_python:
            # The same URLs as the OPML, hosts included: 127.0.0.(1 + i % hosts), no name to resolve.
            urls = work / "urls.txt"
            urls.write_bytes(http_get(server.base + "/urls.txt"))
            driver = [lemon24_python, "-I", str(LEMON24_DRIVER), str(lemon24_db)]
            add_cmd = [*driver, "add", str(urls)]
            commands.append(shlex.join(add_cmd))
            run = run_measured(add_cmd, env=lemon24_env, cwd=work, log=work / "lemon24-add.log", timeout=a.timeout)
            check_run("lemon24 add", run)
            added = driver_result(run)
            print(f"lemon24 add: {run.wall_s:.2f} s, {added['feeds']} feeds (not part of the rounds)", flush=True)
            if added["feeds"] != n_feeds:
                raise BenchError(f"lemon24 has {added['feeds']} feeds, not {n_feeds}: see {run.log}")
            update_cmd = [*driver, "update", "--workers", str(a.lemon24_workers)]
            commands.append(shlex.join(update_cmd) + "    # once per round, after Causerie's")
        for i, r in enumerate(rounds):
            if r.percent is not None:
                r.change = server.get_json(f"/__bench__/next-round?percent={r.percent:g}")
            server.get_json("/__bench__/reset-stats")
            print(f"\n[{r.label}]", flush=True)
            if r.change:
                print(
                    f"  server changed {r.change.get('feeds_changed')} feeds, "
                    f"{r.change.get('entries_added')} new entries",
                    flush=True,
                )
            r.run = run_measured(fetch_cmd, env=env, cwd=work, log=work / f"round{i}-{r.name}.log", timeout=a.timeout)
            r.stats = server.get_json("/__bench__/stats")
            for line in r.run.tail(3):
                print(f"  | {line}")
            check_run(f"round {r.label!r}", r.run)
            s = r.stats
            print(
                f"  wall {r.run.wall_s:.2f} s, cpu {r.run.cpu_s:.2f} s, peak {r.run.peak_mb:.1f} MB; "
                f"server: {s.get('requests')} requests, {s.get('status_200')} x 200, "
                f"{s.get('status_304')} x 304, {s.get('status_404')} x 404, max in flight {s.get('max_inflight')}",
                flush=True,
            )
            if s.get("requests", 0) < n_feeds:
                print(
                    f"  WARNING: only {s.get('requests')} of {n_feeds} feeds were requested; the reader may"
                    " skip feeds that are not due yet (READER_UPDATE_INTERVAL), so this round did less work",
                    flush=True,
                )
            if lemon24_python:  # the same server state: next-round is only called before Causerie's run
                server.get_json("/__bench__/reset-stats")
                log = work / f"round{i}-{r.name}-lemon24.log"
                r.lemon24 = run_measured(update_cmd, env=lemon24_env, cwd=work, log=log, timeout=a.timeout)
                r.lemon24_stats = server.get_json("/__bench__/stats")
                check_run(f"lemon24 round {r.label!r}", r.lemon24)
                r.lemon24_result = check_lemon24_round(r, n_feeds)
    except (BenchError, OSError) as exc:  # OSError: the server's control URLs failed
        failed = str(exc)
    except BaseException:  # Ctrl-C: no report, just clean up
        server.stop()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        server.stop()

    try:
        report(a, rounds, db, corpus, manifest, gen_cmd, server.cmd, commands, lemon24_db, lemon24_about)
        if a.keep:
            print(f"\nkept: {work}")
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        print(f"\nFAILED: {failed}", file=sys.stderr)
        if not a.keep:
            print("(rerun with --keep to inspect the database and logs)", file=sys.stderr)
        return 1
    return 0


def check_lemon24_round(r: Round, n_feeds: int) -> dict:
    """Print lemon24's round as Causerie's is printed, and say when it did less than Causerie had to."""
    run, s, res = r.lemon24, r.lemon24_stats, driver_result(r.lemon24)
    print(
        f"  lemon24: wall {run.wall_s:.2f} s, cpu {run.cpu_s:.2f} s, peak {run.peak_mb:.1f} MB; "
        f"{res['fetched']} fetched, {res['not_modified']} not modified, {res['errors']} errors, "
        f"{res['new_entries']} new entries; server: {s.get('requests')} requests, {s.get('status_200')} x 200, "
        f"{s.get('status_304')} x 304, max in flight {s.get('max_inflight')}",
        flush=True,
    )
    for line in res["error_samples"]:
        print(f"  lemon24 error: {line}")
    if s.get("requests", 0) < n_feeds:
        print(f"  WARNING: lemon24 requested only {s.get('requests')} of {n_feeds} feeds", flush=True)
    if r.name == "unchanged" and s.get("status_304", 0) < s.get("requests", 0):
        print(
            f"  NOTE: lemon24 got {s.get('status_304')} x 304 for {s.get('requests')} requests: it did not send"
            " (or the server did not match) the ETag / Last-Modified of its previous fetch for the others",
            flush=True,
        )
    return res


def report(a, rounds, db, corpus, manifest, gen_cmd, server_cmd, commands, lemon24_db=None, lemon24_about=None) -> None:
    print("\n== results ==")
    print_table(rounds)
    print(RSS_NOTE)
    floors = [r.run.floor_mb for r in rounds if r.run is not None]
    if floors:
        print(f"      floor: {max(floors):.1f} MB")
    if db.exists():
        size, side, entries = db_facts(db)
        extra = f" (+ {side / 2**20:.1f} MB -wal/-shm)" if side else ""
        print(f"database: {size / 2**20:.1f} MB{extra}, entries rows: {entries}")
    if lemon24_db is not None and lemon24_db.exists():
        size, side, entries = db_facts(lemon24_db)  # lemon24's table is called entries too
        extra = f" (+ {side / 2**20:.1f} MB -wal/-shm)" if side else ""
        print(f"lemon24 database: {size / 2**20:.1f} MB{extra}, entries rows: {entries}")
    if a.targets:
        print_targets(rounds)
    print("\ncorpus:")
    print(
        f"  {corpus} - {manifest['n']} feeds, {manifest['total_entries']} entries, "
        f"{manifest['total_bytes'] / 1e6:.1f} MB, kinds {manifest.get('kinds')}"
    )
    print("commands:")
    if gen_cmd:
        print(f"  {shlex.join(gen_cmd)}")
    print(f"  {shlex.join(server_cmd)}")
    for c in commands:
        print(f"  {c}")
    print("machine:")
    for line in machine_facts():
        print(f"  {line}")
    if lemon24_about:
        print(f"  {lemon24_about} (its own venv: {a.cache / 'lemon24-venv'})")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted (server and reader stopped)", file=sys.stderr)
        sys.exit(130)
