"""What every part of the store shares: the connection helpers, the error edge, and the one row mapper.

Rows come back as dicts (``Base._all``); every model is
built from one by ``from_row``, which converts columns by the model's field
types, so a column added to a table and a model needs no mapping code.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import typing
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime

from sqlite_utils import Database
from sqlite_utils.utils import dedupe_keys

from ..errors import StorageError
from ..models import Enclosure
from ..urls import stored_form


def wrap_errors(method):
    """Turn operational sqlite errors (locked, read-only, disk full) into ``StorageError``.

    Integrity and programming errors stay what they are: they are bugs, or,
    for an import, the signal that rolls the whole transaction back.
    """

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

    wrapper.wraps_storage_errors = True
    return wrapper


@contextmanager
def immediate_transaction(db: Database) -> Iterator[Database]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or a savepoint inside a transaction already open.

    IMMEDIATE takes the write lock at the start, where SQLite's busy timeout
    waits for it. A deferred BEGIN reads first and asks for the lock at its
    first write; if another process committed in between, SQLite cannot
    upgrade the stale snapshot and fails at once with "database is locked",
    whatever the timeout (found by tests/test_durability.py).
    """
    conn = db.conn
    if conn.in_transaction:
        with db.atomic():
            yield db
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class Base:
    """The connection and its helpers. Every public method of a subclass raises ``StorageError``
    on an operational database error: ``__init_subclass__`` wraps them, so a new method cannot
    forget to (tests/test_store.py checks every one)."""

    db: Database

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if callable(value) and not name.startswith("_") and not getattr(value, "wraps_storage_errors", False):
                setattr(cls, name, wrap_errors(value))

    @contextmanager
    def _transaction(self) -> Iterator[Database]:
        """One write transaction; nested ones are savepoints."""
        with immediate_transaction(self.db) as db:
            yield db

    def _all(self, sql: str, params: Iterable | Mapping = ()) -> list[dict]:
        # The cursor itself rather than ``Database.query``, which wraps every read in a savepoint
        # (three statements for one) to undo a statement that returns no rows. Reads only, checked
        # before anything runs: a write here would be committed at once, outside any transaction.
        if not sql.lstrip()[:6].upper().startswith(("SELECT", "WITH")):
            raise ValueError(f"not a read: {sql[:40]!r}")
        cursor = self.db.conn.execute(sql, params if isinstance(params, Mapping) else list(params))
        keys = dedupe_keys(column[0] for column in cursor.description)
        return [dict(zip(keys, row, strict=True)) for row in cursor]

    def _one(self, sql: str, params: Iterable | Mapping = ()) -> dict | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _value(self, sql: str, params: Iterable | Mapping = ()) -> object:
        """The first column of the first row (a count, an id), or None."""
        row = self._one(sql, params)
        return next(iter(row.values())) if row else None

    def _insert(self, sql: str, params: Iterable | Mapping = ()) -> int:
        """Run an INSERT and return the new row's id."""
        return self.db.execute(sql, params if isinstance(params, Mapping) else list(params)).lastrowid


FEED_URL_FORMS = "(?, ?)"  # "url IN (?, ?)": a feed's address as given, and in its stored form


def same_feed(url: str) -> list[str]:
    """A feed's address as given and in the one form new feeds are stored in (``urls.feed_url``):
    a feed stored before that rule, in another form, is still found."""
    return [url, stored_form(url)]


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value is not None else None


def parse_dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _enclosures(value: str | None) -> tuple[Enclosure, ...]:
    if not value or value == "[]":  # most posts: no JSON to parse
        return ()
    return tuple(Enclosure(*item) for item in json.loads(value))


def _optional_bool(value: object) -> bool | None:
    return None if value is None else bool(value)


# Column value -> field value, by the field's declared type.
_CONVERTERS: dict[object, typing.Callable[[object], object]] = {
    datetime: parse_dt,
    datetime | None: parse_dt,
    bool: bool,
    bool | None: _optional_bool,
    tuple[Enclosure, ...]: _enclosures,
}


_MISSING = object()


@functools.cache
def _plan(cls: type) -> tuple[tuple[str, typing.Callable | None], ...]:
    if not is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    return tuple((f.name, _CONVERTERS.get(hints[f.name])) for f in fields(cls) if f.init)


def from_row(cls: type, row: Mapping, **values: object):
    """Build the dataclass ``cls`` from a row: each field from the column of the same name.

    ``values`` give fields the row does not hold under their own name (a
    nested model, a computed path). Fields with defaults may be missing.
    """
    # A timeline page builds ~170 models: this loop is written for speed (one lookup a field).
    get = row.get
    for name, convert in _plan(cls):
        if name in values:
            continue
        value = get(name, _MISSING)
        if value is not _MISSING:
            values[name] = value if convert is None else convert(value)
    return cls(**values)
