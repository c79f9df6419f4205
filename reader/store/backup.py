"""The database as a file: who is using it, an online copy of it, and putting a copy back.

Every process that opens the database holds a shared ``flock`` on ``<db>.lock``
next to it for as long as it may write (a command's run, ``reader serve``'s
life, a web request). ``restore`` takes the same lock exclusively, and only if
it can at once: a database in use is never replaced under a running reader,
and nothing opens the database while a restore swaps the files.

The copy is made by SQLite's online backup API inside one read transaction:
in WAL mode that snapshot is consistent and does not stop the writers.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import ReaderError
from ..migrations import migrations

MIGRATIONS_TABLE = "_sqlite_migrations"


class DatabaseInUseError(ReaderError):
    pass


class NotABackupError(ReaderError):
    """The file given to restore is not a whole, readable Causerie database."""


def lock_path(db_path: str | Path) -> Path:
    return Path(f"{db_path}.lock")


class InUse:
    """A shared hold on the database, released by ``close`` (or when the process ends, however)."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


def hold_in_use(db_path: str | Path) -> InUse:
    """Say "in use" for as long as the returned hold is open; raise ``DatabaseInUseError`` during a restore."""
    if str(db_path) == ":memory:":
        return InUse(None)
    try:
        fd = os.open(lock_path(db_path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        # A lock file that cannot be made (a read-only directory) protects nothing: the
        # database there cannot be written either, and restore would fail the same way.
        return InUse(None)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DatabaseInUseError(f"{db_path} is being restored; try again when the restore is done") from None
    return InUse(fd)


@dataclass(frozen=True)
class BackupReport:
    path: Path
    size: int  # bytes
    seconds: float
    counts: dict[str, int]  # rows per table, for the user to recognise their data


def backup_database(db_path: str | Path, target: str | Path, *, now: datetime | None = None) -> BackupReport:
    """Copy the database to ``target`` (a file, or a directory to put a dated file in), whole or not at all.

    The copy is written next to the target under a temporary name, checked with
    ``PRAGMA integrity_check``, turned into a single self-contained file (no WAL)
    and only then renamed over the target.
    """
    started = time.monotonic()
    db_path, target = Path(db_path), Path(target)
    if not db_path.exists():
        raise ReaderError(f"no database at {db_path}")
    if target.is_dir():
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
        target = target / f"causerie-{stamp}.sqlite"
    if target.exists() and target.resolve() == db_path.resolve():
        raise ReaderError(f"{target} is the database itself; give another file")
    temporary = target.with_name(f".{target.name}.partial")
    try:
        source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            copy = sqlite3.connect(temporary)
            try:
                source.backup(copy)  # all pages in one step: one consistent snapshot
                copy.execute("PRAGMA journal_mode = DELETE")  # one file, whatever the source's mode
                _check_whole(copy, temporary)
                counts = _counts(copy)
            finally:
                copy.close()
        finally:
            source.close()
        os.replace(temporary, target)
    except sqlite3.Error as exc:
        raise ReaderError(f"backup failed: {exc}") from exc
    except OSError as exc:
        raise ReaderError(f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return BackupReport(target, target.stat().st_size, time.monotonic() - started, counts)


@dataclass(frozen=True)
class RestoreReport:
    path: Path
    kept: Path | None  # where the database it replaced now is
    counts: dict[str, int]


def restore_database(source: str | Path, db_path: str | Path, *, migrate) -> RestoreReport:
    """Put the backup ``source`` in place of the database at ``db_path``.

    Refused while any process holds the database (``DatabaseInUseError``), and
    for a file that is not a whole Causerie database, or one made by a newer
    version (``NotABackupError``); then nothing changes. The backup is copied
    and brought up to this version's schema (``migrate``, given a path) beside
    the database before the swap; the replaced database is kept as
    ``<db>.before-restore``.
    """
    source, db_path = Path(source), Path(db_path)
    check_backup(source)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(db_path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatabaseInUseError(
                f"{db_path} is in use (reader serve, a fetch, or another command): stop it, then restore"
            ) from None
        incoming = db_path.with_name(f".{db_path.name}.restoring")
        try:
            _copy_file(source, incoming)
            migrate(incoming)
            counts = _counts_at(incoming)
            kept = None
            if db_path.exists():
                _fold_wal(db_path)
                kept = db_path.with_name(f"{db_path.name}.before-restore")
                os.replace(db_path, kept)
            for leftover in (Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
            os.replace(incoming, db_path)
        finally:
            for leftover in (incoming, Path(f"{incoming}-wal"), Path(f"{incoming}-shm"), lock_path(incoming)):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
    finally:
        os.close(fd)
    return RestoreReport(db_path, kept, counts)


def check_backup(path: Path) -> None:
    """Raise ``NotABackupError`` unless ``path`` is a whole SQLite database made by Causerie, this version or older."""
    if not path.is_file():
        raise NotABackupError(f"{path}: no such file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            _check_whole(conn, path)
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if MIGRATIONS_TABLE not in tables:
                raise NotABackupError(f"{path} is an SQLite database, but not one of Causerie's")
            applied = {
                row[0]
                for row in conn.execute(
                    f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = ?", [migrations.name]
                )
            }
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if "malformed" in str(exc):
            raise NotABackupError(f"{path} is damaged: {exc}") from exc
        raise NotABackupError(f"{path} cannot be read as an SQLite database ({exc})") from exc
    if not applied:
        raise NotABackupError(f"{path} is an SQLite database, but not one of Causerie's")
    unknown = applied - {migration.name for migration in migrations._migrations}
    if unknown:
        raise NotABackupError(
            f"{path} was made by a newer version of Causerie (schema {', '.join(sorted(unknown))}); upgrade first"
        )


def _check_whole(conn: sqlite3.Connection, path: Path) -> None:
    problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if problems != ["ok"]:
        raise NotABackupError(f"{path} is damaged: {'; '.join(problems[:3])}")


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {
        table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 (names from a fixed list)
        for table in ("users", "feeds", "entries", "people", "subscriptions")
        if table in tables
    }


def _counts_at(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return _counts(conn)
    finally:
        conn.close()


def _copy_file(source: Path, target: Path) -> None:
    """A byte-for-byte copy through SQLite (so a WAL beside the source is read too), synced to disk."""
    with contextlib.suppress(FileNotFoundError):
        target.unlink()
    reading = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        writing = sqlite3.connect(target)
        try:
            reading.backup(writing)
            writing.execute("PRAGMA journal_mode = DELETE")
        finally:
            writing.close()
    finally:
        reading.close()
    with open(target, "rb") as file:
        os.fsync(file.fileno())


def _fold_wal(path: Path) -> None:
    """Write a WAL left by a killed process back into the database file, so the file kept is whole."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
