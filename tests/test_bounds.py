"""One hostile file or page cannot make Causerie fetch hundreds of URLs at once.

Discovery tries a bounded number of links; an OPML import fetches nothing by itself, and the fetch
after it goes through the normal limits (in flight at once, and per host).
"""

import os
import subprocess
import sys
from xml.sax.saxutils import quoteattr

from reader.discover import candidate_urls
from reader.subscribe import MAX_ANNOUNCED

ENV = {**os.environ, "READER_PARSE_WORKERS": "0", "READER_ALLOW_PRIVATE_ADDRESSES": "all", "READER_OPML": ""}


def reader(db, *args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "reader.cli", "--db", str(db), *args],
        env={**ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_page_announcing_five_hundred_feeds_gets_a_bounded_number_of_tries(feed_server, tmp_path):
    links = "".join(
        f"<link rel='alternate' type='application/rss+xml' href='/piège{i}.xml' title='Flux n°{i} « x »'>"
        for i in range(500)
    )
    page = feed_server.route("/blog/", body=f"<html><head>{links}</head><body>Salut</body></html>".encode())
    done = reader(tmp_path / "reader.sqlite", "add", page)
    assert done.returncode == 1 and "no feed found" in done.stderr
    tried = len(feed_server.requests)
    assert tried <= 1 + MAX_ANNOUNCED + len(candidate_urls(page)), tried
    assert len([r for r in feed_server.requests if "pi" in r.path and r.path.endswith(".xml")]) == MAX_ANNOUNCED


def test_an_opml_of_six_hundred_feeds_on_one_host_is_fetched_within_the_limits(feed_server, tmp_path):
    body = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"
    urls = [feed_server.route(f"/f{i}.xml", body=body, delay=0.02) for i in range(600)]
    outlines = "".join(
        f"<outline type='rss' text={quoteattr(f'n°{i} & co')} xmlUrl={quoteattr(u)}/>" for i, u in enumerate(urls)
    )
    opml = tmp_path / "hostile.opml"
    opml.write_text(f"<opml version='2.0'><head/><body>{outlines}</body></opml>", encoding="utf-8")
    db = tmp_path / "reader.sqlite"

    imported = reader(db, "import", str(opml))
    assert imported.returncode == 0 and "imported 600 feeds" in imported.stdout, imported.stderr
    assert feed_server.requests == []  # importing fetches nothing by itself

    fetched = reader(db, "fetch", env={"READER_FETCH_PER_HOST": "4", "READER_FETCH_WORKERS": "16"})
    assert "600 feeds: 600 fetched" in fetched.stdout, fetched.stdout + fetched.stderr
    assert len(feed_server.requests) == 600
    assert feed_server.peak_concurrency_for("127.0.0.1") <= 4
    assert feed_server.peak_concurrency >= 2  # it did fetch several at once, up to the limit
