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


@migrations()
def m002_people_channels_mutes_conversations(db: Database) -> None:
    """People become the main object: what the user keeps about each, how to reach them, what they said."""
    _execute_all(
        db,
        """
        -- A person's own page and picture (shown only if the user opts in), the
        -- user's notes, the channel a reply goes to by default, and a mute.
        ALTER TABLE people ADD COLUMN home_url TEXT;
        ALTER TABLE people ADD COLUMN avatar_url TEXT;
        ALTER TABLE people ADD COLUMN notes TEXT NOT NULL DEFAULT '';
        ALTER TABLE people ADD COLUMN preferred_channel_id INTEGER REFERENCES channels(id) ON DELETE SET NULL;
        ALTER TABLE people ADD COLUMN is_muted INTEGER NOT NULL DEFAULT 0;

        -- Ways to reach a person. value is the canonical identifier of its kind
        -- (an address, @user:server, +E164, @user@host, a URL); source says where
        -- it was found: 'user' (typed), 'feed', 'home_page' or 'profile'.
        CREATE TABLE channels (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            label TEXT,
            source TEXT NOT NULL,
            source_url TEXT,
            found_at TEXT NOT NULL,
            is_verified INTEGER NOT NULL DEFAULT 0,
            verified_at TEXT,
            -- A found channel the user removed: kept so discovery does not bring it back.
            is_dismissed INTEGER NOT NULL DEFAULT 0,
            UNIQUE (person_id, kind, value)
        );
        CREATE INDEX channels_user ON channels(user_id);

        -- Words and phrases the user does not want to see in their timelines.
        CREATE TABLE mutes (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            phrase TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (user_id, phrase)
        );

        -- Replies the user says they wrote. The post's URL and title are kept
        -- so the log outlives the entry (a feed unfollowed by everyone goes).
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
            entry_id INTEGER REFERENCES entries(id) ON DELETE SET NULL,
            entry_url TEXT,
            entry_title TEXT,
            channel_kind TEXT NOT NULL,
            channel_value TEXT,
            started_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'waiting',
            note TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL
        );
        CREATE INDEX conversations_user ON conversations(user_id, started_at DESC);
        CREATE INDEX conversations_person ON conversations(person_id, started_at DESC);

        -- The feed's own author, where ways to reach its person are found.
        ALTER TABLE feeds ADD COLUMN author_email TEXT;
        ALTER TABLE feeds ADD COLUMN author_url TEXT;

        -- Comment feeds (wfw:commentRss, Atom rel="replies") and their comments:
        -- shared like feeds and entries, fetched once for everyone who opens the post.
        CREATE TABLE comment_feeds (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,
            status TEXT NOT NULL DEFAULT 'new',
            last_error TEXT,
            error_count INTEGER NOT NULL DEFAULT 0,
            last_fetched_at TEXT,
            next_fetch_at TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE comments (
            id INTEGER PRIMARY KEY,
            comment_feed_id INTEGER NOT NULL REFERENCES comment_feeds(id) ON DELETE CASCADE,
            guid TEXT NOT NULL,
            author_name TEXT,
            author_url TEXT,
            link TEXT,
            content TEXT,
            content_html TEXT,
            base_url TEXT,
            published_at TEXT,
            first_seen_at TEXT NOT NULL,
            sort_at TEXT NOT NULL,
            hash TEXT NOT NULL,
            UNIQUE (comment_feed_id, guid)
        );
        CREATE INDEX comments_thread ON comments(comment_feed_id, sort_at, id);

        -- Threads a user watches: the post's comment feed is polled, and comments
        -- newer than the user's last visit are marked.
        CREATE TABLE watches (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
            last_visit_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (user_id, entry_id)
        ) WITHOUT ROWID;

        -- Per-user choices.
        ALTER TABLE users ADD COLUMN show_avatars INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE users ADD COLUMN fediverse_instance TEXT;
        """,
    )


@migrations()
def m003_accounts(db: Database) -> None:
    """Accounts with passwords. The install's first account takes over the local user and its data."""
    _execute_all(
        db,
        """
        -- An argon2id hash (passwords.py); NULL for the local user of an install without accounts.
        ALTER TABLE users ADD COLUMN password_hash TEXT;
        """,
    )


@migrations()
def m004_schedule_and_lease(db: Database) -> None:
    """Each feed's own refresh hint, and the lease that keeps background fetchers to one at a time."""
    _execute_all(
        db,
        """
        -- What the feed document says of its own pace (RSS <ttl>, sy:updatePeriod/Frequency),
        -- in minutes, kept for the fetches that bring no new document (304, same body).
        ALTER TABLE feeds ADD COLUMN refresh_hint_minutes INTEGER;

        -- One row per kind of exclusive work ('fetch'): who holds it, until when. A holder that dies
        -- stops renewing, and the lease is free again once it expires.
        CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        """,
    )


@migrations()
def m005_people_sort_name(db: Database) -> None:
    """People in dictionary order: a stored sort key, kept by triggers, and an index the lists walk."""
    _execute_all(
        db,
        """
        -- collation.sort_key(name): case and accents folded, leading quotes dropped ("Émilie" -> "emilie").
        -- The function is Python, registered on every connection the store opens (store._connect):
        -- SQLite alone cannot fold accents, and a trigger keeps the key right whichever statement
        -- writes a name (create, rename, a fetch naming a person, an import).
        ALTER TABLE people ADD COLUMN sort_name TEXT NOT NULL DEFAULT '';
        UPDATE people SET sort_name = causerie_sort_key(name);
        CREATE TRIGGER people_sort_name_insert AFTER INSERT ON people BEGIN
            UPDATE people SET sort_name = causerie_sort_key(new.name) WHERE id = new.id;
        END;
        CREATE TRIGGER people_sort_name_update AFTER UPDATE OF name ON people BEGIN
            UPDATE people SET sort_name = causerie_sort_key(new.name) WHERE id = new.id;
        END;
        -- The sidebar's first names and each page of the people page are a walk of this index;
        -- it starts with user_id, so the index on user_id alone has nothing left to do.
        CREATE INDEX people_sort ON people(user_id, sort_name, id);
        DROP INDEX people_user;
        """,
    )


@migrations()
def m006_feeds_scheme_assumed(db: Database) -> None:
    """Feeds whose address came without a scheme: https was assumed, and http is tried if it fails."""
    _execute_all(
        db,
        """
        -- 1 while https, assumed for an address given without a scheme (an OPML xmlUrl such as
        -- "www.example.org/feed"), has not yet worked: a first fetch that cannot connect tries http.
        ALTER TABLE feeds ADD COLUMN scheme_assumed INTEGER NOT NULL DEFAULT 0;
        """,
    )
