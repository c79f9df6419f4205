"""The ``reader`` command end to end: real SQLite, real parser, a real HTTP server on 127.0.0.1."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import rss

from reader.cli import main
from reader.opml import read_opml
from reader.store import LOCAL_USER, Store

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"


@pytest.fixture
def runner(tmp_path, monkeypatch):
    db = tmp_path / "reader.sqlite"
    monkeypatch.setenv("READER_PARSE_WORKERS", "0")
    monkeypatch.setenv("READER_ALLOW_PRIVATE_ADDRESSES", "all")  # the test servers are on 127.0.0.1
    cli = CliRunner()

    def run(*args, input=None):
        return cli.invoke(main, ["--db", str(db), *args], input=input, catch_exceptions=False)

    run.db = db
    return run


def opml(*outlines: str) -> str:
    return f"<opml version='2.0'><head><title>t</title></head><body>{''.join(outlines)}</body></opml>"


def feed_outline(url: str, title: str = "A feed") -> str:
    return f"<outline type='rss' text='{title}' xmlUrl='{url}'/>"


def test_importing_the_starter_list_twice_changes_nothing(runner):
    starter = ROOT / "feeds.opml"
    expected = len(read_opml(starter.read_bytes()).sources)

    first = runner("import", str(starter))
    second = runner("import", str(starter))

    assert first.exit_code == 0, first.output
    assert f"imported {expected} feeds" in first.output
    assert f"imported 0 feeds into 0 new groups ({expected} already followed" in second.output
    listing = runner("list")
    assert f"{expected} feeds" in listing.output


def test_a_malformed_opml_file_imports_nothing_and_says_why(runner, tmp_path):
    bad = tmp_path / "bad.opml"
    bad.write_text(opml(feed_outline("https://a.example/feed")).replace("</body>", ""))

    result = runner("import", str(bad))

    assert result.exit_code == 1
    assert "error: not a well-formed XML document" in result.output
    assert "no subscriptions yet" in runner("list").output


def test_an_opml_entity_bomb_imports_nothing(runner, tmp_path):
    bomb = tmp_path / "bomb.opml"
    bomb.write_text(
        '<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        "<opml version='2.0'><body><outline text='&c;' xmlUrl='https://a.example/feed'/></body></opml>"
    )

    result = runner("import", str(bomb))

    assert result.exit_code == 1 and "not allowed" in result.output
    assert "no subscriptions yet" in runner("list").output


def test_outlines_without_a_feed_url_are_reported(runner, tmp_path):
    path = tmp_path / "mixed.opml"
    path.write_text(opml(feed_outline("https://a.example/feed"), "<outline text='Just a note'/>"))

    result = runner("import", str(path))

    assert "imported 1 feeds" in result.output
    assert "Just a note: no xmlUrl" in result.output


def test_export_then_import_gives_the_same_subscriptions_and_groups(runner, tmp_path):
    source = tmp_path / "source.opml"
    source.write_text(
        opml(
            "<outline text='Friends'><outline text='Poets'>",
            feed_outline("https://a.example/feed", "Ann &amp; co"),
            "</outline>",
            feed_outline("https://b.example/rss", "Bea"),
            "</outline>",
            feed_outline("https://c.example/atom.xml", "Cy"),
        )
    )
    runner("import", str(source))
    exported = tmp_path / "exported.opml"

    assert runner("export", "-o", str(exported)).exit_code == 0

    def shape(data: bytes):
        return sorted((s.url, s.title, s.group_path) for s in read_opml(data).sources)

    assert shape(exported.read_bytes()) == shape(source.read_bytes())
    fresh = CliRunner().invoke(main, ["--db", str(tmp_path / "fresh.sqlite"), "import", str(exported)])
    assert "imported 3 feeds into 2 new groups" in fresh.output


def test_fetch_reports_new_entries_and_each_error(runner, feed_server, tmp_path):
    good = feed_server.route("/good.xml", body=rss(("1", "One"), ("2", "Two")).encode())
    gone = feed_server.route("/gone.xml", status=410)
    broken = feed_server.route("/broken.xml", body=b"<html>oops</html>", headers={"Content-Type": "text/html"})
    path = tmp_path / "subs.opml"
    path.write_text(opml(feed_outline(good), feed_outline(gone), feed_outline(broken)))
    runner("import", str(path))

    result = runner("fetch")

    assert result.exit_code == 0, result.output
    assert "3 feeds: 1 fetched, 0 unchanged, 2 errors; 2 new entries" in result.output
    assert f"{gone}: HTTP 410" in result.output
    assert f"{broken}: not a feed" in result.output
    # Second round: the good feed is unchanged; the gone one is not asked again, and
    # the broken one waits out its backoff.
    again = runner("fetch")
    assert "1 feeds: 0 fetched, 1 unchanged, 0 errors" in again.output
    assert len(feed_server.requests_to("/gone.xml")) == 1
    # --due right after a fetch: nothing is due.
    assert "0 feeds" in runner("fetch", "--due").output


def test_add_discovers_the_feed_a_page_announces(runner, feed_server):
    feed_url = feed_server.route("/posts/index.xml", body=rss(("1", "Hello"), title="Ada's notes").encode())
    feed_server.route("/comments.xml", body=rss(("c1", "Re: Hello"), title="Comments").encode())
    page = feed_server.route(
        "/",
        body=(
            b"<html><head><title>Ada</title>"
            b"<link rel='alternate' type='application/rss+xml' href='/posts/index.xml'>"
            b"<link rel='alternate' type='application/rss+xml' title='Comments' href='/comments.xml'>"
            b"</head><body>hi</body></html>"
        ),
        headers={"Content-Type": "text/html; charset=utf-8"},
    )

    result = runner("add", page, "--group", "Friends/Writers")

    assert result.exit_code == 0, result.output
    assert f"subscribed to {feed_url} (announced by the page)" in result.output
    assert "the page also offers" in result.output and "comments.xml" in result.output
    assert "1 new entries" in result.output
    listing = runner("list").output
    assert "Ada's notes  [Friends/Writers]" in listing
    assert len(feed_server.requests_to("/posts/index.xml")) == 1  # discovery's response is stored, not fetched again


def test_add_skips_announced_links_that_do_not_serve_a_feed(runner, feed_server):
    feed_server.route(
        "/",
        body=b"<html><head><link rel='feed' href='/notes/'><link rel='alternate' type='application/atom+xml'"
        b" href='/atom.xml'></head></html>",
        headers={"Content-Type": "text/html"},
    )
    feed_server.route("/notes/", body=b"<html><body>my notes page</body></html>", headers={"Content-Type": "text/html"})
    atom = feed_server.route(
        "/atom.xml",
        body=b"<feed xmlns='http://www.w3.org/2005/Atom'><title>N</title><id>x</id><updated>2025-01-01T00:00:00Z</updated>"
        b"<entry><id>e1</id><title>E</title><updated>2025-01-01T00:00:00Z</updated></entry></feed>",
    )

    result = runner("add", feed_server.url("/"), "--no-fetch")

    assert result.exit_code == 0, result.output
    assert f"subscribed to {atom} (announced by the page)" in result.output
    assert "/notes/" not in result.output


def test_add_tries_common_paths_when_the_page_announces_nothing(runner, feed_server):
    feed_server.route("/", body=b"<html><head><title>x</title></head></html>", headers={"Content-Type": "text/html"})
    feed_url = feed_server.route("/feed", body=rss(("1", "Hi")).encode())

    result = runner("add", feed_server.url("/"), "--no-fetch")

    assert result.exit_code == 0, result.output
    assert f"subscribed to {feed_url} (found at the common path" in result.output


def test_add_refuses_a_page_without_feeds_and_a_second_subscription(runner, feed_server):
    feed_server.route("/", body=b"<html><body>nothing here</body></html>", headers={"Content-Type": "text/html"})
    nothing = runner("add", feed_server.url("/"))
    assert nothing.exit_code == 1 and "no feed found" in nothing.output

    feed = feed_server.route("/feed.xml", body=rss(("1", "Hi")).encode())
    assert runner("add", feed, "--no-fetch").exit_code == 0
    twice = runner("add", feed, "--no-fetch")
    assert twice.exit_code == 1 and "already exists" in twice.output


def test_remove_unfollows_and_an_unknown_url_is_an_error(runner, tmp_path):
    path = tmp_path / "subs.opml"
    path.write_text(opml(feed_outline("https://a.example/feed")))
    runner("import", str(path))

    assert runner("remove", "https://a.example/feed").exit_code == 0
    assert "no subscriptions yet" in runner("list").output
    missing = runner("remove", "https://a.example/feed")
    assert missing.exit_code == 1 and "no such feed" in missing.output


def test_a_bad_setting_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.setenv("READER_FETCH_TIMEOUT", "soon")
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "x.sqlite"), "list"])
    assert result.exit_code == 2 and "READER_FETCH_TIMEOUT" in result.output


def test_killing_a_fetch_midway_leaves_a_consistent_database(feed_server, tmp_path):
    """SIGKILL during a fetch: every committed feed is whole, and the next fetch finishes the job."""
    urls = [
        feed_server.route(f"/f{i}.xml", body=rss(*[(f"{i}-{j}", f"Post {j}") for j in range(30)]).encode(), delay=0.05)
        for i in range(60)
    ]
    path = tmp_path / "subs.opml"
    path.write_text(opml(*(feed_outline(u, f"F{i}") for i, u in enumerate(urls))))
    db = tmp_path / "reader.sqlite"
    env = {
        **os.environ,
        "READER_FETCH_PER_HOST": "2",
        "READER_PARSE_WORKERS": "0",
        "READER_ALLOW_PRIVATE_ADDRESSES": "all",
    }
    command = [sys.executable, "-m", "reader.cli", "--db", str(db)]
    subprocess.run([*command, "import", str(path)], check=True, env=env, capture_output=True)

    process = subprocess.Popen([*command, "fetch"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until some, not all, feeds are stored
        with sqlite3.connect(db) as conn:
            done = conn.execute("SELECT count(*) FROM feeds WHERE status = 'ok'").fetchone()[0]
        if done >= 5:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        fetched, entries = conn.execute(
            "SELECT count(*), (SELECT count(*) FROM entries) FROM feeds WHERE status = 'ok'"
        ).fetchone()
        assert 5 <= fetched < 60
        assert entries == 30 * fetched  # no feed half-stored
        assert conn.execute("SELECT count(*) FROM entries_fts").fetchone()[0] == entries
    finished = subprocess.run([*command, "fetch"], env=env, capture_output=True, text=True, check=True)
    assert "0 errors" in finished.stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 60 * 30


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_starts_from_the_opml_and_fetches_in_the_background(feed_server, tmp_path):
    import urllib.request

    feed = feed_server.route("/ada.xml", body=rss(("1", "A post from Ada"), title="Ada").encode())
    starter = tmp_path / "starter.opml"
    starter.write_text(opml(feed_outline(feed, "Ada")))
    port = _free_port()
    env = {
        **os.environ,
        "READER_OPML": str(starter),
        "READER_DB": str(tmp_path / "reader.sqlite"),
        "READER_ALLOW_PRIVATE_ADDRESSES": "all",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "reader.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        page = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "A post from Ada" not in page:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    page = response.read().decode()
                    assert response.headers["Server"] == "Causerie"  # waitress, not the dev server
            except OSError:
                pass
            time.sleep(0.2)
        assert "A post from Ada" in page
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    assert "new database: imported 1 feeds" in output


def test_serve_no_fetch_fetches_nothing(feed_server, tmp_path):
    import urllib.request

    feed = feed_server.route("/ada.xml", body=rss(("1", "A post from Ada")).encode())
    starter = tmp_path / "starter.opml"
    starter.write_text(opml(feed_outline(feed, "Ada")))
    port = _free_port()
    env = {
        **os.environ,
        "READER_OPML": str(starter),
        "READER_DB": str(tmp_path / "reader.sqlite"),
        "READER_ALLOW_PRIVATE_ADDRESSES": "all",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "reader.cli", "serve", "--no-fetch", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/subscriptions/", timeout=5) as response:
                    assert "Ada" in response.read().decode()
                    break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        time.sleep(1)
        assert feed_server.requests_to("/ada.xml") == []
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_an_opml_address_without_a_scheme_is_fetched_over_http_when_https_does_not_connect(
    runner, feed_server, tmp_path
):
    # The test server speaks plain http: the first fetch's https fails its handshake; the feed
    # moves to http, says so, and the next fetch reads it. An address given with https never moves.
    url = feed_server.route("/carnet.xml", body=rss(("1", "L'été à Sète"), title="Le carnet d'Ana").encode())
    sure = feed_server.route("/sure.xml", body=rss(("2", "Deux"), title="Bruno").encode())
    written = url.removeprefix("http://")
    opml = tmp_path / "amis.opml"
    opml.write_text(
        "<opml version='2.0'><body>"
        f"<outline text='Ana' xmlUrl='{written}'/>"
        f"<outline text='Bruno' xmlUrl='{sure.replace('http://', 'https://')}'/>"
        "</body></opml>",
        encoding="utf-8",
    )

    imported = runner("import", str(opml))
    assert f"taken as https://{written} (and as http if https does not connect)" in imported.output

    first = runner("fetch")
    assert "https did not connect" in first.output and f"so {url} is tried next" in first.output
    listed = runner("list").output
    assert url in listed and f"https://{written}" not in listed

    runner("fetch")
    store = Store.open(runner.db).for_user(LOCAL_USER)
    try:
        assert [entry.title for entry in store.list_entries()] == ["L'été à Sète"]
        assert store.get_feed(url).status == "ok" and not store.get_feed(url).scheme_assumed
        given = store.get_feed(sure.replace("http://", "https://"))  # given with https: stays so
        assert given.status == "error" and given.url.startswith("https://")
    finally:
        store.close()


def test_add_takes_an_address_without_a_scheme_as_https_then_http_when_https_does_not_connect(runner, feed_server):
    # The test server speaks plain http: the https attempt fails its handshake, and says so.
    url = feed_server.route("/carnet.xml", body=rss(("1", "L'été à Sète"), title="Le carnet d'Ana").encode())
    written = url.removeprefix("http://")

    result = runner("add", written)

    assert result.exit_code == 0, result.output
    assert f"subscribed to {url} (the URL is a feed)" in result.output
    assert "no scheme given: https did not connect" in result.output and "so http" in result.output
    assert runner("list").output.count(url) == 1


def test_add_keeps_https_for_an_address_typed_with_it(runner, feed_server):
    url = feed_server.route("/carnet.xml", body=rss(("1", "Un"), title="A").encode())

    result = runner("add", url.replace("http://", "https://"))

    assert result.exit_code == 1  # https was asked for: no silent step down to http
    assert "so http" not in result.output
