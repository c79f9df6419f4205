"""Many refresh rounds and many page views in one process: does its memory, or do its descriptors
and threads, grow?

Serves the bench corpus (../shared/bench) on loopback, imports N feeds, then in this one process
runs ROUNDS refresh rounds through the real fetcher and pipeline (update_feeds: HTTP, parse,
store), 5% of the feeds changing every round, each round followed by page views through the
Flask app (timeline, people, a person, an entry, search, /healthz). Every EVERY rounds it prints
this process's RSS, open descriptors and threads; at the end, the growth between the first report
and the last.

    python3 benchmarks/soak_bench.py --n 100 --rounds 1000 --every 100
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fetch_bench import DEFAULT_BENCH_DIR, DEFAULT_CACHE, Server, ensure_corpus, http_get  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def snapshot() -> tuple[float, int, int, int]:
    """RSS, descriptors, threads, and the Python objects' memory blocks alive after a collection: a
    leak of objects grows the last one; RSS alone also grows with bigger documents or fragmentation."""
    gc.collect()
    return rss_mb(), len(os.listdir("/proc/self/fd")), threading.active_count(), sys.getallocatedblocks()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100, help="feeds (default 100)")
    ap.add_argument("--rounds", type=int, default=1000, help="refresh rounds (default 1000)")
    ap.add_argument("--every", type=int, default=100, help="report every this many rounds")
    ap.add_argument("--views", type=int, default=12, help="page views after each round")
    ap.add_argument(
        "--reset-every",
        type=int,
        default=20,
        help="put the feeds back as they were every this many rounds (default 20; 0: never). The bench"
        " server adds entries to its documents and never drops any, so without a reset each document"
        " grows round after round, and so does what parsing it takes",
    )
    a = ap.parse_args()

    os.environ.update(READER_ALLOW_PRIVATE_ADDRESSES="all", READER_OPML="", READER_PARSE_WORKERS="0")
    from reader.config import load_config
    from reader.opml import read_opml
    from reader.store import LOCAL_USER, Store
    from reader.update import select_feeds, update_feeds, utc_now
    from reader.web import create_app

    corpus, _, _ = ensure_corpus(DEFAULT_BENCH_DIR, DEFAULT_CACHE, a.n)
    work = Path(tempfile.mkdtemp(prefix="causerie-soak-"))
    feeds = Server(DEFAULT_BENCH_DIR, corpus, work, 0, 24 * 3600)
    feeds.start()
    try:
        config = load_config(db_path=str(work / "reader.sqlite"))
        store = Store.open(config.db_path).for_user(LOCAL_USER)
        sources = read_opml(http_get(feeds.base + "/feeds.opml")).sources
        store.add_feeds(sources)
        urls = [source.url for source in sources]
        client = create_app(config).test_client()
        list(update_feeds(store, config, select_feeds(store, utc_now(), urls=urls)))  # the first, cold fetch
        entry = store.list_timeline()[0].entry.id
        person = store.list_people()[0].id
        pages = ["/", "/people", f"/people/{person}", f"/entries/{entry}", "/search?q=the", "/healthz"]
        first = None
        start = time.perf_counter()
        for number in range(1, a.rounds + 1):
            if a.reset_every and number % a.reset_every == 0:
                http_get(feeds.base + "/__bench__/reset")
            http_get(feeds.base + "/__bench__/next-round?percent=5")
            results = list(update_feeds(store, config, select_feeds(store, utc_now(), urls=urls)))
            errors = sum(1 for result in results if result.error)
            for view in range(a.views):
                response = client.get(pages[view % len(pages)])
                assert response.status_code == 200, (pages[view % len(pages)], response.status_code)
            if number == 1 or number % a.every == 0:
                rss, fds, threads, blocks = snapshot()
                first = first or (rss, fds, threads, blocks)
                print(
                    f"round {number:5d}: RSS {rss:6.1f} MB, {blocks:7d} Python blocks, {fds:3d} descriptors,"
                    f" {threads:2d} threads,"
                    f" {errors} fetch errors, {time.perf_counter() - start:6.0f} s",
                    flush=True,
                )
        rss, fds, threads, blocks = snapshot()
        growth = rss - first[0]
        print(
            f"after {a.rounds} rounds and {a.rounds * a.views} page views: RSS {growth:+.1f} MB"
            f" ({growth / first[0] * 100:+.1f}%), Python blocks {blocks - first[3]:+d}"
            f" ({(blocks - first[3]) / first[3] * 100:+.1f}%), descriptors {fds - first[1]:+d},"
            f" threads {threads - first[2]:+d} since round 1"
        )
        store.close()
    finally:
        feeds.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
