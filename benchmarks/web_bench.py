#!/usr/bin/env python3
"""Measure the web app's server time per page on large generated databases.

Builds (once, cached in benchmarks/.cache/) a database of N feeds and M entries shaped like real
ones, then creates the app in-process and times ``client.get`` with Flask's test client for each
page type: the timeline (first page, and 20 pages deep by following the "older" links), a person's
and a group's page, an entry page at first view (sanitized then cached) and again, and searches
(common, mid-frequency and rare words, two words, a phrase, hostile input). Every response must be
200 (hostile searches: anything but 5xx); the script exits non-zero otherwise.

With --server, it serves the database with `reader serve` (waitress) on 127.0.0.1 instead and times 1,
then 8 keep-alive clients on the timeline, its older pages, person pages and the people page, with
the server process's CPU time per request.

    python3 benchmarks/web_bench.py                                  # 1,000 feeds, 200,000 entries
    python3 benchmarks/web_bench.py --entries 20000 --entries 200000 --targets
    python3 benchmarks/web_bench.py --entries 20000 --build-only --check
    python3 benchmarks/web_bench.py --server --targets               # through a real server
"""

from __future__ import annotations

import argparse
import contextlib
import html
import http.client
import json
import math
import os
import platform
import queue
import random
import re
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))  # the checkout's `reader`, installed or not

from reader.config import load_config  # noqa: E402
from reader.models import FeedSource  # noqa: E402
from reader.sanitize import excerpt, to_text  # noqa: E402
from reader.store import LOCAL_USER, Store  # noqa: E402

DEFAULT_CACHE = HERE / ".cache"  # generated databases; keep out of git
GENERATOR_VERSION = 2  # bump when the generated data changes: cached databases are rebuilt
SEED = 1
USER = 1

# Targets (milliseconds), checked with --targets.
TARGET_PAGE_P95_MS = 25.0  # timeline pages and entry pages, first view included
TARGET_SEARCH_P95_MS = 100.0
TARGET_TIMELINE_GROWTH = 1.5  # timeline median, largest database / smallest

# -- generated data ------------------------------------------------------------

VOCABULARY_SIZE = 2_000
RARE_WORDS = 30_000  # names and jargon: each entry gets 1-3, so each is in a handful of entries
SENTENCES = 40_000  # entries are made of sentences drawn from this pool (fast, same word statistics)
GROUPS = ("Friends", "Family", "Work", "Python", "Science", "Art", "News", "Music", "Local", "Poets")
SPAN_S = 3 * 365 * 86_400  # entries spread over the 3 years before the build
BATCH = 5_000  # entries per transaction
BAIT = "XSSBAIT"  # only inside script, event handlers and javascript: URLs: must never reach a page


def _word_list(text: str) -> list[str]:
    return text.split()


_COMMON = _word_list(
    """
    the of and to a in is it you that he was for on are with as i his they be at one have this from or had by not
    word but what some we can out other were all there when up use your how said an each she which do their time if
    will way about many then them write would like so these her long make thing see him two has look more day could
    go come did number sound no most people my over know water than call first who may down side been now find any
    new work part take get place made live where after back little only round man year came show every good me give
    our under name very through just form sentence great think say help low line differ turn cause much mean before
    move right boy old too same tell does set three want air well also play small end put home read hand port large
    spell add even land here must big high such follow act why ask men change went light kind off need house picture
    try us again animal point mother world near build self earth father
    """
)
_SYLLABLES = _word_list(
    """
    ka lo mi ne ra su te vo zi ba de fi go hu ja ke li mo nu pa qui re si ta ul ve wa xo yu zo an el in or us ar en
    is ol um bra cre dri flo gre pla sti tra vel mor sen tal rin dok pur gan hel lum nor vik
    """
)
_FIRST = _word_list(
    """
    Ada Alan Bea Chen Dana Eli Fatou Grace Hugo Ines Jun Kofi Lena Mateo Noor Olga Priya Quinn Rosa Sami Tove Uma
    Vera Wen Xavier Yara Zoe Amir Bruno Chloé Dmitri Émile Farah Gustav Hana Igor Jana Kai Luis Maya Nils
    """
)
_LAST = _word_list(
    """
    Lovelace Turing Okafor Nakamura Silva Novak Haddad Larsen Moreau Rossi Kowalski Dubois Schmidt Tanaka Ibrahim
    Walsh Petrov Costa Jensen Müller García Öberg Nguyen Mensah Park Oyelaran Varga Eriksen Brennan Lindqvist
    """
)


def _zipf_weights(n: int, s: float) -> list[float]:
    total = 0.0
    cumulative = []
    for rank in range(1, n + 1):
        total += 1.0 / rank**s
        cumulative.append(total)
    return cumulative


def _made_up_word(rng: random.Random, syllables: int) -> str:
    word = "".join(rng.choice(_SYLLABLES) for _ in range(syllables))
    if rng.random() < 0.03:  # some diacritics: the tokenizer folds them (remove_diacritics 2)
        word = word.replace("e", "é", 1).replace("o", "ö", 1)
    return word


@dataclass(frozen=True)
class Words:
    """The generator's language: Zipf-distributed vocabulary, rare words, a pool of sentences."""

    vocabulary: list[str]
    cum_weights: list[float]
    rare: list[str]
    sentences: list[str]

    @classmethod
    def make(cls, seed: int) -> Words:
        rng = random.Random(seed)
        vocabulary = list(dict.fromkeys(_COMMON))
        seen = set(vocabulary)
        while len(vocabulary) < VOCABULARY_SIZE:
            word = _made_up_word(rng, rng.choice((1, 2, 2, 3, 3, 4)))
            if word not in seen:
                seen.add(word)
                vocabulary.append(word)
        rare: list[str] = []
        while len(rare) < RARE_WORDS:
            word = _made_up_word(rng, rng.choice((4, 5))) + rng.choice(("x", "q", "z", "th", "sk"))
            if word not in seen:
                seen.add(word)
                rare.append(word)
        cum_weights = _zipf_weights(VOCABULARY_SIZE, 1.07)
        words = cls(vocabulary, cum_weights, rare, [])
        for _ in range(SENTENCES):
            phrase = " ".join(words.pick(rng, rng.randint(6, 20)))
            words.sentences.append(phrase[0].upper() + phrase[1:] + rng.choice((".", ".", ".", "?", "!")))
        return words

    def pick(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.vocabulary, cum_weights=self.cum_weights, k=k)


@dataclass(frozen=True)
class FeedSpec:
    id: int  # feeds.id, in the order add_feeds inserted them
    host: str
    author: str


def _feed_sources(rng: random.Random, n: int) -> tuple[list[FeedSource], list[FeedSpec]]:
    sources, specs = [], []
    for i in range(1, n + 1):
        author = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        slug = re.sub(r"[^a-z]+", "-", author.lower().encode("ascii", "ignore").decode()).strip("-")
        host = f"{slug}-{i}.example.org"
        title = rng.choice((f"{author}'s notes", f"{author}", f"The {author.split()[1]} log", f"Field notes #{i}"))
        group = () if rng.random() < 0.1 else (rng.choice(GROUPS),)
        sources.append(FeedSource(f"https://{host}/feed.xml", title, f"https://{host}/", group))
        specs.append(FeedSpec(i, host, author))
    return sources, specs


def _stamp(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(seconds))


def _timestamps(rng: random.Random, n: int, end: int) -> list[tuple[int, int | None]]:
    """(first_seen, published) per entry, in first-seen order: the order a reader stores them."""
    out = []
    for _ in range(n):
        published = end - rng.randrange(SPAN_S)
        roll = rng.random()
        if roll < 0.03:  # no date in the feed
            out.append((published, None))
        elif roll < 0.05:  # dated in the future: the timeline shows it at first-seen time
            out.append((published - rng.randrange(3600, 30 * 86_400), published))
        else:
            out.append((published + rng.randrange(300, 6 * 3600), published))
    out.sort(key=lambda pair: pair[0])
    for i in range(1, n):  # some entries share their time exactly: the id breaks the tie
        if rng.random() < 0.05:
            out[i] = out[i - 1]
    return out


def _paragraph(rng: random.Random, words: Words) -> tuple[str, str]:
    """One block of the entry: (html, text); text is what sanitize.to_text() makes of the html."""
    sentences = rng.choices(words.sentences, k=rng.randint(2, 6))
    roll = rng.random()
    if roll < 0.25:
        mid = len(sentences) // 2
        before, link, after = " ".join(sentences[:mid]), sentences[mid], " ".join(sentences[mid + 1 :])
        href = f"/{rng.randint(2019, 2025)}/{rng.randint(1, 12):02d}/{link.split()[0].lower()}-{rng.randint(1, 999)}"
        html_ = f'<p>{before} <a href="{href}">{link}</a> {after}</p>'
        return html_, " ".join(part for part in (before, link, after) if part)
    text = " ".join(sentences)
    if roll < 0.32:
        return f"<blockquote><p>{text}</p></blockquote>", text
    if roll < 0.38:
        items = "".join(f"<li>{s}</li>" for s in sentences)
        return f"<ul>{items}</ul>", text
    if roll < 0.42:
        return f"<h2>Notes &amp; links</h2><p>{text}</p>", "Notes & links " + text
    return f"<p>{text}</p>", text


def _bait(rng: random.Random, entry_id: int) -> str:
    """Hostile markup a sanitizer must remove; none of it is text."""
    return rng.choice(
        (
            f"<script>window.{BAIT}_{entry_id} = 1;</script>",
            f'<p onclick="{BAIT}()"><img src="x" onerror="{BAIT}()"></p>',
            f'<p><a href="javascript:{BAIT}()"></a></p>',
            f'<style>body {{ background: url("javascript:{BAIT}") }}</style>',
            f'<iframe src="https://evil.example/{BAIT}"></iframe>',
        )
    )


def _content(rng: random.Random, words: Words, entry_id: int, rare: list[str]) -> tuple[str, str]:
    """Entry HTML of 1-6 KB and its plain text."""
    target = rng.randint(1_000, 6_000)
    parts_html, parts_text, size = [], [], 0
    while size < target:
        block_html, block_text = _paragraph(rng, words)
        parts_html.append(block_html)
        parts_text.append(block_text)
        size += len(block_html)
    # Names and jargon: the words a search for something specific finds.
    tail = f"Thanks to {' and '.join(rare)}."
    parts_html.append(f"<p>{tail}</p>")
    parts_text.append(tail)
    picture = f'<p><img src="/images/{entry_id}.jpg" alt="{html.escape(parts_text[0][:40])}" width="640"></p>'
    parts_html.insert(rng.randrange(len(parts_html) + 1), picture)
    if rng.random() < 0.3:
        parts_html.insert(rng.randrange(len(parts_html) + 1), _bait(rng, entry_id))
    return "\n".join(parts_html), " ".join(parts_text)


def _title(rng: random.Random, words: Words) -> str:
    title = " ".join(words.pick(rng, rng.randint(5, 10)))
    title = title[0].upper() + title[1:]
    if rng.random() < 0.01:
        title += " <script>alert('title')</script> & more"  # plain text: a page must escape it
    return title


def _entry_row(rng: random.Random, words: Words, feed: FeedSpec, entry_id: int, n: int, times: tuple) -> tuple:
    first_seen, published = times
    sort_at = min(first_seen, published) if published is not None else first_seen
    link = f"https://{feed.host}/posts/{n}"
    rare = rng.sample(words.rare, rng.randint(1, 3))
    content, text = _content(rng, words, entry_id, rare)
    summary = None
    if rng.random() < 0.25:
        summary = f"<p>{' '.join(rng.choices(words.sentences, k=2))}</p>"
    # As update._derive does: the excerpt prefers the summary.
    lead = to_text(summary) if summary else text
    author = feed.author if rng.random() < 0.8 else f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    stamp_seen = _stamp(first_seen)
    return (
        entry_id,
        feed.id,
        link if n % 3 else f"tag:{feed.host},2022:post-{n}",  # guid
        _title(rng, words),
        link,
        author,
        summary,
        content,
        link,  # base_url
        excerpt(lead),
        _stamp(published) if published is not None else None,
        stamp_seen,
        _stamp(sort_at),
        f"{link}#comments" if n % 4 == 0 else None,
        f"{entry_id:032x}",  # hash
        stamp_seen,  # changed_at
        text,
    )


_INSERT_ENTRY = """
    INSERT INTO entries (id, feed_id, guid, title, link, author_name, summary, content, base_url, excerpt,
                         published_at, first_seen_at, sort_at, comments_url, enclosures, hash, changed_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?)
"""


def _insert_batch(conn: sqlite3.Connection, rows: list[tuple], read: list[tuple]) -> None:
    with conn:
        conn.executemany(_INSERT_ENTRY, [row[:-1] for row in rows])
        conn.executemany(
            "INSERT INTO entries_fts (rowid, title, author, text) VALUES (?, ?, ?, ?)",
            [(row[0], row[3], row[5], row[-1]) for row in rows],
        )
        conn.executemany("INSERT INTO entry_states (user_id, entry_id, is_read, read_at) VALUES (?, ?, 1, ?)", read)


def build_database(path: Path, n_feeds: int, n_entries: int, seed: int) -> dict:
    """Generate the database at ``path`` (via a temporary file: a failed build leaves nothing)."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    words = Words.make(seed)
    partial = path.with_name(path.name + ".partial")
    for stale in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        stale.unlink(missing_ok=True)
    store = Store.open(partial).for_user(LOCAL_USER)
    sources, feeds = _feed_sources(rng, n_feeds)
    store.add_feeds(sources)
    conn = store.db.conn
    conn.execute("PRAGMA synchronous = OFF")  # a crash mid-build just means building again
    conn.execute("PRAGMA cache_size = -200000")
    _check_feed_ids(conn, sources, feeds)
    end = int(time.time()) // 3600 * 3600  # up to the build: 'recent' queries find something
    now = _stamp(end)
    with conn:
        conn.execute(
            "UPDATE feeds SET status = 'ok', http_status = 200, last_fetched_at = ?, last_success_at = ?,"
            " next_fetch_at = ?",
            [now, now, now],
        )
    feed_weights = _zipf_weights(n_feeds, 0.8)  # a few prolific feeds, a long tail of quiet ones
    per_feed = [0] * (n_feeds + 1)
    rows: list[tuple] = []
    read: list[tuple] = []
    for entry_id, times in enumerate(_timestamps(rng, n_entries, end), start=1):
        feed = rng.choices(feeds, cum_weights=feed_weights)[0]
        per_feed[feed.id] += 1
        rows.append(_entry_row(rng, words, feed, entry_id, per_feed[feed.id], times))
        if rng.random() < 0.3:
            read.append((USER, entry_id, _stamp(times[0] + 3600)))
        if len(rows) == BATCH:
            _insert_batch(conn, rows, read)
            rows, read = [], []
            _progress(f"  {entry_id:,}/{n_entries:,} entries, {time.perf_counter() - t0:.0f} s")
    if rows:
        _insert_batch(conn, rows, read)
    conn.execute("ANALYZE")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    partial.replace(path)
    build_s = time.perf_counter() - t0
    _progress("")
    meta = {"version": GENERATOR_VERSION, "seed": seed, "build_s": round(build_s, 1), "newest": now}
    _meta_path(path).write_text(json.dumps(meta) + "\n")
    return meta


def _check_feed_ids(conn: sqlite3.Connection, sources: list[FeedSource], feeds: list[FeedSpec]) -> None:
    ids = dict(conn.execute("SELECT url, id FROM feeds"))
    for source, feed in zip(sources, feeds, strict=True):
        if ids.get(source.url) != feed.id:
            raise BenchError(f"feed ids are not in insertion order: {source.url} has id {ids.get(source.url)}")


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _progress(line: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\r{line:<70}\r" if line else f"\r{'':<70}\r")
        sys.stderr.flush()


def ensure_database(cache: Path, n_feeds: int, n_entries: int, *, rebuild: bool, seed: int) -> tuple[Path, dict]:
    path = cache / f"web-{n_feeds}-{n_entries}.sqlite"
    meta = None
    with contextlib.suppress(OSError, ValueError):
        meta = json.loads(_meta_path(path).read_text())
    fresh = path.exists() and meta and meta.get("version") == GENERATOR_VERSION and meta.get("seed") == seed
    if fresh and not rebuild:
        print(f"using {_rel(path)} (built in {meta['build_s']} s; --rebuild to make it again)")
        return path, meta
    for old in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), _meta_path(path)):
        old.unlink(missing_ok=True)
    print(f"building {_rel(path)}: {n_feeds:,} feeds, {n_entries:,} entries ...", flush=True)
    meta = build_database(path, n_feeds, n_entries, seed)
    print(f"  built in {meta['build_s']} s, {_mb(db_bytes(path)):.0f} MB")
    return path, meta


def db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


# -- checks on the generated data ----------------------------------------------


def check_database(path: Path, *, full: bool) -> list[str]:
    """What the schema and the app assume of the data; returns the problems found."""
    problems: list[str] = []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.execute("PRAGMA foreign_keys = ON")
    one = lambda sql, *args: conn.execute(sql, args).fetchone()[0]  # noqa: E731

    def expect(ok: bool, message: str) -> None:
        if not ok:
            problems.append(message)

    entries = one("SELECT count(*) FROM entries")
    expect(one("SELECT count(*) FROM entries_fts") == entries, "entries_fts and entries differ in rows")
    expect(one("SELECT max(rowid) FROM entries_fts") == one("SELECT max(id) FROM entries"), "fts rowids != ids")
    expect(not conn.execute("PRAGMA foreign_key_check").fetchall(), "foreign key violations")
    expect(one("SELECT count(*) FROM groups") <= len(GROUPS), "more groups than names")
    expect(one("SELECT count(*) FROM subscriptions WHERE user_id = 1") == one("SELECT count(*) FROM feeds"), "subs")
    dupes = one("SELECT count(*) FROM (SELECT 1 FROM entries GROUP BY feed_id, guid HAVING count(*) > 1)")
    expect(dupes == 0, f"{dupes} duplicate (feed_id, guid)")
    bad_sort = one(
        "SELECT count(*) FROM entries WHERE sort_at != CASE WHEN published_at IS NULL THEN first_seen_at"
        " ELSE min(published_at, first_seen_at) END"
    )
    expect(bad_sort == 0, f"{bad_sort} entries with sort_at != min(published_at, first_seen_at)")
    pattern = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]+00:00"
    for column in ("published_at", "first_seen_at", "sort_at", "changed_at"):
        bad = one(f"SELECT count(*) FROM entries WHERE {column} IS NOT NULL AND {column} NOT GLOB ?", pattern)
        expect(bad == 0, f"{bad} entries with {column} not ISO-8601 UTC")
    read = one("SELECT count(*) FROM entry_states WHERE user_id = 1 AND is_read = 1")
    expect(0.25 < read / max(entries, 1) < 0.35, f"read share {read / max(entries, 1):.2f}, expected ~0.30")
    expect(one("SELECT max(length(excerpt)) FROM entries") <= 281, "excerpt longer than 280 characters")
    sizes = conn.execute("SELECT min(length(content)), max(length(content)) FROM entries").fetchone()
    expect(sizes[0] >= 900 and sizes[1] <= 8_000, f"content sizes {sizes} outside 1-6 KB (+ picture)")
    expect(one("SELECT count(*) FROM entries WHERE content_html IS NOT NULL") < entries, "no uncached entries")
    sample = conn.execute(
        "SELECT e.content, f.text FROM entries e JOIN entries_fts f ON f.rowid = e.id ORDER BY e.id DESC LIMIT 300"
    )
    mismatched = sum(to_text(content) != text for content, text in sample)
    expect(mismatched == 0, f"{mismatched}/300 entries whose fts text != sanitize.to_text(content)")
    if full:
        result = one("PRAGMA integrity_check")
        expect(result == "ok", f"integrity_check: {result}")
        result = one("SELECT count(*) FROM entries_fts WHERE entries_fts MATCH 'the'")
        expect(result > entries * 0.5, f"'the' matched only {result} of {entries}")
    conn.close()
    problems.extend(_check_store_reads(path))
    return problems


def _check_store_reads(path: Path) -> list[str]:
    """The rows load through the store's own code (dates parse, enclosures decode)."""
    store = Store.open(path).for_user(LOCAL_USER)
    try:
        entries = store.list_entries(limit=50)
        if len(entries) != 50 or any(a.sort_at < b.sort_at for a, b in zip(entries, entries[1:], strict=False)):
            return ["Store.list_entries: not 50 entries newest first"]
        store.get_entry(entries[-1].id)
    finally:
        store.close()
    return []


# -- measuring -----------------------------------------------------------------


class BenchError(Exception):
    """A step failed; the message says which."""


@dataclass
class Series:
    name: str
    kind: str  # "timeline", "entry", "search" or "" (no target)
    ms: list[float] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)  # search: the query of each request
    matches: dict[str, int] = field(default_factory=dict)  # search: entries matching each query

    def summary(self) -> tuple[int, float, float, float]:
        ordered = sorted(self.ms)
        p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
        return len(ordered), statistics.median(ordered), p95, ordered[-1]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str, list[str]]] = []  # (href, rel, text)
        self._open: list[tuple[str, str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "a":
            found = dict(attrs)
            self._open.append((found.get("href") or "", found.get("rel") or "", []))

    def handle_data(self, data: str) -> None:
        for _, _, text in self._open:
            text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open:
            self.links.append(self._open.pop())


def older_link(body: str) -> str | None:
    """The page's "older" link: an anchor to ?before=, preferably rel=next or labelled older."""
    parser = _Links()
    parser.feed(body)
    candidates = [(href, rel, "".join(text)) for href, rel, text in parser.links if "before=" in href]
    for href, rel, text in candidates:
        if "next" in rel.split() or "older" in text.lower():
            return href
    return candidates[-1][0] if candidates else None


_ENTRY_LINK = re.compile(r'href="(?:https?://[^/"]+)?/entries/(\d+)"')


def entry_ids(body: str) -> list[int]:
    return list(dict.fromkeys(int(m) for m in _ENTRY_LINK.findall(body)))


class Client:
    """Flask's test client, timed; every answer is checked."""

    def __init__(self, app) -> None:
        self.client = app.test_client()
        self.problems: list[str] = []

    def get(self, url: str, query: dict | None = None, *, hostile: bool = False) -> tuple[float, str]:
        t0 = time.perf_counter()
        response = self.client.get(url, query_string=query)
        body = response.get_data()  # inside the timing: a streamed body is rendered here
        ms = (time.perf_counter() - t0) * 1000
        response.close()
        text = body.decode("utf-8", "replace")
        shown = url + (f" {query!r}" if query else "")
        if response.status_code >= 500 or (response.status_code != 200 and not hostile):
            raise BenchError(f"GET {shown} -> {response.status_code}\n{_page_text(text)[:600]}")
        if response.status_code != 200:
            self.problems.append(f"note: GET {shown} -> {response.status_code} (not 5xx: accepted)")
        if BAIT in text:
            self.problems.append(f"GET {shown}: hostile markup from the feed reached the page ({BAIT})")
        return ms, text


def _page_text(body: str) -> str:
    return re.sub(r"\s+", " ", to_text(body))


@dataclass(frozen=True)
class Queries:
    common: list[str]
    mid: list[str]
    rare: list[str]
    two_words: list[str]
    phrases: list[str]


def pick_queries(path: Path, seed: int) -> tuple[Queries, Callable[[str], int]]:
    """Search terms by their real document frequency in this database (fts5vocab)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.execute("CREATE VIRTUAL TABLE temp.bench_vocab USING fts5vocab(main, entries_fts, row)")
    entries = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
    terms = [(t, d) for t, d in conn.execute("SELECT term, doc FROM temp.bench_vocab") if t.isalpha()]
    words = Words.make(seed)
    vocab = {w.lower() for w in words.vocabulary}

    def nearest(pool: list[tuple[str, int]], share: float, k: int) -> list[str]:
        return [t for t, _ in sorted(pool, key=lambda td: (abs(td[1] - share * entries), td[0]))[:k]]

    in_vocab = [(t, d) for t, d in terms if t in vocab]
    rng = random.Random(seed)
    mid = nearest(in_vocab, 0.02, 10)
    phrases = []
    for sentence in rng.sample(words.sentences, 10):
        tokens = re.findall(r"\w+", sentence.lower())
        start = rng.randrange(len(tokens) - 2)
        phrases.append('"' + " ".join(tokens[start : start + 3]) + '"')
    queries = Queries(
        common=[t for t, _ in sorted(in_vocab, key=lambda td: -td[1])[:3]],
        mid=mid,
        rare=nearest([(t, d) for t, d in terms if t not in vocab], 0.0001, 20),
        two_words=[f"{a} {b}" for a, b in zip(mid, mid[1:] + mid[:1], strict=True)],
        phrases=phrases,
    )

    def count(query: str) -> int:
        phrase = re.findall(r'"[^"]*"', query)
        match = " ".join(phrase) if phrase else " ".join(f'"{w}"' for w in query.split())
        return conn.execute("SELECT count(*) FROM entries_fts WHERE entries_fts MATCH ?", [match]).fetchone()[0]

    return queries, count


HOSTILE = [
    '"',
    "AND OR",
    "*",
    "title:",
    "NEAR(",
    "naïve café 東京 🙂",
    '"unbalanced',
    "-",
    "^x",
    "a OR",
    "{x y}",
    "x" * 500,
]


def pick_ids(path: Path, n: int, seed: int) -> dict[str, list[int]]:
    """Entries not yet viewed (content_html NULL), people and groups to visit."""
    rng = random.Random(seed ^ int(time.time()))
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    top = conn.execute("SELECT max(id) FROM entries").fetchone()[0]
    fresh: list[int] = []
    while len(fresh) < n:
        batch = rng.sample(range(1, top + 1), min(top, 2 * n))
        marks = ",".join("?" * len(batch))
        found = conn.execute(f"SELECT id FROM entries WHERE content_html IS NULL AND id IN ({marks})", batch)
        fresh.extend(sorted({row[0] for row in found} - set(fresh)))
        if len(batch) >= top and len(fresh) < n:
            raise BenchError(f"only {len(fresh)} entries have content_html NULL; use --rebuild")
    people = [
        row[0]
        for row in conn.execute(
            "SELECT s.person_id FROM subscriptions s JOIN entries e ON e.feed_id = s.feed_id"
            " GROUP BY s.person_id ORDER BY count(*) DESC"
        )
    ]
    step = max(1, len(people) // 20)
    groups = [row[0] for row in conn.execute("SELECT id FROM groups ORDER BY id")]
    conn.close()
    rng.shuffle(fresh)
    return {"fresh": fresh[:n], "people": people[::step][:20], "groups": groups}


def import_web():
    try:
        from reader.web import create_app
    except ModuleNotFoundError as exc:
        if exc.name in ("reader.web", "reader.views"):
            raise BenchError(
                f"{exc.name} does not exist yet: the web app is needed to measure pages"
                " (use --build-only to build and check the databases only)"
            ) from exc
        raise
    except ImportError as exc:
        raise BenchError(f"reader.web has no create_app: {exc}") from exc
    return create_app


def _cycle(items: list, n: int) -> Iterator:
    for i in range(n):
        yield items[i % len(items)]


def measure(path: Path, args: argparse.Namespace) -> tuple[list[Series], list[str], dict]:
    create_app = import_web()
    n, warm = args.requests, args.warmup
    ids = pick_ids(path, n + warm, args.seed)
    queries, count = pick_queries(path, args.seed)
    client = Client(create_app(load_config({}, db_path=str(path))))
    series: list[Series] = []
    facts: dict = {}

    def run(name: str, kind: str, urls: Iterator, warmup: Iterable = ()) -> Series:
        for url, query in warmup:
            client.get(url, query, hostile=kind == "hostile")
        s = Series(name, "search" if kind == "hostile" else kind)
        for url, query in urls:
            s.ms.append(client.get(url, query, hostile=kind == "hostile")[0])
            s.queries.append(query.get("q", "") if query else "")
        series.append(s)
        return s

    home = [("/", None)]
    run("timeline first page", "timeline", _cycle(home, n), _cycle(home, warm))
    series.append(_deep_pages(client, n, args.depth, facts))
    people, groups = ids["people"], ids["groups"]
    run(
        "person page",
        "people",
        ((f"/people/{p}", None) for p in _cycle(people, n)),
        _cycle([("/people/1", None)], warm),
    )
    everyone = [("/people", None), ("/people", {"order": "latest"})]
    run("people page", "people", _cycle(everyone, n), _cycle(everyone, warm))
    run(
        "group page",
        "",
        ((f"/groups/{g}", None) for g in _cycle(groups, n)),
        _cycle([(f"/groups/{groups[0]}", None)], warm),
    )
    fresh, warm_ids = ids["fresh"][:n], ids["fresh"][n:]
    run(
        "entry first view",
        "entry",
        ((f"/entries/{i}", None) for i in fresh),
        ((f"/entries/{i}", None) for i in warm_ids),
    )
    run("entry repeat view", "entry", ((f"/entries/{i}", None) for i in _cycle(fresh, n)))
    facts["cached"] = _count_cached(path, fresh)
    for name, terms in (
        ("search common word", queries.common),
        ("search mid word", queries.mid),
        ("search rare word", queries.rare),
        ("search two words", queries.two_words),
        ("search phrase", queries.phrases),
        ("search hostile", HOSTILE),
    ):
        kind = "hostile" if name.endswith("hostile") else "search"
        urls = [("/search", {"q": q}) for q in terms]
        s = run(name, kind, _cycle(urls, n), _cycle(urls, min(warm, len(urls))))
        s.matches = {q: count(q) for q in terms} if kind == "search" else {}
    return series, client.problems, facts


def _deep_pages(client: Client, n: int, depth: int, facts: dict) -> Series:
    """Follow the "older" links ``depth`` pages deep from the first page, again until n pages are timed."""
    s = Series(f"timeline pages 2-{depth + 1}", "timeline")
    while len(s.ms) < n:
        _, body = client.get("/")
        seen = set(entry_ids(body))
        if not seen:
            raise BenchError("the timeline's first page links no /entries/<id>")
        for page in range(2, depth + 2):
            href = older_link(body)
            if href is None:
                raise BenchError(f"timeline page {page - 1} has no older link (an <a href> with before=)")
            ms, body = client.get(href)
            s.ms.append(ms)
            ids = entry_ids(body)
            if not ids or seen.intersection(ids):
                client.problems.append(f"timeline page {page}: {'no entries' if not ids else 'entries repeated'}")
            seen.update(ids)
            facts["deepest"] = href
    s.ms = s.ms[:n]
    return s


def _count_cached(path: Path, ids: list[int]) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    marks = ",".join("?" * len(ids))
    found = conn.execute(f"SELECT count(*) FROM entries WHERE content_html IS NOT NULL AND id IN ({marks})", ids)
    cached = found.fetchone()[0]
    conn.close()
    return cached


# -- a real server (--server) ---------------------------------------------------

# Issue 8's targets for the served reader, checked with --targets.
TARGET_SERVER_CPU_MS = 5.0  # server CPU time per timeline, person or people page, any number of clients
TARGET_SERVER_P95_MS = 50.0  # with BUSY_CLIENTS clients
TARGET_SERVER_RATE = 150.0  # pages/s with BUSY_CLIENTS clients
BUSY_CLIENTS = 8
# --login: the local user's name and password for the run. The migrations name the local user "local".
BENCH_ACCOUNT, BENCH_PASSWORD, LOCAL_NAME = "web-bench", "web-bench-password", "local"


class Connection:
    """One keep-alive connection to the server, used like a browser tab: it sends back the cookies
    it was given. It has Client's ``get``, so that ``_deep_pages`` can walk the timeline through it."""

    def __init__(self, port: int, cookies: dict[str, str]) -> None:
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies = cookies  # shared by the connections of a run: one user with several tabs
        self.problems: list[str] = []
        self.urls: list[str] = []  # what get() asked for, in order
        self.cookies_set = 0  # responses with Set-Cookie: after the first, the session should stay as it is

    def send(
        self, method: str, url: str, body: str | None = None, headers: dict | None = None
    ) -> tuple[float, int, bytes]:
        """(seconds, status, body) of one request on this connection."""
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        t0 = time.perf_counter()
        self.http.request(method, url, body, headers)
        response = self.http.getresponse()
        data = response.read()
        seconds = time.perf_counter() - t0
        for header in response.headers.get_all("Set-Cookie") or ():
            self.cookies_set += 1
            self.cookies.update((name, morsel.value) for name, morsel in SimpleCookie(header).items())
        if response.status == 303 and "/login" in response.headers.get("Location", ""):
            raise BenchError(f"{method} {url}: the server asks to log in (does the database have an account?)")
        return seconds, response.status, data

    def get(self, url: str, query: dict | None = None, *, hostile: bool = False) -> tuple[float, str]:
        url = f"{url}?{urlencode(query)}" if query else url
        seconds, status, data = self.send("GET", url)
        self.urls.append(url)
        text = data.decode("utf-8", "replace")
        if status != 200:
            raise BenchError(f"GET {url} -> {status}\n{_page_text(text)[:600]}")
        if BAIT in text:
            self.problems.append(f"GET {url}: hostile markup from the feed reached the page ({BAIT})")
        return seconds * 1000, text


def log_in(connection: Connection) -> None:
    """As a browser does: the login page gives the session cookie and the form's CSRF token."""
    page = connection.send("GET", "/login")[2]
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    if token is None:
        raise BenchError("the login page has no csrf_token field")
    form = {"name": BENCH_ACCOUNT, "password": BENCH_PASSWORD, "csrf_token": token[1].decode(), "next": ""}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    status = connection.send("POST", "/login", urlencode(form), headers)[1]
    if status != 303:
        raise BenchError(f"logging in as {BENCH_ACCOUNT} -> {status}, expected 303")


@contextlib.contextmanager
def bench_account(path: Path) -> Iterator[None]:
    """--login: the local user has a password for the run, so the app asks every client to log in."""
    from reader.passwords import hash_password

    forget_bench_account(path)  # a killed run's account, if any
    store = Store.open(path, migrate=False)
    try:
        store.add_user(BENCH_ACCOUNT, hash_password(BENCH_PASSWORD))  # the first account: the local user's data
    finally:
        store.close()
    try:
        yield
    finally:
        forget_bench_account(path)


def forget_bench_account(path: Path) -> None:
    """Undo ``bench_account``, also after a run that was killed: the in-process mode needs no login."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE users SET name = ?, password_hash = NULL WHERE name = ?", [LOCAL_NAME, BENCH_ACCOUNT])
    conn.close()


def process_cpu_s(pid: int) -> float:
    """utime + stime of one process, all its threads, from /proc/<pid>/stat (in clock ticks of 10 ms)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Served:
    """``reader --db PATH serve --no-fetch`` (waitress) on a free port of 127.0.0.1, for a with-block."""

    def __init__(self, command: list[str], path: Path, threads: int | None) -> None:
        from serve_bench import free_port  # here, not at the top: the in-process mode needs no other script

        self.port = free_port()
        self.argv = [*command, "--db", str(path.resolve()), "serve", "--no-fetch", "--port", str(self.port)]
        self.argv += ["--threads", str(threads)] if threads else []
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in __exit__)

    def __enter__(self) -> Served:
        from fetch_bench import http_get

        # From the checkout, so that `python -m reader.cli` is this checkout's reader; nothing from feeds.opml.
        self.proc = subprocess.Popen(
            self.argv,
            cwd=REPO,
            env={**os.environ, "READER_OPML": ""},
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        give_up = time.monotonic() + 60
        while True:
            try:
                http_get(f"http://127.0.0.1:{self.port}/healthz", timeout=5)
                return self
            except OSError as exc:
                if self.proc.poll() is not None or time.monotonic() > give_up:
                    output = self.output()
                    self.__exit__()
                    raise BenchError(f"the server did not answer /healthz ({exc}):\n{output}") from exc
            time.sleep(0.1)

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self.proc.kill()  # nothing to do once it has ended
        self.proc.wait()
        self.log.close()

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]

    def cpu_s(self) -> float:
        return process_cpu_s(self.proc.pid)


@dataclass
class Phase:
    """One page type at one number of clients."""

    series: Series
    clients: int
    wall_s: float
    server_cpu_s: float
    bench_cpu_s: float  # this process: the clients' own work, to see whether they held the server back
    cookies_set: int  # responses that changed the session: none expected once it holds its CSRF token

    def figures(self) -> tuple[int, float, float, float, float, float, float]:
        """requests, pages/s, p50, p95, max (ms), server and bench CPU per request (ms)."""
        n, median, p95, top = self.series.summary()
        return n, n / self.wall_s, median, p95, top, self.server_cpu_s * 1000 / n, self.bench_cpu_s * 1000 / n


def _keep_asking(connection: Connection, todo: queue.SimpleQueue, start: threading.Barrier, out: Series) -> None:
    start.wait()
    while True:
        try:
            url = todo.get_nowait()
        except queue.Empty:
            return
        try:
            seconds, status, body = connection.send("GET", url)
        except (OSError, http.client.HTTPException, BenchError) as exc:
            connection.problems.append(f"GET {url}: {exc!r}")
            return
        out.ms.append(seconds * 1000)
        if status != 200 or BAIT.encode() in body:
            connection.problems.append(f"GET {url} -> {status}" + (f" with {BAIT}" if status == 200 else ""))


def run_phase(server: Served, name: str, urls: list[str], n: int, clients: int, cookies: dict) -> Phase:
    """n requests for ``urls`` in turn, shared by ``clients`` threads with a keep-alive connection each."""
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for url in _cycle(urls, n):
        todo.put(url)
    connections = [Connection(server.port, cookies) for _ in range(clients)]
    for connection in connections:
        connection.http.connect()  # before the clock starts
    start = threading.Barrier(clients + 1)
    series = Series(name, "")
    threads = [threading.Thread(target=_keep_asking, args=(c, todo, start, series)) for c in connections]
    for thread in threads:
        thread.start()
    server_cpu, bench_cpu = server.cpu_s(), time.process_time()
    start.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    wall_s = time.perf_counter() - t0
    bench_cpu = time.process_time() - bench_cpu
    server_cpu = server.cpu_s() - server_cpu
    phase = Phase(series, clients, wall_s, server_cpu, bench_cpu, sum(c.cookies_set for c in connections))
    for connection in connections:
        connection.http.close()
        if connection.problems:
            raise BenchError(f"{name}, {clients} clients:\n  " + "\n  ".join(connection.problems[:5]))
    return phase


def measure_server(path: Path, args: argparse.Namespace) -> tuple[list[Phase], list[str], dict]:
    """The page types of Issue 8 through a real server, at each number of clients."""
    people = pick_ids(path, 0, args.seed)["people"]
    command = shlex.split(args.reader) if args.reader else [sys.executable, "-m", "reader.cli"]
    facts: dict = {}
    phases: list[Phase] = []
    with contextlib.ExitStack() as stack:
        if args.login:
            stack.enter_context(bench_account(path))
        server = stack.enter_context(Served(command, path, args.server_threads))
        facts["server"] = shlex.join(server.argv)
        cookies: dict[str, str] = {}
        walker = Connection(server.port, cookies)
        if args.login:
            log_in(walker)
        _deep_pages(walker, args.depth, args.depth, facts)  # the older pages' URLs, checked as in-process
        pages = {
            "timeline first page": ["/"],
            f"timeline pages 2-{args.depth + 1}": walker.urls[-args.depth :],
            "person page": [f"/people/{p}" for p in people],
            "people page": ["/people", "/people?order=latest"],
        }
        for clients in args.clients:
            for name, urls in pages.items():
                run_phase(server, name, urls, args.warmup, 1, cookies)
                phases.append(run_phase(server, name, urls, args.requests, clients, cookies))
    if any(phase.server_cpu_s <= 0 for phase in phases):  # the CPU of the wrong process
        walker.problems.append(f"process {server.proc.pid} used no CPU: does --reader start the server in a child?")
    walker.http.close()
    return phases, walker.problems, facts


# -- reporting -----------------------------------------------------------------


def _mb(n: int) -> float:
    return n / 2**20


def _rel(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def print_table(label: str, series: list[Series]) -> None:
    print(f"\n{label}")
    print(f"  {'page':<24} {'n':>5} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}  matches (median)")
    for s in series:
        n, median, p95, top = s.summary()
        matches = f"{statistics.median(s.matches.values()):,.0f}" if s.matches else ""
        print(f"  {s.name:<24} {n:>5} {median:>10.2f} {p95:>8.2f} {top:>8.2f}  {matches}")
    print("  slowest search queries (median ms, matches):")
    for s in series:
        if s.kind == "search":
            print(f"    {s.name:<22} {_slowest_queries(s)}")


def _slowest_queries(s: Series, k: int = 3) -> str:
    by_query: dict[str, list[float]] = {}
    for query, ms in zip(s.queries, s.ms, strict=True):
        by_query.setdefault(query, []).append(ms)
    medians = sorted(((statistics.median(v), q) for q, v in by_query.items()), reverse=True)[:k]
    shown = [f"{q[:24]!r} {ms:.1f} ms" + (f" ({s.matches[q]:,})" if q in s.matches else "") for ms, q in medians]
    return ", ".join(shown) + (f" (of {len(by_query)} queries)" if len(by_query) > k else "")


def print_server_table(label: str, phases: list[Phase], targets: bool) -> None:
    """One row per page type and number of clients; with ``targets``, ok or MISSED beside each figure
    that has one."""

    def marked(text: str, ok: bool | None) -> str:
        return text if ok is None or not targets else f"{text} {'ok' if ok else 'MISSED'}"

    print(f"\n{label}")
    if targets:
        print(
            f"  targets (issue 8): server CPU <= {TARGET_SERVER_CPU_MS:g} ms a page; with {BUSY_CLIENTS} clients"
            f" p95 <= {TARGET_SERVER_P95_MS:g} ms and >= {TARGET_SERVER_RATE:g} pages/s"
        )
    rows = [["page", "clients", "requests", "pages/s", "p50 ms", "p95 ms", "max ms", "server CPU ms", "bench CPU ms"]]
    for phase in phases:
        n, rate, median, p95, top, server_cpu, bench_cpu = phase.figures()
        busy = phase.clients == BUSY_CLIENTS
        rows.append(
            [
                phase.series.name,
                str(phase.clients),
                str(n),
                marked(f"{rate:.0f}", rate >= TARGET_SERVER_RATE if busy else None),
                f"{median:.1f}",
                marked(f"{p95:.1f}", p95 <= TARGET_SERVER_P95_MS if busy else None),
                f"{top:.1f}",
                marked(f"{server_cpu:.2f}", server_cpu <= TARGET_SERVER_CPU_MS),
                f"{bench_cpu:.2f}",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  " + "  ".join(cells))
    print(
        "  (CPU columns: per request; server = the server process's utime+stime from /proc, in 10 ms ticks;"
        " bench = this process, the clients)"
    )
    changed = sum(phase.cookies_set for phase in phases)
    if changed:
        print(f"  note: {changed} responses set a cookie again (the session changed after its first request)")


def check_targets(results: list[tuple[int, list[Series]]]) -> list[str]:
    """One line per target: 'ok' or 'MISSED'."""
    lines = []
    limits = {
        "timeline": TARGET_PAGE_P95_MS,
        "entry": TARGET_PAGE_P95_MS,
        "people": TARGET_PAGE_P95_MS,
        "search": TARGET_SEARCH_P95_MS,
    }
    for entries, series in results:
        for s in series:
            if s.kind in limits:
                p95 = s.summary()[2]
                verdict = "ok" if p95 <= limits[s.kind] else "MISSED"
                lines.append(
                    f"{verdict:<6} {entries:>9,} entries  {s.name:<24} p95 {p95:7.2f} ms <= {limits[s.kind]:g}"
                )
    if len(results) > 1:
        (small, first), (large, last) = results[0], results[-1]
        for a, b in zip(first, last, strict=True):
            if a.kind == "timeline":
                ratio = b.summary()[1] / a.summary()[1]
                verdict = "ok" if ratio <= TARGET_TIMELINE_GROWTH else "MISSED"
                lines.append(
                    f"{verdict:<6} {a.name}: median at {large:,} / at {small:,} entries = {ratio:.2f}"
                    f" <= {TARGET_TIMELINE_GROWTH:g} (does not grow with the database)"
                )
    return lines


def machine_facts() -> str:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"machine: nproc={os.cpu_count()} cpu={cpu or platform.processor() or '?'}\n"
        f"         python {platform.python_version()} ({sys.executable}), SQLite {sqlite3.sqlite_version},"
        f" {platform.system()} {platform.release()}\n"
        f"         load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other work skews p95)"
    )


def _counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",")]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of numbers >= 1")
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=1000, help="feeds in the database (default 1000)")
    ap.add_argument(
        "--entries", type=int, action="append", help="entries in the database; repeat to compare (default 200000)"
    )
    ap.add_argument("--rebuild", action="store_true", help="build the databases again, even if cached")
    ap.add_argument("--build-only", action="store_true", help="build (and check) the databases, measure nothing")
    ap.add_argument("--check", action="store_true", help="also run integrity_check and a full search on the data")
    ap.add_argument("--requests", type=int, default=200, help="timed requests per page type (default 200)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed requests per page type first (default 10)")
    ap.add_argument("--depth", type=int, default=20, help="timeline pages to follow past the first (default 20)")
    ap.add_argument("--targets", action="store_true", help="compare the results with the targets")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="database cache (default benchmarks/.cache)")
    server = ap.add_argument_group("real server (--server)")
    server.add_argument(
        "--server",
        action="store_true",
        help="serve the database with `reader serve` (waitress) on 127.0.0.1 and time keep-alive clients instead",
    )
    server.add_argument(
        "--clients", type=_counts, default=[1, BUSY_CLIENTS], help="concurrent clients, in turn (default 1,8)"
    )
    server.add_argument(
        "--reader", metavar="CMD", help="the reader command to serve with (default: this Python's -m reader.cli)"
    )
    server.add_argument("--server-threads", type=int, help="waitress threads (default: reader serve's)")
    server.add_argument(
        "--login", action="store_true", help="give the local user a password for the run and log the clients in"
    )
    ap.add_argument("--seed", type=int, default=SEED, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    sizes = sorted(set(args.entries or [200_000]))
    if min(sizes) < 1_000 or args.feeds < 1 or args.requests < 1:
        ap.error("use at least 1,000 entries, 1 feed and 1 request")
    if not args.server and (args.reader or args.server_threads or args.login):
        ap.error("--reader, --server-threads and --login go with --server")
    command = shlex.join([sys.executable, sys.argv[0], *(sys.argv[1:] if argv is None else argv)])
    try:
        if not args.build_only:
            import_web()  # fail before spending minutes on a build
        return _run(args, sizes, command)
    except BenchError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, sizes: list[int], command: str) -> int:
    results: list[tuple[int, list[Series]]] = []
    problems: list[str] = []
    databases: list[tuple[int, Path, dict]] = []
    for entries in sizes:
        path, meta = ensure_database(args.cache, args.feeds, entries, rebuild=args.rebuild, seed=args.seed)
        forget_bench_account(path)  # left by a --login run that was killed
        found = check_database(path, full=args.check)
        if found:
            raise BenchError(f"{_rel(path)} is not what the schema expects:\n  " + "\n  ".join(found))
        print(f"  checked {_rel(path)}: schema constraints hold" + (" (incl. integrity_check)" if args.check else ""))
        databases.append((entries, path, meta))
    for entries, path, _ in databases if args.server and not args.build_only else ():
        from serve_bench import machine_speed  # here, not at the top: the in-process mode needs no other script

        print(f"serving {entries:,} entries ...", flush=True)
        speed = machine_speed()
        phases, found, facts = measure_server(path, args)
        problems.extend(found)
        label = f"{entries:,} entries, {args.feeds:,} feeds ({_mb(db_bytes(path)):.0f} MB), through a real server"
        label += f", logged in as {BENCH_ACCOUNT}" if args.login else " (no account: no login on 127.0.0.1)"
        print_server_table(label, phases, args.targets)
        print(f"  server: {facts['server']}")
        print(f"  machine speed: {speed:.0f} ms before, {machine_speed():.0f} ms after (a reference loop)")
    for entries, path, _ in databases if not args.server and not args.build_only else ():
        print(f"measuring {entries:,} entries ...", flush=True)
        series, found, facts = measure(path, args)
        results.append((entries, series))
        problems.extend(found)
        print_table(f"{entries:,} entries, {args.feeds:,} feeds ({_mb(db_bytes(path)):.0f} MB)", series)
        print(f"  first views cached afterwards: {facts['cached']}/{args.requests}; deepest: {facts['deepest']}")
    if args.targets and results:
        print("\ntargets:")
        for line in check_targets(results):
            print(f"  {line}")
        print("  (group pages: no target)")
    print(f"\ncommand: {command}")
    print(machine_facts())
    for entries, path, meta in databases:
        print(
            f"database: {_rel(path)}: {_mb(db_bytes(path)):.0f} MB, {entries:,} entries, built in {meta['build_s']} s"
        )
    if args.server:
        print("times: per request as a keep-alive client on 127.0.0.1 sees it (http.client, one thread a client)")
    else:
        print("times: server time per request, Flask test client in-process (no network, no browser)")
    failures = [p for p in problems if not p.startswith("note:")]
    for line in dict.fromkeys(problems):
        print(f"{'PROBLEM' if line in failures else ''} {line}".strip(), file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
