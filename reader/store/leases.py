"""Leases: exclusive work (the background fetch) held by one process at a time, for a while.

A lease is a row: its name, who holds it, until when. Taking one succeeds when nobody holds it,
when its time ran out, or when the taker already holds it (a renewal). A holder renews it while it
works; one that crashes stops renewing, and the lease is free once it expires, so a killed fetcher
never blocks the next one for longer than the lease's term.

In the database rather than a lock file: every process that may fetch (``reader serve``, a cron
``reader fetch --due``, a second server started by mistake) opens the database anyway, and the
database's own write lock makes taking a lease atomic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .rows import Base, parse_dt


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    expires_at: datetime


def _instant(value: datetime) -> str:
    # To the millisecond, unlike the rest of the store: a lease's term may be short (the tests).
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


class LeasesMixin(Base):
    def take_lease(self, name: str, holder: str, now: datetime, term: timedelta) -> bool:
        """Hold ``name`` until ``now + term`` if it is free, expired, or already ours."""
        with self._transaction():
            self.db.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (:name, :holder, :until)"
                " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at"
                " WHERE leases.expires_at <= :now OR leases.holder = excluded.holder",
                {"name": name, "holder": holder, "until": _instant(now + term), "now": _instant(now)},
            )
            return self._value("SELECT holder FROM leases WHERE name = ?", [name]) == holder

    def take_over_lease(self, name: str, old_holder: str, holder: str, now: datetime, term: timedelta) -> bool:
        """Take ``name`` from ``old_holder`` — known dead — unless someone else was quicker."""
        with self._transaction():
            self.db.execute(
                "UPDATE leases SET holder = ?, expires_at = ? WHERE name = ? AND holder = ?",
                [holder, _instant(now + term), name, old_holder],
            )
            return self._value("SELECT holder FROM leases WHERE name = ?", [name]) == holder

    def release_lease(self, name: str, holder: str) -> None:
        """Give ``name`` back, if it is still ours (it may have expired and been taken since)."""
        with self._transaction():
            self.db.execute("DELETE FROM leases WHERE name = ? AND holder = ?", [name, holder])

    def get_lease(self, name: str, now: datetime) -> Lease | None:
        """Who holds ``name`` now, or None if nobody does."""
        row = self._one("SELECT * FROM leases WHERE name = ? AND expires_at > ?", [name, _instant(now)])
        return Lease(row["name"], row["holder"], parse_dt(row["expires_at"])) if row else None
