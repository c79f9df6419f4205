"""The database schema, as append-only migrations (never edit one that shipped).

What is personal — people, groups, subscriptions, read state — is keyed by
``user_id`` so several people can share one install. Feeds and entries are
shared: a feed followed by two users is fetched once.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("reader")


@migrations()
def m001_create_schema(db: Database) -> None:
    _execute_all(
        db,
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        );
        INSERT INTO users (id, name, created_at) VALUES (1, 'local', strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'));

        CREATE TABLE feeds (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,
            title TEXT,
            site_url TEXT,
            author_name TEXT,
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,
            status TEXT NOT NULL DEFAULT 'new',
            http_status INTEGER,
            last_error TEXT,
            error_count INTEGER NOT NULL DEFAULT 0,
            last_fetched_at TEXT,
            last_success_at TEXT,
            next_fetch_at TEXT,
            wait_until TEXT,
            created_at TEXT NOT NULL
        );

        CREATE TABLE people (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            is_auto_named INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        );
        CREATE INDEX people_user ON people(user_id);

        CREATE TABLE groups (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            parent_id INTEGER REFERENCES groups(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX groups_unique_name ON groups(user_id, coalesce(parent_id, 0), name);

        CREATE TABLE subscriptions (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
            person_id INTEGER NOT NULL REFERENCES people(id),
            group_id INTEGER REFERENCES groups(id) ON DELETE SET NULL,
            title TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (user_id, feed_id)
        );
        CREATE INDEX subscriptions_feed ON subscriptions(feed_id);
        CREATE INDEX subscriptions_person ON subscriptions(person_id);
        CREATE INDEX subscriptions_group ON subscriptions(group_id);

        CREATE TABLE entries (
            id INTEGER PRIMARY KEY,
            feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
            guid TEXT NOT NULL,
            title TEXT,
            link TEXT,
            author_name TEXT,
            author_email TEXT,
            author_url TEXT,
            summary TEXT,
            content TEXT,
            content_html TEXT,
            base_url TEXT,
            excerpt TEXT NOT NULL DEFAULT '',
            published_at TEXT,
            updated_at TEXT,
            first_seen_at TEXT NOT NULL,
            sort_at TEXT NOT NULL,
            comments_url TEXT,
            comments_feed_url TEXT,
            comment_count INTEGER,
            enclosures TEXT NOT NULL DEFAULT '[]',
            hash TEXT NOT NULL,
            changed_at TEXT NOT NULL,
            UNIQUE (feed_id, guid)
        );
        CREATE INDEX entries_timeline ON entries(sort_at DESC, id DESC);
        CREATE INDEX entries_feed_timeline ON entries(feed_id, sort_at DESC, id DESC);

        CREATE TABLE entry_states (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
            is_read INTEGER NOT NULL DEFAULT 0,
            is_saved INTEGER NOT NULL DEFAULT 0,
            read_at TEXT,
            saved_at TEXT,
            PRIMARY KEY (user_id, entry_id)
        ) WITHOUT ROWID;
        CREATE INDEX entry_states_entry ON entry_states(entry_id);

        CREATE VIRTUAL TABLE entries_fts USING fts5(
            title, author, text, tokenize = 'unicode61 remove_diacritics 2'
        );
        -- rowid = entries.id; rows are written by the store with the entry,
        -- and removed here so no path that deletes entries can leave one behind.
        CREATE TRIGGER entries_fts_delete AFTER DELETE ON entries BEGIN
            DELETE FROM entries_fts WHERE rowid = old.id;
        END;
        """,
    )


def _execute_all(db: Database, script: str) -> None:
    """Run a script statement by statement.

    ``executescript`` would COMMIT first, splitting a migration from the record
    that it ran; statement by statement it stays inside the migration's transaction.
    """
    import sqlite3

    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in migration: {statement[:60]!r}")
