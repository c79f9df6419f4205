"""Feeds and their fetch state, shared by every user who follows them, and storing what a fetch brought.

A feed followed by several users is fetched once; who follows it and as
whose feed is in ``subscriptions.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import FeedNotFoundError
from ..models import Feed, FetchResult, ParsedEntry, ParsedFeed, PreparedFeed
from ..urls import stored_form
from .entries import insert_entries, update_entry
from .rows import FEED_URL_FORMS, Base, from_row, iso, parse_dt, same_feed


@dataclass(frozen=True)
class SaveReport:
    new: int
    updated: int


def _stored_identities(prepared: PreparedFeed, known: dict[str, dict]) -> dict[str, str]:
    """guid -> the other identity an entry is stored under (parse's link rule, docs/design.md).

    A row stored under the told-apart form (``link#causerie-…``) is that very post: the form is
    made from its own title and date. A row stored under the bare link may be any post that had
    the link to itself, so a post takes it only with evidence: the same content, or the same
    title and date. A stored row goes to one entry at most.
    """
    stored_as: dict[str, str] = {}
    taken: set[str] = set()
    for entry, derived in zip(prepared.parsed.entries, prepared.derived, strict=True):
        if entry.guid in known:
            continue
        for other in entry.other_guids:
            row = known.get(other)
            if row is None or other in taken:
                continue
            if _TOLD_APART in other or row["hash"] == derived.digest or _same_post(row, entry):
                stored_as[entry.guid] = other
                taken.add(other)
                break
    return stored_as


_TOLD_APART = "#causerie-"  # parse._told_apart's mark


def _same_post(row: dict, entry: ParsedEntry) -> bool:
    return row["title"] == entry.title and row["published_at"] == iso(entry.published_at)


class FeedsMixin(Base):
    def get_feed(self, url: str) -> Feed:
        row = self._one(
            f"SELECT * FROM feeds WHERE url IN {FEED_URL_FORMS} ORDER BY url = ? DESC", [*same_feed(url), url]
        )
        if row is None:
            raise FeedNotFoundError(url)
        return from_row(Feed, row)

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
        return [from_row(Feed, row) for row in self._all(sql + " ORDER BY f.id", {"now": iso(now)})]

    def next_due_at(self) -> datetime | None:
        """When the first followed feed falls due (long past for a feed never fetched), or None."""
        value = self._value(
            "SELECT min(max(coalesce(f.next_fetch_at, ''), coalesce(f.wait_until, ''))) FROM feeds f"
            " WHERE f.status != 'gone' AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = f.id)"
        )
        if value is None:
            return None
        return parse_dt(value) if value else datetime.min.replace(tzinfo=UTC)

    def people_following(self, feed_urls: list[str]) -> list[tuple[int, int]]:
        """(user id, person id) of everyone whose person those feeds are: for work done after a fetch."""
        if not feed_urls:
            return []
        marks = ", ".join("?" for _ in feed_urls)
        rows = self._all(
            f"SELECT DISTINCT s.user_id, s.person_id FROM subscriptions s JOIN feeds f ON f.id = s.feed_id"
            f" WHERE f.url IN ({marks}) ORDER BY s.user_id, s.person_id",
            feed_urls,
        )
        return [(row["user_id"], row["person_id"]) for row in rows]

    def count_entries(self, feed_url: str | None = None) -> int:
        """How many entries are stored, of one feed or of all (a figure for tests and benchmarks)."""
        if feed_url is None:
            return self._value("SELECT count(*) FROM entries")
        return self._value(
            "SELECT count(*) FROM entries WHERE feed_id = (SELECT id FROM feeds WHERE url = ?)", [feed_url]
        )

    def record_not_modified(self, unchanged: Sequence[tuple[int, FetchResult | None, datetime, datetime]]) -> None:
        """Feeds that answered 304, or a body identical to the last one, as (feed id, response, now,
        next fetch): only their fetch state changes, all in one transaction."""
        with self._transaction():
            self.db.conn.executemany(
                "UPDATE feeds SET status = 'ok', http_status = ?, etag = coalesce(?, etag),"
                " last_modified = coalesce(?, last_modified), last_error = NULL, error_count = 0,"
                " last_fetched_at = ?, last_success_at = ?, next_fetch_at = ?, wait_until = NULL, scheme_assumed = 0"
                " WHERE id = ?",
                [
                    (
                        fetched.http_status if fetched else None,
                        fetched.etag if fetched else None,
                        fetched.last_modified if fetched else None,
                        iso(now),
                        iso(now),
                        iso(next_fetch_at),
                        feed_id,
                    )
                    for feed_id, fetched, now, next_fetch_at in unchanged
                ],
            )

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
                ["gone" if gone else "error", http_status, error[:2000], iso(now), iso(next_fetch_at), iso(wait_until)]
                + [feed_id],
            )

    def move_feed(self, feed_id: int, new_url: str, *, scheme_known: bool = False) -> bool:
        """Follow a permanent redirect. False if another feed already has that URL.

        ``scheme_known``: the move is the one try of http for an address given without a scheme
        (update.py), after which its scheme is no longer assumed."""
        with self._transaction():
            new_url = stored_form(new_url)
            if self._one("SELECT 1 FROM feeds WHERE url = ? AND id != ?", [new_url, feed_id]):
                return False
            self.db.execute(
                "UPDATE feeds SET url = ?, scheme_assumed = scheme_assumed AND NOT ? WHERE id = ?",
                [new_url, scheme_known, feed_id],
            )
        return True

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
        updated = 0
        with self._transaction():
            known = {
                row["guid"]: row
                for row in self._all(
                    "SELECT guid, id, hash, first_seen_at, title, published_at FROM entries WHERE feed_id = ?",
                    [feed_id],
                )
            }
            stored_as = _stored_identities(prepared, known)
            # Feeds list newest first; inserting oldest first makes ids (the
            # timeline's tie-break) agree with the feed when dates are equal.
            fresh = []
            for entry, derived in zip(reversed(prepared.parsed.entries), reversed(prepared.derived), strict=True):
                old = known.get(stored_as.get(entry.guid, entry.guid))
                if old is None:
                    fresh.append((entry, derived))
                elif old["hash"] != derived.digest:
                    update_entry(self.db, old["id"], entry, derived, parse_dt(old["first_seen_at"]), now)
                    updated += 1
            insert_entries(self.db, feed_id, fresh, now)
            new = len(fresh)
            self._save_feed_state(feed_id, prepared.parsed, fetched, now, next_fetch_at, body_hash)
        return SaveReport(new, updated)

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
            " author_email = ?, author_url = ?, etag = ?, last_modified = ?, body_hash = ?, status = 'ok',"
            " http_status = ?, last_error = NULL, error_count = 0, last_fetched_at = ?, last_success_at = ?,"
            " next_fetch_at = ?, wait_until = NULL, refresh_hint_minutes = ?, scheme_assumed = 0"
            " WHERE id = ?",
            [
                parsed.title,
                parsed.site_url,
                parsed.author_name,
                parsed.author_email,
                parsed.author_url,
                fetched.etag,
                fetched.last_modified,
                body_hash,
                fetched.http_status,
                iso(now),
                iso(now),
                iso(next_fetch_at),
                parsed.refresh_minutes,
                feed_id,
            ],
        )
        # People we named from a URL or an OPML title take the feed's own name
        # once we have it (its author if it says, else its title), and its site
        # as their home page if they have none. One statement for both.
        name = parsed.author_name or parsed.title
        if name or parsed.site_url:
            self.db.execute(
                "UPDATE people SET name = CASE WHEN is_auto_named = 1 AND :name IS NOT NULL THEN :name ELSE name END,"
                " is_auto_named = CASE WHEN :name IS NOT NULL THEN 0 ELSE is_auto_named END,"
                " home_url = coalesce(home_url, :site)"
                " WHERE id IN (SELECT person_id FROM subscriptions WHERE feed_id = :feed)"
                " AND (is_auto_named = 1 OR home_url IS NULL)",
                {"name": name, "site": parsed.site_url, "feed": feed_id},
            )
