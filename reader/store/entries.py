"""Entries: written once per fetch for everyone, read by each user through their subscriptions.

An entry exists for a user only if they follow its feed: every read here
joins the user's subscriptions, so another user's feeds cannot be reached by id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from ..errors import EntryNotFoundError
from ..models import Entry, EntryContent, EntryDerived, ParsedEntry, Position, TimelineItem
from .groups import GroupsMixin
from .mutes import MutesMixin
from .rows import from_row, iso

# Everything a list shows; never the HTML columns, which can be megabytes.
ENTRY_COLUMNS = (
    "e.id, e.feed_id, e.guid, e.title, e.link, e.author_name, e.author_email, e.author_url, e.excerpt,"
    " e.published_at, e.updated_at, e.first_seen_at, e.sort_at, e.comments_url, e.comments_feed_url,"
    " e.comment_count, e.enclosures"
)
# Per-user state as correlated subqueries, evaluated only for the rows a page
# visits. As a LEFT JOIN, SQLite built a Bloom filter over all of the user's
# entry_states first: 4 ms per page at 200k entries, growing with read history.
IS_READ = "coalesce((SELECT is_read FROM entry_states WHERE user_id = :user AND entry_id = e.id), 0)"
IS_SAVED = "coalesce((SELECT is_saved FROM entry_states WHERE user_id = :user AND entry_id = e.id), 0)"
ITEM_SQL = f"""
    SELECT {ENTRY_COLUMNS}, s.person_id, p.name AS person_name, coalesce(s.title, f.title) AS feed_title,
           f.url AS feed_url, {IS_READ} AS is_read, {IS_SAVED} AS is_saved
    FROM entries e
    JOIN subscriptions s ON s.feed_id = e.feed_id AND s.user_id = :user
    JOIN feeds f ON f.id = e.feed_id
    JOIN people p ON p.id = s.person_id
"""
# The same, walking entries in timeline order first. SQLite's planner would
# otherwise start from the user's subscriptions and sort every entry they have
# (22 ms on 53k entries, growing with the database); CROSS JOIN fixes the loop
# order so a page reads ~50 rows of the entries_timeline index (0.07 ms).
TIMELINE_SQL = ITEM_SQL.replace("JOIN subscriptions s", "CROSS JOIN subscriptions s", 1)

# A scope of at most this many feeds starts from its feeds instead of walking the timeline.
_NARROW_FEEDS = 50


def item_from_row(row: dict) -> TimelineItem:
    entry = from_row(Entry, row)
    if row.get("title_marked") is not None:
        # Search: the title with its matches marked (plain text, escaped when shown).
        entry = from_row(Entry, row, title=row["title_marked"])
    return from_row(TimelineItem, row, entry=entry)


class EntriesMixin(GroupsMixin, MutesMixin):
    user_id: int

    # -- lists ------------------------------------------------------------------

    def list_timeline(
        self,
        *,
        person_id: int | None = None,
        group_id: int | None = None,
        before: Position | None = None,
        limit: int = 50,
        unread_only: bool = False,
        saved_only: bool = False,
        hide_muted: bool = True,
    ) -> list[TimelineItem]:
        """Newest first by the timeline clock; ``before`` is the position of the last item seen.

        Muted phrases are left out, and muted people too except on their own
        page (``person_id``) and among saved posts, which the user asked to keep.
        """
        where, params = self._scope(person_id, group_id)
        if hide_muted:
            mutes, mute_params = self._mute_conditions(people=person_id is None and not saved_only)
            where += mutes
            params.update(mute_params)
        if before is not None:
            where.append("(e.sort_at, e.id) < (:before_at, :before_id)")
            params.update(before_at=iso(before.sort_at), before_id=before.id)
        if unread_only:
            where.append(f"{IS_READ} = 0")
        if saved_only:
            where.append(f"{IS_SAVED} = 1")
        base = ITEM_SQL if self._is_narrow(person_id, group_id) else TIMELINE_SQL
        sql = base + " WHERE " + " AND ".join(where or ["1"])
        sql += " ORDER BY e.sort_at DESC, e.id DESC LIMIT :limit"
        params["limit"] = limit
        return [item_from_row(row) for row in self._all(sql, params)]

    def list_entries(
        self, *, limit: int = 50, before: Position | None = None, unread_only: bool = False
    ) -> list[Entry]:
        """The entries of ``list_timeline``, without the per-user state."""
        return [item.entry for item in self.list_timeline(limit=limit, before=before, unread_only=unread_only)]

    def _scope(self, person_id: int | None, group_id: int | None) -> tuple[list[str], dict]:
        where: list[str] = []
        params: dict = {"user": self.user_id}
        if person_id is not None:
            where.append("s.person_id = :person")
            params["person"] = person_id
        if group_id is not None:
            ids = self._group_and_descendants(group_id)
            where.append(f"s.group_id IN ({', '.join(str(int(i)) for i in ids)})")
        return where, params

    def _is_narrow(self, person_id: int | None, group_id: int | None) -> bool:
        """Whether a page should start from the scope's feeds rather than walk the timeline.

        A person's or a small group's few feeds: start from them and sort their
        entries. Anything wider: walk the timeline until the page is full.
        """
        if person_id is not None:
            return True
        if group_id is None:
            return False
        ids = ", ".join(str(int(i)) for i in self._group_and_descendants(group_id))
        count = self._value(
            f"SELECT count(*) FROM subscriptions WHERE user_id = ? AND group_id IN ({ids})", [self.user_id]
        )
        return count <= _NARROW_FEEDS

    def posts_per_week(self, now: datetime, *, weeks: int = 4) -> dict[int, float]:
        """Entries per week over the last ``weeks`` weeks, by feed id, for the feeds the user follows."""
        rows = self._all(
            "SELECT e.feed_id, count(*) AS posts FROM entries e"
            " JOIN subscriptions s ON s.feed_id = e.feed_id AND s.user_id = ?"
            " WHERE e.sort_at >= ? GROUP BY e.feed_id",
            [self.user_id, iso(now - timedelta(weeks=weeks))],
        )
        return {row["feed_id"]: row["posts"] / weeks for row in rows}

    # -- one entry --------------------------------------------------------------

    def get_timeline_item(self, entry_id: int) -> TimelineItem:
        """An entry of a feed the user follows, with their state; others do not exist for them."""
        row = self._one(ITEM_SQL + " WHERE e.id = :id", {"user": self.user_id, "id": entry_id})
        if row is None:
            raise EntryNotFoundError(entry_id)
        return item_from_row(row)

    def get_entry(self, entry_id: int) -> Entry:
        return self.get_timeline_item(entry_id).entry

    def get_entry_content(self, entry_id: int) -> EntryContent:
        row = self._one(
            "SELECT e.summary, e.content, e.base_url, e.content_html FROM entries e"
            " JOIN subscriptions s ON s.feed_id = e.feed_id AND s.user_id = ? WHERE e.id = ?",
            [self.user_id, entry_id],
        )
        if row is None:
            raise EntryNotFoundError(entry_id)
        return from_row(EntryContent, row)

    def cache_entry_html(self, entry_id: int, html: str) -> None:
        """Keep the sanitized HTML of an entry the user can see (a cache filled on GET, not user state)."""
        self.get_entry_content(entry_id)
        with self._transaction():
            self.db.execute("UPDATE entries SET content_html = ? WHERE id = ?", [html, entry_id])

    def get_neighbours(self, item: TimelineItem) -> tuple[TimelineItem | None, TimelineItem | None]:
        """(newer, older) entries around ``item`` in the user's timeline order."""
        mutes, params = self._mute_conditions(people=True)
        params.update(user=self.user_id, at=iso(item.entry.sort_at), id=item.entry.id)
        hidden = "".join(f" AND {condition}" for condition in mutes)
        newer = self._one(
            TIMELINE_SQL + f" WHERE (e.sort_at, e.id) > (:at, :id){hidden} ORDER BY e.sort_at ASC, e.id ASC LIMIT 1",
            params,
        )
        older = self._one(
            TIMELINE_SQL + f" WHERE (e.sort_at, e.id) < (:at, :id){hidden} ORDER BY e.sort_at DESC, e.id DESC LIMIT 1",
            params,
        )
        return (item_from_row(newer) if newer else None, item_from_row(older) if older else None)

    # -- state ------------------------------------------------------------------

    def mark_read(self, entry_id: int, is_read: bool = True) -> None:
        self._set_state(entry_id, "read", is_read)

    def set_saved(self, entry_id: int, is_saved: bool = True) -> None:
        self._set_state(entry_id, "saved", is_saved)

    def _set_state(self, entry_id: int, flag: str, value: bool) -> None:
        """Set ``is_<flag>`` and its ``<flag>_at`` time; ``flag`` is "read" or "saved", never user text."""
        self.get_timeline_item(entry_id)  # only entries the user can see
        now = iso(datetime.now(UTC)) if value else None
        with self._transaction():
            self.db.execute(
                f"INSERT INTO entry_states (user_id, entry_id, is_{flag}, {flag}_at) VALUES (?, ?, ?, ?)"
                f" ON CONFLICT (user_id, entry_id) DO UPDATE SET is_{flag} = excluded.is_{flag},"
                f" {flag}_at = excluded.{flag}_at",
                [self.user_id, entry_id, int(value), now],
            )

    def mark_all_read(
        self, *, up_to: Position | None = None, person_id: int | None = None, group_id: int | None = None
    ) -> int:
        """Mark read every entry in scope at or before ``up_to`` (all of them without it). Returns how many.

        Only what the timeline shows: muted posts keep their state.
        """
        where, params = self._scope(person_id, group_id)
        mutes, mute_params = self._mute_conditions(people=person_id is None)
        where += mutes
        params.update(mute_params)
        if up_to is not None:
            where.append("(e.sort_at, e.id) <= (:up_at, :up_id)")
            params.update(up_at=iso(up_to.sort_at), up_id=up_to.id)
        where.append(f"{IS_READ} = 0")
        params["now"] = iso(datetime.now(UTC))
        with self._transaction():
            cursor = self.db.execute(
                "INSERT INTO entry_states (user_id, entry_id, is_read, read_at)"
                " SELECT :user, e.id, 1, :now FROM entries e"
                " JOIN subscriptions s ON s.feed_id = e.feed_id AND s.user_id = :user"
                " JOIN people p ON p.id = s.person_id"
                " WHERE " + " AND ".join(where) + " AND true"
                " ON CONFLICT (user_id, entry_id) DO UPDATE SET is_read = 1, read_at = excluded.read_at",
                params,
            )
            return cursor.rowcount


# -- writing, for every user at once (called by feeds.save_update) ------------------


def insert_entries(
    db: Database, feed_id: int, entries: Sequence[tuple[ParsedEntry, EntryDerived]], now: datetime
) -> None:
    """Insert one feed's new entries, in the order given, and their search rows: two statements
    whatever their number. The ids are the ones SQLite would choose (one past the largest), given
    here so the search rows can go in the same batch; the caller's write transaction keeps them
    free."""
    if not entries:
        return
    first = db.execute("SELECT coalesce(max(id), 0) + 1 FROM entries").fetchone()[0]
    stamp = iso(now)
    db.conn.executemany(
        _INSERT_SQL,
        [
            (first + n, feed_id, entry.guid, stamp, stamp, *_entry_row(entry, derived, now))
            for n, (entry, derived) in enumerate(entries)
        ],
    )
    db.conn.executemany(
        _INDEX_SQL,
        [
            (first + n, entry.title or "", entry.author_name or "", derived.text)
            for n, (entry, derived) in enumerate(entries)
        ],
    )


def update_entry(
    db: Database, entry_id: int, entry: ParsedEntry, derived: EntryDerived, first_seen: datetime, now: datetime
) -> None:
    values = dict(zip(_ENTRY_FIELDS, _entry_row(entry, derived, first_seen), strict=True))
    values.update(id=entry_id, changed_at=iso(now))
    assignments = ", ".join(f"{k} = :{k}" for k in values if k != "id")
    # content_html is the sanitized cache of content: stale now.
    db.execute(f"UPDATE entries SET {assignments}, content_html = NULL WHERE id = :id", values)
    db.execute("DELETE FROM entries_fts WHERE rowid = ?", [entry_id])
    db.execute(_INDEX_SQL, [entry_id, entry.title or "", entry.author_name or "", derived.text])


# What a feed says of an entry, in the order _entry_row gives it.
_ENTRY_FIELDS = (
    "title", "link", "author_name", "author_email", "author_url", "summary", "content", "base_url", "excerpt",
    "published_at", "updated_at", "sort_at", "comments_url", "comments_feed_url", "comment_count", "enclosures",
    "hash",
)  # fmt: skip
_INSERT_SQL = (
    f"INSERT INTO entries (id, feed_id, guid, first_seen_at, changed_at, {', '.join(_ENTRY_FIELDS)})"
    f" VALUES ({', '.join('?' * (5 + len(_ENTRY_FIELDS)))})"
)
_INDEX_SQL = "INSERT INTO entries_fts (rowid, title, author, text) VALUES (?, ?, ?, ?)"


def _entry_row(entry: ParsedEntry, derived: EntryDerived, first_seen: datetime) -> tuple:
    # The timeline clock: published time, but never later than first seen, so a
    # future-dated post cannot sit on top of the timeline (docs/design.md).
    sort_at = min(entry.published_at, first_seen) if entry.published_at else first_seen
    return (
        entry.title,
        entry.link,
        entry.author_name,
        entry.author_email,
        entry.author_url,
        entry.summary,
        entry.content,
        entry.base_url,
        derived.excerpt,
        iso(entry.published_at),
        iso(entry.updated_at),
        iso(sort_at),
        entry.comments_url,
        entry.comments_feed_url,
        entry.comment_count,
        json.dumps([[e.url, e.type, e.length] for e in entry.enclosures]),
        derived.digest,
    )
