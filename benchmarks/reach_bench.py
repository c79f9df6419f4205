"""Measure looking for ways to reach one person: wall time and CPU of ``reach.find_channels``.

Serves, on 127.0.0.1 with a per-request latency, a real home page from the shared corpus (by default
aaronparecki.com's: 82 KB, 24 rel="me" links, an h-card, a Webmention endpoint) with one extra
rel="me" link to a Mastodon-shaped profile that links back, then times ``find_channels`` for a person
whose home page it is: one home page fetch and parse (mf2py), then the rel="me" profiles checked for
a link back. Every host the page names resolves to 127.0.0.1 (READER_RESOLVE), so nothing leaves the
machine: links to other sites answer at once with a refused connection or a 404.

    python3 benchmarks/reach_bench.py                  # 20 runs, 50 ms latency, in-process parse
    python3 benchmarks/reach_bench.py --parse-workers 1 # as the web app does it (a parser process)
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reader.config import load_config  # noqa: E402
from reader.reach import find_channels  # noqa: E402
from reader.store import LOCAL_USER, Store  # noqa: E402

CORPUS_PAGE = ROOT.parent / "shared" / "corpus" / "people" / "indieweb-utils" / "representative_page.html"
HOME, SOCIAL = "home.example", "social.example"


def make_page(port: int) -> bytes:
    if CORPUS_PAGE.exists():
        page = CORPUS_PAGE.read_bytes()
    else:  # a page of the same shape, if the corpus is absent
        links = "".join(f'<a rel="me" href="https://site{i}.example/ana">{i}</a>' for i in range(24))
        page = f'<html><body><div class="h-card"><a class="p-name u-url" href="/">Ana</a></div>{links}</body></html>'
        page = page.encode()
    extra = f'<link rel="me" href="http://{SOCIAL}:{port}/@ana">'.encode()
    return page.replace(b"<head>", b"<head>" + extra, 1) if b"<head>" in page else extra + page


def profile(port: int) -> bytes:
    return (
        f'<html><head><link rel="alternate" type="application/activity+json" href="http://{SOCIAL}:{port}/users/ana">'
        f'</head><body><a rel="me nofollow" href="http://{HOME}:{port}/">home</a></body></html>'
    ).encode()


def serve(latency: float) -> tuple[ThreadingHTTPServer, int, dict]:
    pages: dict[tuple[str, str], bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            time.sleep(latency)
            host = (self.headers.get("host") or "").split(":")[0]
            body = pages.get((host, self.path))
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1], pages


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--parse-workers", type=int, default=0)
    args = parser.parse_args(argv)

    server, port, pages = serve(args.latency_ms / 1000)
    page = make_page(port)
    pages[(HOME, "/")] = page
    pages[(SOCIAL, "/@ana")] = profile(port)
    hosts = {HOME, SOCIAL} | {h.decode().lower() for h in re.findall(rb"https?://([A-Za-z0-9.-]+)", page)}
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config({}, db_path=os.path.join(tmp, "reader.sqlite"))
        config = replace(
            config,
            resolve=tuple((h, "127.0.0.1") for h in sorted(hosts)),
            parse_workers=args.parse_workers,
            allow_private_addresses=("all",),  # its server is on 127.0.0.1
        )
        store = Store.open(config.db_path).for_user(LOCAL_USER)
        person = store.add_person("Ana", home_url=f"http://{HOME}:{port}/").id
        report = find_channels(store, config, person)  # warm up (imports, a parser process)
        walls, cpus = [], []
        for _ in range(args.runs):
            store.db.execute("DELETE FROM channels")
            cpu0, wall0 = cpu_seconds(), time.perf_counter()
            report = find_channels(store, config, person)
            walls.append((time.perf_counter() - wall0) * 1000)
            cpus.append((cpu_seconds() - cpu0) * 1000)
        store.close()
    server.shutdown()

    walls.sort()
    p95 = walls[min(len(walls) - 1, round(0.95 * (len(walls) - 1)))]
    print(f"home page: {len(page):,} bytes, {page.count(b'rel=')} rel attributes; latency {args.latency_ms:g} ms")
    print(f"found: {', '.join(f'{c.kind} {c.value}' + (' (verified)' if c.is_verified else '') for c in report.found)}")
    where = "in this process" if args.parse_workers == 0 else "this process only: parser processes are not counted"
    print(
        f"find_channels, {args.runs} runs, parse workers {args.parse_workers}:"
        f" wall median {statistics.median(walls):.0f} ms, p95 {p95:.0f} ms;"
        f" CPU median {statistics.median(cpus):.0f} ms ({where})"
    )
    print(f"command: {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
