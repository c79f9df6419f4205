#!/usr/bin/env python3
"""Drive lemon24/reader (the PyPI package `reader`) for `fetch_bench.py --compare-lemon24`.

Stdlib and lemon24/reader only. Its import name, `reader`, is also this project's, so it runs
from a virtual environment of its own, with `python -I` (no PYTHONPATH, no script directory on
sys.path) and a working directory outside the checkout. It refuses to run if the `reader` it
imports is not lemon24's.

    python -I lemon24_driver.py DB add URLS_FILE        # subscribe to every URL (one a line)
    python -I lemon24_driver.py DB update --workers 4   # fetch every feed once

`update` fetches every feed, due or not (`scheduled=False`), as `reader fetch` does; lemon24
would otherwise wait an hour after a feed's last update. It goes through `update_feeds_iter`,
the loop inside `update_feeds`, to count what happened to each feed. Both commands end with a
line `RESULT {json}` for the bench.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import reader


def add_feeds(lemon, urls_file: Path) -> dict:
    urls = [line.strip() for line in urls_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    for url in urls:
        lemon.add_feed(url, exist_ok=True)
    return {"urls": len(urls), "feeds": lemon.get_feed_counts().total}


def update_feeds(lemon, workers: int) -> dict:
    fetched = not_modified = new = modified = 0
    errors: list[str] = []
    for url, value in lemon.update_feeds_iter(workers=workers, scheduled=False):
        if value is None:  # the server said 304
            not_modified += 1
        elif isinstance(value, Exception):
            errors.append(f"{url}: {value}")
        else:
            fetched += 1
            new += value.new
            modified += value.modified
    feeds = lemon.get_feed_counts()
    return {
        "fetched": fetched,
        "not_modified": not_modified,
        "errors": len(errors),
        "error_samples": errors[:5],
        "new_entries": new,
        "modified_entries": modified,
        "feeds": feeds.total,
        "broken_feeds": feeds.broken,
        "entries": lemon.get_entry_counts().total,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("db", type=Path, help="lemon24/reader database (made if missing)")
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("add", help="subscribe to every URL of a file").add_argument("urls", type=Path)
    update = sub.add_parser("update", help="fetch every feed once")
    update.add_argument("--workers", type=int, default=4, help="threads that fetch and parse (default 4)")
    a = ap.parse_args(argv)

    if not hasattr(reader, "make_reader"):
        print(f"not lemon24/reader: {reader.__file__}", file=sys.stderr)
        return 2
    print(f"lemon24/reader {reader.__version__} (python {platform.python_version()}) from {reader.__file__}")
    lemon = reader.make_reader(str(a.db))
    try:
        result = add_feeds(lemon, a.urls) if a.command == "add" else update_feeds(lemon, a.workers)
    finally:
        lemon.close()
    if a.command == "update":
        print(
            f"{result['fetched']} fetched, {result['not_modified']} not modified, {result['errors']} errors;"
            f" {result['new_entries']} new entries, {result['modified_entries']} modified;"
            f" database: {result['feeds']} feeds, {result['entries']} entries"
        )
        for line in result["error_samples"]:
            print(f"  error: {line}")
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
