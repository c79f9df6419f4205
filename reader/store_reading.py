"""The reading side of the store: timelines, entries, read/saved state, search, people and groups.

A mixin of ``Store`` (split from ``store.py`` by what changes together:
these queries follow the pages, the others follow fetching).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from .errors import EntryNotFoundError, GroupNotFoundError, PersonNotFoundError, ReaderError
from .models import MATCH_END, MATCH_START, Entry, EntryContent, Group, Person, TimelineItem
from .store_rows import entry_from_row, iso, wrap_errors

DEFAULT_USER = 1

# Everything a list shows; never the HTML columns, which can be megabytes.
_ENTRY_COLUMNS = (
    "e.id, e.feed_id, e.guid, e.title, e.link, e.author_name, e.author_email, e.author_url, e.excerpt,"
    " e.published_at, e.updated_at, e.first_seen_at, e.sort_at, e.comments_url, e.comments_feed_url,"
    " e.comment_count, e.enclosures"
)
# Per-user state as correlated subqueries, evaluated only for the rows a page
# visits. As a LEFT JOIN, SQLite built a Bloom filter over all of the user's
# entry_states first: 4 ms per page at 200k entries, growing with read history.
_IS_READ = "coalesce((SELECT is_read FROM entry_states WHERE user_id = :user AND entry_id = e.id), 0)"
_IS_SAVED = "coalesce((SELECT is_saved FROM entry_states WHERE user_id = :user AND entry_id = e.id), 0)"
_ITEM_SQL = f"""
    SELECT {_ENTRY_COLUMNS}, s.person_id, p.name AS person_name, coalesce(s.title, f.title) AS feed_title,
           f.url AS feed_url, {_IS_READ} AS is_read, {_IS_SAVED} AS is_saved
    FROM entries e
    JOIN subscriptions s ON s.feed_id = e.feed_id AND s.user_id = :user
    JOIN feeds f ON f.id = e.feed_id
    JOIN people p ON p.id = s.person_id
"""
# The same, walking entries in timeline order first. SQLite's planner would
# otherwise start from the user's subscriptions and sort every entry they have
# (22 ms on 53k entries, growing with the database); CROSS JOIN fixes the loop
# order so a page reads ~50 rows of the entries_timeline index (0.07 ms).
_TIMELINE_SQL = _ITEM_SQL.replace("JOIN subscriptions s", "CROSS JOIN subscriptions s", 1)
_WORD = re.compile(r"\w+", re.UNICODE)
_PHRASE = re.compile(r'"([^"]*)"')


_NARROW_FEEDS = 50


class InvalidCursorError(ReaderError, ValueError):
    pass


def parse_cursor(value: str | None) -> tuple[datetime, int] | None:
    """``"<sort_at>~<id>"`` (``TimelineItem.cursor``) → a keyset position; None for none."""
    if not value:
        return None
    try:
        when, entry_id = value.rsplit("~", 1)
        moment = datetime.fromisoformat(when)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment, int(entry_id)
    except (ValueError, TypeError) as exc:
        raise InvalidCursorError("not a timeline position") from exc


def fts_query(text: str) -> str | None:
    """A user's search text as an FTS5 query that can never be a syntax error.

    Quoted phrases stay phrases; everything else is reduced to words, each
    quoted, all required. FTS5 operators typed by the user are just words.
    """
    parts = []
    for phrase in _PHRASE.findall(text):
        words = _WORD.findall(phrase)
        if words:
            parts.append('"' + " ".join(words) + '"')
    rest = _PHRASE.sub(" ", text)
    parts.extend(f'"{word}"' for word in _WORD.findall(rest))
    return " ".join(parts[:32]) or None


class ReadingMixin:
    db: Database

    # -- lists ------------------------------------------------------------------

    @wrap_errors
    def list_timeline(
        self,
        *,
        user_id: int = DEFAULT_USER,
        person_id: int | None = None,
        group_id: int | None = None,
        before: tuple[datetime, int] | None = None,
        limit: int = 50,
        unread_only: bool = False,
        saved_only: bool = False,
    ) -> list[TimelineItem]:
        """Newest first by the timeline clock; ``before`` is the keyset cursor of the last item seen."""
        where, params = self._scope(user_id, person_id, group_id)
        if before is not None:
            where.append("(e.sort_at, e.id) < (:before_at, :before_id)")
            params.update(before_at=iso(before[0]), before_id=before[1])
        if unread_only:
            where.append(f"{_IS_READ} = 0")
        if saved_only:
            where.append(f"{_IS_SAVED} = 1")
        base = _ITEM_SQL if self._is_narrow(user_id, person_id, group_id) else _TIMELINE_SQL
        sql = base + " WHERE " + " AND ".join(where or ["1"])
        sql += " ORDER BY e.sort_at DESC, e.id DESC LIMIT :limit"
        params["limit"] = limit
        return [_item(row) for row in self.db.query(sql, params)]

    def _scope(self, user_id: int, person_id: int | None, group_id: int | None) -> tuple[list[str], dict]:
        where: list[str] = []
        params: dict = {"user": user_id}
        if person_id is not None:
            where.append("s.person_id = :person")
            params["person"] = person_id
        if group_id is not None:
            ids = self._group_and_descendants(user_id, group_id)
            where.append(f"s.group_id IN ({', '.join(str(i) for i in ids)})")
        return where, params

    def _is_narrow(self, user_id: int, person_id: int | None, group_id: int | None) -> bool:
        """Whether a page should start from the scope's feeds rather than walk the timeline.

        A person's or a small group's few feeds: start from them and sort their
        entries. Anything wider: walk the timeline until the page is full.
        """
        if person_id is not None:
            return True
        if group_id is None:
            return False
        ids = ", ".join(str(i) for i in self._group_and_descendants(user_id, group_id))
        count = self.db.execute(
            f"SELECT count(*) FROM subscriptions WHERE user_id = ? AND group_id IN ({ids})", [user_id]
        ).fetchone()[0]
        return count <= _NARROW_FEEDS

    def _group_and_descendants(self, user_id: int, group_id: int) -> list[int]:
        children: dict[int | None, list[int]] = {}
        for row in self.db.execute("SELECT id, parent_id FROM groups WHERE user_id = ?", [user_id]):
            children.setdefault(row[1], []).append(row[0])
        found, todo = [], [group_id]
        while todo and len(found) < 10_000:
            current = todo.pop()
            found.append(current)
            todo.extend(children.get(current, []))
        return found

    def list_entries(
        self,
        *,
        user_id: int = DEFAULT_USER,
        limit: int = 50,
        before: tuple[datetime, int] | None = None,
        unread_only: bool = False,
    ) -> list[Entry]:
        """The entries of ``list_timeline``, without the per-user state."""
        items = self.list_timeline(user_id=user_id, limit=limit, before=before, unread_only=unread_only)
        return [item.entry for item in items]

    @wrap_errors
    def count_entries(self, feed_url: str | None = None) -> int:
        if feed_url is None:
            return self.db.execute("SELECT count(*) FROM entries").fetchone()[0]
        return self.db.execute(
            "SELECT count(*) FROM entries WHERE feed_id = (SELECT id FROM feeds WHERE url = ?)", [feed_url]
        ).fetchone()[0]

    # -- one entry --------------------------------------------------------------

    @wrap_errors
    def get_entry(self, entry_id: int) -> Entry:
        rows = list(self.db.query(f"SELECT {_ENTRY_COLUMNS} FROM entries e WHERE e.id = ?", [entry_id]))
        if not rows:
            raise EntryNotFoundError(None, None, f"no entry {entry_id}")
        return entry_from_row(rows[0])

    @wrap_errors
    def get_timeline_item(self, entry_id: int, *, user_id: int = DEFAULT_USER) -> TimelineItem:
        """An entry of a feed the user follows; others do not exist for them."""
        rows = list(self.db.query(_ITEM_SQL + " WHERE e.id = :id", {"user": user_id, "id": entry_id}))
        if not rows:
            raise EntryNotFoundError(None, None, f"no entry {entry_id}")
        return _item(rows[0])

    @wrap_errors
    def get_entry_content(self, entry_id: int) -> EntryContent:
        row = self.db.execute(
            "SELECT summary, content, base_url, content_html FROM entries WHERE id = ?", [entry_id]
        ).fetchone()
        if row is None:
            raise EntryNotFoundError(None, None, f"no entry {entry_id}")
        return EntryContent(*row)

    @wrap_errors
    def set_entry_html(self, entry_id: int, html: str) -> None:
        """Cache sanitized HTML (a cache filled on GET: not user state)."""
        with self.db.atomic():
            self.db.execute("UPDATE entries SET content_html = ? WHERE id = ?", [html, entry_id])

    @wrap_errors
    def get_neighbours(
        self, item: TimelineItem, *, user_id: int = DEFAULT_USER
    ) -> tuple[TimelineItem | None, TimelineItem | None]:
        """(newer, older) entries around ``item`` in the user's timeline order."""
        params = {"user": user_id, "at": iso(item.entry.sort_at), "id": item.entry.id}
        newer = list(
            self.db.query(
                _TIMELINE_SQL + " WHERE (e.sort_at, e.id) > (:at, :id) ORDER BY e.sort_at ASC, e.id ASC LIMIT 1", params
            )
        )
        older = list(
            self.db.query(
                _TIMELINE_SQL + " WHERE (e.sort_at, e.id) < (:at, :id) ORDER BY e.sort_at DESC, e.id DESC LIMIT 1",
                params,
            )
        )
        return (_item(newer[0]) if newer else None, _item(older[0]) if older else None)

    # -- state ------------------------------------------------------------------

    @wrap_errors
    def mark_read(self, entry_id: int, is_read: bool = True, *, user_id: int = DEFAULT_USER) -> None:
        self._set_state(entry_id, "read", is_read, user_id)

    @wrap_errors
    def set_saved(self, entry_id: int, is_saved: bool = True, *, user_id: int = DEFAULT_USER) -> None:
        self._set_state(entry_id, "saved", is_saved, user_id)

    def _set_state(self, entry_id: int, flag: str, value: bool, user_id: int) -> None:
        """Set ``is_<flag>`` and its ``<flag>_at`` time; ``flag`` is "read" or "saved", never user text."""
        self.get_timeline_item(entry_id, user_id=user_id)  # only entries the user can see
        now = iso(datetime.now(UTC)) if value else None
        with self.db.atomic():
            self.db.execute(
                f"INSERT INTO entry_states (user_id, entry_id, is_{flag}, {flag}_at) VALUES (?, ?, ?, ?)"
                f" ON CONFLICT (user_id, entry_id) DO UPDATE SET is_{flag} = excluded.is_{flag},"
                f" {flag}_at = excluded.{flag}_at",
                [user_id, entry_id, int(value), now],
            )

    @wrap_errors
    def mark_all_read(
        self,
        *,
        user_id: int = DEFAULT_USER,
        up_to: tuple[datetime, int] | None = None,
        person_id: int | None = None,
        group_id: int | None = None,
    ) -> int:
        """Mark read every entry in scope at or before ``up_to`` (all of them without it). Returns how many."""
        where, params = self._scope(user_id, person_id, group_id)
        if up_to is not None:
            where.append("(e.sort_at, e.id) <= (:up_at, :up_id)")
            params.update(up_at=iso(up_to[0]), up_id=up_to[1])
        where.append(f"{_IS_READ} = 0")
        params["now"] = iso(datetime.now(UTC))
        with self.db.atomic():
            cursor = self.db.execute(
                "INSERT INTO entry_states (user_id, entry_id, is_read, read_at)"
                " SELECT :user, e.id, 1, :now FROM entries e"
                " JOIN subscriptions s ON s.feed_id = e.feed_id AND s.user_id = :user"
                " WHERE " + " AND ".join(where) + " AND true"
                " ON CONFLICT (user_id, entry_id) DO UPDATE SET is_read = 1, read_at = excluded.read_at",
                params,
            )
            return cursor.rowcount

    # -- search -----------------------------------------------------------------

    @wrap_errors
    def search(self, text: str, *, user_id: int = DEFAULT_USER, limit: int = 50, offset: int = 0) -> list[TimelineItem]:
        """Entries matching ``text`` (title, author, text), newest first, with highlighted snippets.

        Two steps: the page of ids (``_search_page_ids``), then snippets and
        highlights for those ids only. Sorting every match of a common word by
        date took ~100 ms on 53k entries; see docs/design.md.
        """
        query = fts_query(text)
        if query is None:
            return []
        params = {"user": user_id, "query": query, "limit": limit, "offset": offset}
        ids = self._search_page_ids(params)
        if not ids:
            return []
        marks = ", ".join(str(i) for i in ids)
        found = {row["id"]: row for row in self.db.query(_ITEM_SQL + f" WHERE e.id IN ({marks})", params)}
        snippets = {
            row[0]: row[1:]
            for row in self.db.execute(
                f"SELECT rowid, snippet(entries_fts, 2, '{MATCH_START}', '{MATCH_END}', '…', 30),"
                f" highlight(entries_fts, 0, '{MATCH_START}', '{MATCH_END}')"
                f" FROM entries_fts WHERE entries_fts MATCH :query AND rowid IN ({marks})",
                params,
            )
        }
        items = []
        for entry_id in ids:
            row = dict(found[entry_id])
            row["snippet"], row["title_marked"] = snippets.get(entry_id, (None, None))
            items.append(_item(row))
        return items

    _FEW_MATCHES = 1000

    def _search_page_ids(self, params: dict) -> list[int]:
        """Ids of one page of matches, newest first, by whichever way reads less.

        Few matches (a rare word): take them all from the index and sort them.
        Many (a common word): walk the timeline and keep the matching entries;
        the page fills long before the walk ends.
        """
        probe = [
            row[0]
            for row in self.db.execute(
                "SELECT rowid FROM entries_fts WHERE entries_fts MATCH :query LIMIT :few",
                {**params, "few": self._FEW_MATCHES + 1},
            )
        ]
        if len(probe) <= self._FEW_MATCHES:
            if not probe:
                return []
            sql = (
                "SELECT e.id FROM entries e JOIN subscriptions s ON s.feed_id = e.feed_id AND s.user_id = :user"
                f" WHERE e.id IN ({', '.join(str(i) for i in probe)})"
                " ORDER BY e.sort_at DESC, e.id DESC LIMIT :limit OFFSET :offset"
            )
        else:
            sql = (
                "SELECT e.id FROM entries e INDEXED BY entries_timeline"
                " CROSS JOIN subscriptions s ON s.feed_id = e.feed_id AND s.user_id = :user"
                " WHERE e.id IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH :query)"
                " ORDER BY e.sort_at DESC, e.id DESC LIMIT :limit OFFSET :offset"
            )
        return [row[0] for row in self.db.execute(sql, params)]

    # -- people and groups ------------------------------------------------------

    @wrap_errors
    def list_people(self, *, user_id: int = DEFAULT_USER) -> list[Person]:
        rows = self.db.execute(
            "SELECT p.id, p.name, count(s.id) FROM people p LEFT JOIN subscriptions s ON s.person_id = p.id"
            " WHERE p.user_id = ? GROUP BY p.id ORDER BY lower(p.name)",
            [user_id],
        )
        return [Person(*row) for row in rows]

    @wrap_errors
    def get_person(self, person_id: int, *, user_id: int = DEFAULT_USER) -> Person:
        row = self.db.execute(
            "SELECT p.id, p.name, count(s.id) FROM people p LEFT JOIN subscriptions s ON s.person_id = p.id"
            " WHERE p.user_id = ? AND p.id = ? GROUP BY p.id",
            [user_id, person_id],
        ).fetchone()
        if row is None:
            raise PersonNotFoundError(f"no person {person_id}")
        return Person(*row)

    @wrap_errors
    def rename_person(self, person_id: int, name: str, *, user_id: int = DEFAULT_USER) -> None:
        self.get_person(person_id, user_id=user_id)
        with self.db.atomic():
            self.db.execute("UPDATE people SET name = ?, is_auto_named = 0 WHERE id = ?", [name, person_id])

    @wrap_errors
    def list_groups(self, *, user_id: int = DEFAULT_USER) -> list[Group]:
        rows = {
            r[0]: r
            for r in self.db.execute(
                "SELECT g.id, g.name, g.parent_id, count(s.id) FROM groups g"
                " LEFT JOIN subscriptions s ON s.group_id = g.id WHERE g.user_id = ? GROUP BY g.id",
                [user_id],
            )
        }

        def path(group_id: int) -> tuple[str, ...]:
            names, seen = [], set()
            while group_id in rows and group_id not in seen:
                seen.add(group_id)
                names.append(rows[group_id][1])
                group_id = rows[group_id][2]
            return tuple(reversed(names))

        groups = [Group(r[0], r[1], r[2], path(r[0]), r[3]) for r in rows.values()]
        return sorted(groups, key=lambda g: [part.lower() for part in g.path])

    @wrap_errors
    def get_group(self, group_id: int, *, user_id: int = DEFAULT_USER) -> Group:
        for group in self.list_groups(user_id=user_id):  # a group's path needs its ancestors anyway
            if group.id == group_id:
                return group
        raise GroupNotFoundError(f"no group {group_id}")

    @wrap_errors
    def posts_per_week(self, now: datetime, *, weeks: int = 4) -> dict[int, float]:
        """Entries first seen per week over the last ``weeks`` weeks, by feed id."""
        since = iso(now - timedelta(weeks=weeks))
        rows = self.db.execute("SELECT feed_id, count(*) FROM entries WHERE sort_at >= ? GROUP BY feed_id", [since])
        return {feed_id: count / weeks for feed_id, count in rows}


def _item(row: dict) -> TimelineItem:
    entry = entry_from_row(row)
    if row.get("title_marked") is not None:
        # Search: the title with its matches marked (plain text, escaped when shown).
        entry = Entry(**{**entry.__dict__, "title": row["title_marked"]})
    return TimelineItem(
        entry=entry,
        person_id=row["person_id"],
        person_name=row["person_name"],
        feed_title=row["feed_title"],
        feed_url=row["feed_url"],
        is_read=bool(row["is_read"]),
        is_saved=bool(row["is_saved"]),
        snippet=row.get("snippet"),
    )
