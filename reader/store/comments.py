"""Comments of posts, from their comment feeds: shared like entries; watched threads are per user.

A comment feed is fetched through the same pipeline as feeds (``update``),
so with the same caps and parse time budget. Its comments are stored as the
feed sent them and sanitized at first view, like entries.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ..errors import NotFoundError
from ..models import Comment, CommentFeed, FetchResult, PreparedFeed, WatchedThread
from .entries import EntriesMixin
from .rows import Base, from_row, iso, parse_dt

MAX_COMMENTS = 500  # per thread shown


class CommentNotFoundError(NotFoundError):
    pass


# Comments of a thread's first fetch were there before anyone could see them: never "new",
# even when the first fetch comes after the user started watching.
_NOT_FIRST_BATCH = (
    "c.first_seen_at > (SELECT min(first_seen_at) FROM comments WHERE comment_feed_id = c.comment_feed_id)"
)


class CommentFeedsMixin(Base):
    """The shared side: comment feeds and their fetch state."""

    def get_comment_feed(self, url: str) -> CommentFeed:
        """The comment feed at ``url``, known from now on if it was not (a cache, not user state)."""
        row = self._one("SELECT * FROM comment_feeds WHERE url = ?", [url])
        if row is None:
            with self._transaction():
                self.db.execute(
                    "INSERT INTO comment_feeds (url, created_at) VALUES (?, ?) ON CONFLICT (url) DO NOTHING",
                    [url, iso(datetime.now(UTC))],
                )
            row = self._one("SELECT * FROM comment_feeds WHERE url = ?", [url])
        return from_row(CommentFeed, row)

    def list_comment_feeds_to_fetch(self, now: datetime) -> list[CommentFeed]:
        """Comment feeds of threads someone watches whose next fetch time has come."""
        rows = self._all(
            "SELECT DISTINCT cf.* FROM comment_feeds cf JOIN entries e ON e.comments_feed_url = cf.url"
            " JOIN watches w ON w.entry_id = e.id WHERE cf.next_fetch_at IS NULL OR cf.next_fetch_at <= ?"
            " ORDER BY cf.id",
            [iso(now)],
        )
        return [from_row(CommentFeed, row) for row in rows]

    def save_comments(
        self,
        comment_feed_id: int,
        prepared: PreparedFeed,
        fetched: FetchResult,
        now: datetime,
        next_fetch_at: datetime,
        *,
        body_hash: str,
    ) -> int:
        """Store a fetched comment feed in one transaction; returns how many comments are new."""
        new = 0
        with self._transaction():
            known = {
                row["guid"]: row
                for row in self._all("SELECT guid, id, hash FROM comments WHERE comment_feed_id = ?", [comment_feed_id])
            }
            for comment, derived in zip(reversed(prepared.parsed.entries), reversed(prepared.derived), strict=True):
                old = known.get(comment.guid)
                if old is not None and old["hash"] == derived.digest:
                    continue
                sort_at = min(comment.published_at, now) if comment.published_at else now
                values = {
                    "feed": comment_feed_id,
                    "guid": comment.guid,
                    "author_name": comment.author_name,
                    "author_url": comment.author_url,
                    "link": comment.link,
                    "content": comment.content or comment.summary,
                    "base_url": comment.base_url,
                    "published_at": iso(comment.published_at),
                    "now": iso(now),
                    "sort_at": iso(sort_at),
                    "hash": derived.digest,
                }
                if old is None:
                    self.db.execute(
                        "INSERT INTO comments (comment_feed_id, guid, author_name, author_url, link, content, base_url,"
                        " published_at, first_seen_at, sort_at, hash) VALUES (:feed, :guid, :author_name, :author_url,"
                        " :link, :content, :base_url, :published_at, :now, :sort_at, :hash)",
                        values,
                    )
                    new += 1
                else:
                    self.db.execute(
                        "UPDATE comments SET author_name = :author_name, author_url = :author_url, link = :link,"
                        " content = :content, content_html = NULL, base_url = :base_url, published_at = :published_at,"
                        " hash = :hash WHERE comment_feed_id = :feed AND guid = :guid",
                        values,
                    )
            self._comment_feed_fetched(comment_feed_id, fetched, now, next_fetch_at, body_hash)
        return new

    def record_comments_not_modified(
        self, comment_feed_id: int, fetched: FetchResult, now: datetime, next_fetch_at: datetime
    ) -> None:
        with self._transaction():
            self._comment_feed_fetched(comment_feed_id, fetched, now, next_fetch_at, None)

    def record_comments_error(self, comment_feed_id: int, error: str, now: datetime, next_fetch_at: datetime) -> None:
        with self._transaction():
            self.db.execute(
                "UPDATE comment_feeds SET status = 'error', last_error = ?, error_count = error_count + 1,"
                " last_fetched_at = ?, next_fetch_at = ? WHERE id = ?",
                [error[:2000], iso(now), iso(next_fetch_at), comment_feed_id],
            )

    def _comment_feed_fetched(
        self, comment_feed_id: int, fetched: FetchResult, now: datetime, next_fetch_at: datetime, body_hash: str | None
    ) -> None:
        self.db.execute(
            "UPDATE comment_feeds SET status = 'ok', etag = coalesce(?, etag),"
            " last_modified = coalesce(?, last_modified), body_hash = coalesce(?, body_hash),"
            " last_error = NULL, error_count = 0, last_fetched_at = ?,"
            " next_fetch_at = ? WHERE id = ?",
            [fetched.etag, fetched.last_modified, body_hash, iso(now), iso(next_fetch_at), comment_feed_id],
        )


class CommentsMixin(EntriesMixin):
    """The user's side: the comments of a post they can see, and the threads they watch."""

    user_id: int

    def list_comments(self, entry_id: int) -> list[Comment]:
        """The post's comments, newest last; ``is_new`` marks those since the user's last visit of a watched thread."""
        entry = self.get_entry(entry_id)
        if not entry.comments_feed_url:
            return []
        watch = self._one(
            "SELECT last_visit_at FROM watches WHERE user_id = ? AND entry_id = ?", [self.user_id, entry_id]
        )
        since = watch["last_visit_at"] if watch else None
        rows = self._all(
            "SELECT c.id, c.author_name, c.author_url, c.link, c.published_at, c.sort_at,"
            f" (:since IS NOT NULL AND c.first_seen_at > :since AND {_NOT_FIRST_BATCH}) AS is_new"
            " FROM comments c JOIN comment_feeds cf ON cf.id = c.comment_feed_id WHERE cf.url = :url"
            " ORDER BY c.sort_at, c.id LIMIT :limit",
            {"since": since, "url": entry.comments_feed_url, "limit": MAX_COMMENTS},
        )
        return [from_row(Comment, row) for row in rows]

    def get_comment_content(self, entry_id: int, comment_id: int) -> tuple[str | None, str | None, str | None]:
        """(content, base_url, sanitized cache) of a comment of a post the user can see."""
        entry = self.get_entry(entry_id)
        row = self._one(
            "SELECT c.content, c.base_url, c.content_html FROM comments c JOIN comment_feeds cf"
            " ON cf.id = c.comment_feed_id WHERE cf.url = ? AND c.id = ?",
            [entry.comments_feed_url, comment_id],
        )
        if row is None:
            raise CommentNotFoundError(f"no comment {comment_id}")
        return row["content"], row["base_url"], row["content_html"]

    def cache_comment_html(self, entry_id: int, comment_id: int, html: str) -> None:
        self.get_comment_content(entry_id, comment_id)
        with self._transaction():
            self.db.execute("UPDATE comments SET content_html = ? WHERE id = ?", [html, comment_id])

    def watch_thread(self, entry_id: int, watching: bool = True) -> None:
        """Poll the post's comment feed on the normal schedule and mark comments newer than the last visit."""
        self.get_entry(entry_id)
        now = iso(datetime.now(UTC))
        with self._transaction():
            if watching:
                self.db.execute(
                    "INSERT INTO watches (user_id, entry_id, last_visit_at, created_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (user_id, entry_id) DO NOTHING",
                    [self.user_id, entry_id, now, now],
                )
            else:
                self.db.execute("DELETE FROM watches WHERE user_id = ? AND entry_id = ?", [self.user_id, entry_id])

    def is_watching(self, entry_id: int) -> bool:
        return bool(self._one("SELECT 1 FROM watches WHERE user_id = ? AND entry_id = ?", [self.user_id, entry_id]))

    def mark_thread_visited(self, entry_id: int, when: datetime | None = None) -> None:
        """The user has seen the thread's comments (a POST from its page)."""
        self.get_entry(entry_id)
        with self._transaction():
            self.db.execute(
                "UPDATE watches SET last_visit_at = ? WHERE user_id = ? AND entry_id = ?",
                [iso(when or datetime.now(UTC)), self.user_id, entry_id],
            )

    def list_watched_threads(self) -> list[WatchedThread]:
        """Watched threads, those with new comments first, then the most recently visited."""
        rows = self._all(
            "SELECT w.entry_id, e.title AS entry_title, p.name AS person_name, w.last_visit_at,"
            " (SELECT count(*) FROM comments c JOIN comment_feeds cf ON cf.id = c.comment_feed_id"
            f"  WHERE cf.url = e.comments_feed_url AND c.first_seen_at > w.last_visit_at AND {_NOT_FIRST_BATCH})"
            " AS new_comments"
            " FROM watches w JOIN entries e ON e.id = w.entry_id"
            " JOIN subscriptions s ON s.feed_id = e.feed_id AND s.user_id = w.user_id"
            " JOIN people p ON p.id = s.person_id"
            " WHERE w.user_id = ? ORDER BY new_comments > 0 DESC, w.last_visit_at DESC",
            [self.user_id],
        )
        return [from_row(WatchedThread, row) for row in rows]

    def last_visit_of(self, entry_id: int) -> datetime | None:
        row = self._one(
            "SELECT last_visit_at FROM watches WHERE user_id = ? AND entry_id = ?", [self.user_id, entry_id]
        )
        return parse_dt(row["last_visit_at"]) if row else None
