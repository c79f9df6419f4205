"""``Store``: every table, column and query. sqlite-utils is used here and in migrations only.

Rows become models on the way out; operational sqlite errors (locked, read-only,
disk full) become ``StorageError``. Programming errors stay what they are.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from sqlite_utils import Database

from .errors import FeedExistsError, FeedNotFoundError
from .migrations import migrations
from .models import (
    EntryDerived,
    Feed,
    FeedSource,
    FetchResult,
    ParsedEntry,
    ParsedFeed,
    PreparedFeed,
    Subscription,
)
from .store_reading import ReadingMixin
from .store_rows import feed_from_row, iso, parse_dt, wrap_errors

log = logging.getLogger(__name__)

DEFAULT_USER = 1
BUSY_TIMEOUT_MS = 5_000


@dataclass(frozen=True)
class ImportReport:
    added: int
    existing: int
    groups: int


@dataclass(frozen=True)
class SaveReport:
    new: int
    updated: int


class Store(ReadingMixin):
    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    @wrap_errors
    def open(cls, path: str | Path, *, migrate: bool = True) -> Store:
        """Open (creating if needed) the database at ``path`` and bring its schema up to date.

        ``migrate=False`` skips the schema check, for callers that open a
        connection per request after migrating once (the web app).
        """
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        db = Database(conn)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA foreign_keys = ON")
        if str(path) != ":memory:":
            db.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable across application crashes in WAL mode; only a power
        # cut may lose the last commits, never corrupt the file.
        db.execute("PRAGMA synchronous = NORMAL")
        if migrate:
            migrations.apply(db)
        return cls(db)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _transaction(self) -> Iterator[Database]:
        with self.db.atomic() as db:
            yield db

    def _one(self, sql: str, params: Iterable = ()) -> dict | None:
        rows = list(self.db.query(sql, list(params)))
        return rows[0] if rows else None

    # -- feeds and subscriptions ------------------------------------------------

    @wrap_errors
    def add_feed(
        self,
        url: str,
        *,
        title: str | None = None,
        site_url: str | None = None,
        group_path: tuple[str, ...] = (),
        user_id: int = DEFAULT_USER,
    ) -> Subscription:
        """Subscribe ``user_id`` to ``url``; raise ``FeedExistsError`` if already subscribed."""
        now = datetime.now(UTC)
        with self._transaction():
            self._subscribe(FeedSource(url, title, site_url, group_path), user_id, now)
        return self.get_subscription(url, user_id=user_id)

    @wrap_errors
    def add_feeds(self, sources: Iterable[FeedSource], *, user_id: int = DEFAULT_USER) -> ImportReport:
        """Subscribe to many feeds in one transaction: all of them, or none on error.

        Feeds already followed are left as they are, so importing a file twice changes nothing.
        """
        now = datetime.now(UTC)
        added = existing = 0
        with self._transaction():
            groups_before = self._count("SELECT count(*) FROM groups WHERE user_id = ?", [user_id])
            for source in sources:
                try:
                    self._subscribe(source, user_id, now)
                    added += 1
                except FeedExistsError:
                    existing += 1
            groups = self._count("SELECT count(*) FROM groups WHERE user_id = ?", [user_id]) - groups_before
        return ImportReport(added, existing, groups)

    def _count(self, sql: str, params: list) -> int:
        return self.db.execute(sql, params).fetchone()[0]

    def _subscribe(self, source: FeedSource, user_id: int, now: datetime) -> None:
        feed = self._one("SELECT id FROM feeds WHERE url = ?", [source.url])
        if feed is None:
            feed_id = self.db.execute(
                "INSERT INTO feeds (url, title, site_url, created_at) VALUES (?, ?, ?, ?)",
                [source.url, source.title, source.site_url, iso(now)],
            ).lastrowid
        else:
            feed_id = feed["id"]
            if self._one("SELECT 1 FROM subscriptions WHERE user_id = ? AND feed_id = ?", [user_id, feed_id]):
                raise FeedExistsError(source.url)
        # Every feed belongs to one person; a new feed gets a new person, named
        # for now from what we know, and from the feed's author once fetched.
        name = source.title or urlsplit(source.url).hostname or source.url
        person_id = self.db.execute(
            "INSERT INTO people (user_id, name, is_auto_named, created_at) VALUES (?, ?, 1, ?)",
            [user_id, name, iso(now)],
        ).lastrowid
        group_id = self._ensure_group(user_id, source.group_path, now)
        self.db.execute(
            "INSERT INTO subscriptions (user_id, feed_id, person_id, group_id, title, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [user_id, feed_id, person_id, group_id, source.title, iso(now)],
        )

    def _ensure_group(self, user_id: int, path: tuple[str, ...], now: datetime) -> int | None:
        parent_id = None
        for name in path:
            row = self._one(
                "SELECT id FROM groups WHERE user_id = ? AND coalesce(parent_id, 0) = ? AND name = ?",
                [user_id, parent_id or 0, name],
            )
            if row is None:
                parent_id = self.db.execute(
                    "INSERT INTO groups (user_id, parent_id, name, created_at) VALUES (?, ?, ?, ?)",
                    [user_id, parent_id, name, iso(now)],
                ).lastrowid
            else:
                parent_id = row["id"]
        return parent_id

    @wrap_errors
    def remove_feed(self, url: str, *, user_id: int = DEFAULT_USER) -> None:
        """Unsubscribe; the feed and its entries go too once nobody follows it."""
        with self._transaction():
            row = self._one(
                "SELECT s.id, s.feed_id, s.person_id FROM subscriptions s JOIN feeds f ON f.id = s.feed_id"
                " WHERE f.url = ? AND s.user_id = ?",
                [url, user_id],
            )
            if row is None:
                raise FeedNotFoundError(url)
            self.db.execute("DELETE FROM subscriptions WHERE id = ?", [row["id"]])
            self.db.execute(
                "DELETE FROM people WHERE id = ? AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE person_id = ?)",
                [row["person_id"], row["person_id"]],
            )
            self.db.execute(
                "DELETE FROM entry_states WHERE user_id = ? AND entry_id IN (SELECT id FROM entries WHERE feed_id = ?)",
                [user_id, row["feed_id"]],
            )
            self.db.execute(
                "DELETE FROM feeds WHERE id = ? AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE feed_id = ?)",
                [row["feed_id"], row["feed_id"]],
            )

    _SUBSCRIPTION_SQL = """
        SELECT f.*, s.user_id, s.person_id, p.name AS person_name, s.title AS sub_title, s.group_id
        FROM subscriptions s JOIN feeds f ON f.id = s.feed_id JOIN people p ON p.id = s.person_id
    """

    @wrap_errors
    def list_subscriptions(self, *, user_id: int = DEFAULT_USER) -> list[Subscription]:
        paths = self._group_paths(user_id)
        rows = self.db.query(
            self._SUBSCRIPTION_SQL + " WHERE s.user_id = ? ORDER BY lower(coalesce(s.title, f.title, f.url))",
            [user_id],
        )
        return [self._subscription(row, paths) for row in rows]

    @wrap_errors
    def get_subscription(self, url: str, *, user_id: int = DEFAULT_USER) -> Subscription:
        row = self._one(self._SUBSCRIPTION_SQL + " WHERE s.user_id = ? AND f.url = ?", [user_id, url])
        if row is None:
            raise FeedNotFoundError(url)
        return self._subscription(row, self._group_paths(user_id))

    @wrap_errors
    def get_subscription_by_feed_id(self, feed_id: int, *, user_id: int = DEFAULT_USER) -> Subscription:
        row = self._one(self._SUBSCRIPTION_SQL + " WHERE s.user_id = ? AND f.id = ?", [user_id, feed_id])
        if row is None:
            raise FeedNotFoundError(str(feed_id))
        return self._subscription(row, self._group_paths(user_id))

    @wrap_errors
    def rename_subscription(self, feed_id: int, title: str | None, *, user_id: int = DEFAULT_USER) -> None:
        """The user's own name for a feed; empty goes back to the feed's title."""
        self.get_subscription_by_feed_id(feed_id, user_id=user_id)
        with self._transaction():
            self.db.execute(
                "UPDATE subscriptions SET title = ? WHERE user_id = ? AND feed_id = ?",
                [title or None, user_id, feed_id],
            )

    @wrap_errors
    def move_subscription(self, feed_id: int, group_path: tuple[str, ...], *, user_id: int = DEFAULT_USER) -> None:
        """File a feed under a group (created if needed); an empty path takes it out of every group."""
        self.get_subscription_by_feed_id(feed_id, user_id=user_id)
        with self._transaction():
            group_id = self._ensure_group(user_id, group_path, datetime.now(UTC))
            self.db.execute(
                "UPDATE subscriptions SET group_id = ? WHERE user_id = ? AND feed_id = ?", [group_id, user_id, feed_id]
            )
            # Groups left empty by the move go, so the folder list stays what the user has.
            self.db.execute(
                "DELETE FROM groups WHERE user_id = ? AND id NOT IN (SELECT group_id FROM subscriptions"
                " WHERE group_id IS NOT NULL) AND id NOT IN (SELECT parent_id FROM groups WHERE parent_id IS NOT NULL)",
                [user_id],
            )

    def _group_paths(self, user_id: int) -> dict[int, tuple[str, ...]]:
        rows = {r["id"]: r for r in self.db.query("SELECT * FROM groups WHERE user_id = ?", [user_id])}

        def path(group_id: int, depth: int = 0) -> tuple[str, ...]:
            row = rows[group_id]
            if row["parent_id"] is None or row["parent_id"] not in rows or depth > 50:
                return (row["name"],)
            return path(row["parent_id"], depth + 1) + (row["name"],)

        return {group_id: path(group_id) for group_id in rows}

    @staticmethod
    def _subscription(row: dict, paths: dict[int, tuple[str, ...]]) -> Subscription:
        return Subscription(
            feed=feed_from_row(row),
            user_id=row["user_id"],
            person_id=row["person_id"],
            person_name=row["person_name"],
            title=row["sub_title"],
            group_id=row["group_id"],
            group_path=paths.get(row["group_id"], ()) if row["group_id"] else (),
        )

    @wrap_errors
    def get_feed(self, url: str) -> Feed:
        row = self._one("SELECT * FROM feeds WHERE url = ?", [url])
        if row is None:
            raise FeedNotFoundError(url)
        return feed_from_row(row)

    @wrap_errors
    def list_feeds_to_fetch(self, now: datetime, *, due_only: bool = False) -> list[Feed]:
        """Feeds someone follows that may be fetched now.

        Never those a server told to wait (Retry-After, error backoff) or that are
        gone (410). With ``due_only``, only those whose next fetch time has come.
        """
        sql = (
            "SELECT * FROM feeds f WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = f.id)"
            " AND f.status != 'gone' AND (f.wait_until IS NULL OR f.wait_until <= :now)"
        )
        if due_only:
            sql += " AND (f.next_fetch_at IS NULL OR f.next_fetch_at <= :now)"
        return [feed_from_row(row) for row in self.db.query(sql + " ORDER BY f.id", {"now": iso(now)})]

    # -- recording fetches ------------------------------------------------------

    @wrap_errors
    def record_not_modified(
        self, feed_id: int, fetched: FetchResult | None, now: datetime, next_fetch_at: datetime
    ) -> None:
        """A 304, or a body identical to the last one: only the fetch state changes."""
        with self._transaction():
            self.db.execute(
                "UPDATE feeds SET status = 'ok', http_status = ?, etag = coalesce(?, etag),"
                " last_modified = coalesce(?, last_modified), last_error = NULL, error_count = 0,"
                " last_fetched_at = ?, last_success_at = ?, next_fetch_at = ?, wait_until = NULL WHERE id = ?",
                [
                    fetched.http_status if fetched else None,
                    fetched.etag if fetched else None,
                    fetched.last_modified if fetched else None,
                    iso(now),
                    iso(now),
                    iso(next_fetch_at),
                    feed_id,
                ],
            )

    @wrap_errors
    def record_error(
        self,
        feed_id: int,
        error: str,
        now: datetime,
        *,
        http_status: int | None,
        next_fetch_at: datetime,
        wait_until: datetime | None,
        gone: bool = False,
    ) -> None:
        with self._transaction():
            self.db.execute(
                "UPDATE feeds SET status = ?, http_status = ?, last_error = ?, error_count = error_count + 1,"
                " last_fetched_at = ?, next_fetch_at = ?, wait_until = ? WHERE id = ?",
                [
                    "gone" if gone else "error",
                    http_status,
                    error[:2000],
                    iso(now),
                    iso(next_fetch_at),
                    iso(wait_until),
                    feed_id,
                ],
            )

    @wrap_errors
    def move_feed(self, feed_id: int, new_url: str) -> bool:
        """Follow a permanent redirect. False if another feed already has that URL."""
        with self._transaction():
            if self._one("SELECT 1 FROM feeds WHERE url = ? AND id != ?", [new_url, feed_id]):
                return False
            self.db.execute("UPDATE feeds SET url = ? WHERE id = ?", [new_url, feed_id])
        return True

    @wrap_errors
    def save_update(
        self,
        feed_id: int,
        prepared: PreparedFeed,
        fetched: FetchResult,
        now: datetime,
        next_fetch_at: datetime,
        *,
        body_hash: str,
    ) -> SaveReport:
        """Store a parsed feed and its fetch state in one transaction.

        An entry is new if ``(feed_id, guid)`` is unknown, changed if its digest differs.
        """
        new = updated = 0
        parsed = prepared.parsed
        with self._transaction():
            known = {
                row[0]: (row[1], row[2], row[3])
                for row in self.db.execute(
                    "SELECT guid, id, hash, first_seen_at FROM entries WHERE feed_id = ?", [feed_id]
                )
            }
            # Feeds list newest first; inserting oldest first makes ids (the
            # timeline's tie-break) agree with the feed when dates are equal.
            for entry, derived in zip(reversed(parsed.entries), reversed(prepared.derived), strict=True):
                old = known.get(entry.guid)
                if old is not None and old[1] == derived.digest:
                    continue
                if old is None:
                    self._insert_entry(feed_id, entry, derived, now)
                    new += 1
                else:
                    self._update_entry(old[0], entry, derived, parse_dt(old[2]), now)
                    updated += 1
            self._save_feed_state(feed_id, parsed, fetched, now, next_fetch_at, body_hash)
        return SaveReport(new, updated)

    def _entry_values(self, entry: ParsedEntry, derived: EntryDerived, first_seen: datetime) -> dict:
        # The timeline clock: published time, but never later than first seen, so a
        # future-dated post cannot sit on top of the timeline (docs/design.md).
        sort_at = min(entry.published_at, first_seen) if entry.published_at else first_seen
        return {
            "title": entry.title,
            "link": entry.link,
            "author_name": entry.author_name,
            "author_email": entry.author_email,
            "author_url": entry.author_url,
            "summary": entry.summary,
            "content": entry.content,
            "base_url": entry.base_url,
            "excerpt": derived.excerpt,
            "published_at": iso(entry.published_at),
            "updated_at": iso(entry.updated_at),
            "sort_at": iso(sort_at),
            "comments_url": entry.comments_url,
            "comments_feed_url": entry.comments_feed_url,
            "comment_count": entry.comment_count,
            "enclosures": json.dumps([[e.url, e.type, e.length] for e in entry.enclosures]),
            "hash": derived.digest,
        }

    def _insert_entry(self, feed_id: int, entry: ParsedEntry, derived: EntryDerived, now: datetime) -> None:
        values = self._entry_values(entry, derived, now)
        values.update(feed_id=feed_id, guid=entry.guid, first_seen_at=iso(now), changed_at=iso(now))
        columns = ", ".join(values)
        marks = ", ".join(f":{k}" for k in values)
        entry_id = self.db.execute(f"INSERT INTO entries ({columns}) VALUES ({marks})", values).lastrowid
        self.db.execute(
            "INSERT INTO entries_fts (rowid, title, author, text) VALUES (?, ?, ?, ?)",
            [entry_id, entry.title or "", entry.author_name or "", derived.text],
        )

    def _update_entry(
        self, entry_id: int, entry: ParsedEntry, derived: EntryDerived, first_seen: datetime, now: datetime
    ) -> None:
        values = self._entry_values(entry, derived, first_seen)
        values.update(id=entry_id, changed_at=iso(now))
        assignments = ", ".join(f"{k} = :{k}" for k in values if k != "id")
        # content_html is the sanitized cache of content: stale now.
        self.db.execute(f"UPDATE entries SET {assignments}, content_html = NULL WHERE id = :id", values)
        self.db.execute("DELETE FROM entries_fts WHERE rowid = ?", [entry_id])
        self.db.execute(
            "INSERT INTO entries_fts (rowid, title, author, text) VALUES (?, ?, ?, ?)",
            [entry_id, entry.title or "", entry.author_name or "", derived.text],
        )

    def _save_feed_state(
        self,
        feed_id: int,
        parsed: ParsedFeed,
        fetched: FetchResult,
        now: datetime,
        next_fetch_at: datetime,
        body_hash: str,
    ) -> None:
        self.db.execute(
            "UPDATE feeds SET title = coalesce(?, title), site_url = coalesce(?, site_url), author_name = ?,"
            " etag = ?, last_modified = ?, body_hash = ?, status = 'ok', http_status = ?, last_error = NULL,"
            " error_count = 0, last_fetched_at = ?, last_success_at = ?, next_fetch_at = ?, wait_until = NULL"
            " WHERE id = ?",
            [
                parsed.title,
                parsed.site_url,
                parsed.author_name,
                fetched.etag,
                fetched.last_modified,
                body_hash,
                fetched.http_status,
                iso(now),
                iso(now),
                iso(next_fetch_at),
                feed_id,
            ],
        )
        # People we named from a URL or an OPML title take the feed's own name
        # once we have it: its author if it says, else its title.
        name = parsed.author_name or parsed.title
        if name:
            self.db.execute(
                "UPDATE people SET name = ?, is_auto_named = 0 WHERE is_auto_named = 1"
                " AND id IN (SELECT person_id FROM subscriptions WHERE feed_id = ?)",
                [name, feed_id],
            )
