"""Rows ↔ models, and the one place sqlite errors become ``StorageError``.

Shared by the parts of the store (``store.py``, ``store_reading.py``).
"""

from __future__ import annotations

import functools
import json
import sqlite3
from datetime import UTC, datetime

from .errors import StorageError
from .models import Enclosure, Entry, Feed


def wrap_errors(method):
    """Turn operational sqlite errors into ``StorageError`` at the edge."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            raise StorageError(f"database error in {method.__name__}") from exc
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.InterfaceError):
                raise
            raise StorageError(f"database error in {method.__name__}") from exc

    return wrapper


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value is not None else None


def parse_dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def feed_from_row(row: dict) -> Feed:
    return Feed(
        id=row["id"],
        url=row["url"],
        title=row["title"],
        site_url=row["site_url"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        body_hash=row["body_hash"],
        status=row["status"],
        http_status=row["http_status"],
        last_error=row["last_error"],
        error_count=row["error_count"],
        last_fetched_at=parse_dt(row["last_fetched_at"]),
        last_success_at=parse_dt(row["last_success_at"]),
        next_fetch_at=parse_dt(row["next_fetch_at"]),
        wait_until=parse_dt(row["wait_until"]),
        created_at=parse_dt(row["created_at"]),
    )


def entry_from_row(row: dict) -> Entry:
    return Entry(
        id=row["id"],
        feed_id=row["feed_id"],
        guid=row["guid"],
        title=row["title"],
        link=row["link"],
        author_name=row["author_name"],
        author_email=row["author_email"],
        author_url=row["author_url"],
        excerpt=row["excerpt"],
        published_at=parse_dt(row["published_at"]),
        updated_at=parse_dt(row["updated_at"]),
        first_seen_at=parse_dt(row["first_seen_at"]),
        sort_at=parse_dt(row["sort_at"]),
        comments_url=row["comments_url"],
        comments_feed_url=row["comments_feed_url"],
        comment_count=row["comment_count"],
        enclosures=tuple(Enclosure(*item) for item in json.loads(row["enclosures"] or "[]")),
    )
