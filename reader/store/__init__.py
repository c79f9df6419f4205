"""The database. sqlite-utils is used in this package and in ``migrations`` only.

``Store`` is what all users share: feeds, their fetch state, the entries a
fetch brings, the accounts. What belongs to one user — subscriptions, people,
groups, read state, search over what they follow — is reached only through
``store.for_user(user_id)``, a handle bound to that user: a per-user query
cannot be written without saying whose it is.

One module per aggregate (``feeds``, ``subscriptions``, ``entries``,
``search``, ``people``, ``groups``, ``users``); ``rows`` holds what they share.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from ..collation import sort_key
from ..errors import StorageError
from ..migrations import migrations
from .backup import (
    BackupReport,
    DatabaseInUseError,
    InUse,
    NotABackupError,
    RestoreReport,
    backup_database,
    hold_in_use,
    restore_database,
)
from .comments import CommentFeedsMixin, CommentsMixin
from .conversations import STATUSES, ConversationsMixin
from .feeds import FeedsMixin, SaveReport
from .leases import Lease, LeasesMixin
from .portable import DataImportReport, PortableMixin
from .rows import immediate_transaction, wrap_errors
from .search import SearchMixin, fts_query
from .subscriptions import ImportReport
from .users import LOCAL_USER, SettingsMixin, UserNotFoundError, UsersMixin

__all__ = [
    "LOCAL_USER",
    "BackupReport",
    "DataImportReport",
    "DatabaseInUseError",
    "NotABackupError",
    "RestoreReport",
    "backup_database",
    "hold_in_use",
    "restore",
    "restore_database",
    "STATUSES",
    "ImportReport",
    "Lease",
    "SaveReport",
    "Store",
    "UserNotFoundError",
    "UserStore",
    "add_sql_functions",
    "fts_query",
]

BUSY_TIMEOUT_MS = 5_000


def migrate_schema(db: Database) -> None:
    """Apply every pending migration in one transaction: all of them, or none.

    Two processes starting together (``reader serve`` and a timer's ``reader
    fetch``) must not both migrate: the write lock is taken before the check
    of what is pending. Each migration's own ``atomic`` becomes a savepoint.
    """
    pending = migrations.pending(db)
    if not pending:
        return
    try:
        with immediate_transaction(db):
            migrations.apply(db)
    except Exception as exc:
        names = ", ".join(migration.name for migration in pending)
        raise StorageError(
            f"could not bring the database up to date ({names}), so it was left exactly as it was: {exc}"
        ) from exc


class Store(FeedsMixin, CommentFeedsMixin, UsersMixin, LeasesMixin):
    def __init__(self, db: Database, in_use: InUse | None = None) -> None:
        self.db = db
        self._in_use = in_use  # the shared lock that keeps a restore away while this is open

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
        in_use = hold_in_use(path)
        try:
            return cls(_connect(path, migrate), in_use)
        except BaseException:
            in_use.close()
            raise

    def close(self) -> None:
        self.db.close()
        if self._in_use is not None:
            self._in_use.close()

    def for_user(self, user_id: int) -> UserStore:
        """The same connection, bound to one user."""
        return UserStore(self.db, user_id, self._in_use)


def add_sql_functions(conn: sqlite3.Connection) -> None:
    """The Python functions the schema calls: the triggers that keep ``people.sort_name`` call
    ``causerie_sort_key``, so a connection without it cannot write a person's name (it fails, loudly,
    rather than leave a stale key). Every connection the store opens has it.
    """
    conn.create_function("causerie_sort_key", 1, sort_key, deterministic=True)
    # Python cannot mark a function innocuous, and a SQLite built with trusted_schema off (not the
    # default) refuses any such function in a trigger. This file is Causerie's own, not a stranger's.
    conn.execute("PRAGMA trusted_schema = ON")


def _connect(path: Path, migrate: bool) -> Database:
    # isolation_level=None: no transaction is ever opened behind our back (Python's default
    # opens one before the first INSERT and keeps it, and the write lock, until a commit);
    # every transaction is an explicit BEGIN IMMEDIATE in rows.Base._transaction.
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None)
    try:
        add_sql_functions(conn)
        db = Database(conn)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA foreign_keys = ON")
        if str(path) != ":memory:":
            db.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable across application crashes in WAL mode; only a power
        # cut may lose the last commits, never corrupt the file.
        db.execute("PRAGMA synchronous = NORMAL")
        if migrate:
            migrate_schema(db)
    except BaseException:
        conn.close()
        raise
    return db


def restore(source: str | Path, db_path: str | Path) -> RestoreReport:
    """``restore_database``, the backup brought to this version's schema before it goes in place."""
    return restore_database(source, db_path, migrate=lambda path: Store.open(path).close())


class UserStore(PortableMixin, ConversationsMixin, CommentsMixin, SearchMixin, SettingsMixin, Store):
    """One user's view of the store: everything ``Store`` does, plus what is theirs."""

    def __init__(self, db: Database, user_id: int, in_use: InUse | None = None) -> None:
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise TypeError(f"user_id must be an int, not {user_id!r}")
        super().__init__(db, in_use)
        self.user_id = user_id
