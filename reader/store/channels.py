"""A person's channels: the ways to reach them, where each came from, and which is preferred.

Typed channels are parsed strictly (``channels.parse_channel``). Found ones
are recorded by discovery; removing one of those dismisses it, so the next
discovery does not bring it back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime

from ..channels import KINDS, parse_channel
from ..errors import InvalidInputError, NotFoundError
from ..models import Channel, FoundChannel, ReachSources
from .people import PeopleMixin
from .rows import from_row, iso

MAX_CHANNELS = 50  # per person; discovery stops adding past it
MAX_LABEL = 200
_ORDER = {kind: index for index, kind in enumerate(KINDS)}


class ChannelNotFoundError(NotFoundError):
    pass


class ChannelsMixin(PeopleMixin):
    user_id: int

    def list_channels(self, person_id: int) -> list[Channel]:
        """The person's channels, private ones first (the order of ``channels.KINDS``), verified first within a kind."""
        preferred = self.get_person(person_id).preferred_channel_id
        rows = self._all(
            "SELECT * FROM channels WHERE person_id = ? AND user_id = ? AND is_dismissed = 0", [person_id, self.user_id]
        )
        channels = [from_row(Channel, row, is_preferred=row["id"] == preferred) for row in rows]
        return sorted(channels, key=lambda c: (_ORDER.get(c.kind, 99), not c.is_verified, c.found_at, c.id))

    def channels_by_person(self, person_ids: Iterable[int]) -> dict[int, list[Channel]]:
        """The channels of several people at once (a timeline page), each person's in ``list_channels`` order."""
        ids = sorted({int(i) for i in person_ids})
        if not ids:
            return {}
        marks = ", ".join(str(i) for i in ids)
        rows = self._all(
            "SELECT c.*, c.id = p.preferred_channel_id AS is_preferred FROM channels c"
            f" JOIN people p ON p.id = c.person_id WHERE c.user_id = ? AND c.person_id IN ({marks})"
            " AND c.is_dismissed = 0",
            [self.user_id],
        )
        found: dict[int, list[Channel]] = {}
        for row in rows:
            found.setdefault(row["person_id"], []).append(from_row(Channel, row))
        for channels in found.values():
            channels.sort(key=lambda c: (_ORDER.get(c.kind, 99), not c.is_verified, c.found_at, c.id))
        return found

    def get_channel(self, channel_id: int) -> Channel:
        row = self._one(
            "SELECT c.*, c.id = p.preferred_channel_id AS is_preferred FROM channels c"
            " JOIN people p ON p.id = c.person_id WHERE c.id = ? AND c.user_id = ? AND c.is_dismissed = 0",
            [channel_id, self.user_id],
        )
        if row is None:
            raise ChannelNotFoundError(f"no channel {channel_id}")
        return from_row(Channel, row)

    def add_channel(self, person_id: int, kind: str, text: str, *, label: str | None = None) -> Channel:
        """A channel the user typed; refused (``InvalidChannelError``) unless it is a valid identifier of its kind."""
        self.get_person(person_id)
        value = parse_channel(kind, text)
        now = iso(datetime.now(UTC))
        with self._transaction():
            self.db.execute(
                "INSERT INTO channels (user_id, person_id, kind, value, label, source, found_at)"
                " VALUES (?, ?, ?, ?, ?, 'user', ?) ON CONFLICT (person_id, kind, value)"
                " DO UPDATE SET is_dismissed = 0, label = coalesce(excluded.label, label)",
                [self.user_id, person_id, kind, value, _label(label), now],
            )
        row = self._one(
            "SELECT id FROM channels WHERE person_id = ? AND kind = ? AND value = ?", [person_id, kind, value]
        )
        return self.get_channel(row["id"])

    def update_channel(self, channel_id: int, *, text: str | None = None, label: str | None = None) -> Channel:
        """Correct a channel's value (it becomes the user's own) or its label."""
        channel = self.get_channel(channel_id)
        changes: dict[str, object] = {}
        if text is not None:
            value = parse_channel(channel.kind, text)
            if value != channel.value:
                changes.update(value=value, source="user", source_url=None, is_verified=0, verified_at=None)
        if label is not None:
            changes["label"] = _label(label)
        if changes:
            assignments = ", ".join(f"{column} = :{column}" for column in changes)
            with self._transaction():
                try:
                    self.db.execute(
                        f"UPDATE channels SET {assignments} WHERE id = :id AND user_id = :user",
                        {**changes, "id": channel_id, "user": self.user_id},
                    )
                except sqlite3.IntegrityError as exc:  # UNIQUE: the person has that channel already
                    raise InvalidInputError(f"{channel.kind} {changes.get('value')} is already listed") from exc
        return self.get_channel(channel_id)

    def remove_channel(self, channel_id: int) -> None:
        """A typed channel is deleted; a found one is dismissed, so discovery does not bring it back."""
        channel = self.get_channel(channel_id)
        with self._transaction():
            if channel.source == "user":
                self.db.execute("DELETE FROM channels WHERE id = ?", [channel_id])
            else:
                self.db.execute("UPDATE channels SET is_dismissed = 1 WHERE id = ?", [channel_id])
            self.db.execute(
                "UPDATE people SET preferred_channel_id = NULL WHERE id = ? AND preferred_channel_id = ?",
                [channel.person_id, channel_id],
            )

    def set_preferred_channel(self, person_id: int, channel_id: int | None) -> None:
        """The channel a Reply goes to by default; None lets the order of kinds decide."""
        self.get_person(person_id)
        if channel_id is not None and self.get_channel(channel_id).person_id != person_id:
            raise ChannelNotFoundError(f"no channel {channel_id} for person {person_id}")
        with self._transaction():
            self.db.execute(
                "UPDATE people SET preferred_channel_id = ? WHERE id = ? AND user_id = ?",
                [channel_id, person_id, self.user_id],
            )

    def record_found_channels(self, person_id: int, found: Iterable[FoundChannel], now: datetime) -> int:
        """Keep what discovery found; returns how many channels are new. Known ones may become verified."""
        self.get_person(person_id)
        new = 0
        with self._transaction():
            count = self._value("SELECT count(*) FROM channels WHERE person_id = ?", [person_id])
            for channel in found:
                exists = self._one(
                    "SELECT id FROM channels WHERE person_id = ? AND kind = ? AND value = ?",
                    [person_id, channel.kind, channel.value],
                )
                if exists is None and count >= MAX_CHANNELS:
                    continue
                self.db.execute(
                    "INSERT INTO channels (user_id, person_id, kind, value, source, source_url, found_at, is_verified,"
                    " verified_at) VALUES (:user, :person, :kind, :value, :source, :source_url, :now, :verified,"
                    " CASE WHEN :verified THEN :now END)"
                    " ON CONFLICT (person_id, kind, value) DO UPDATE SET"
                    " verified_at = CASE WHEN excluded.is_verified AND NOT is_verified THEN excluded.verified_at"
                    "   ELSE verified_at END,"
                    " is_verified = max(is_verified, excluded.is_verified)",
                    {
                        "user": self.user_id,
                        "person": person_id,
                        "kind": channel.kind,
                        "value": channel.value,
                        "source": channel.source,
                        "source_url": channel.source_url,
                        "now": iso(now),
                        "verified": int(channel.is_verified),
                    },
                )
                if exists is None:
                    new += 1
                    count += 1
        return new

    def reach_sources(self, person_id: int) -> ReachSources:
        """Where discovery looks: the person's home page and feed sites, and what their feeds say of their author."""
        person = self.get_person(person_id)
        feeds = self._all(
            "SELECT f.id, f.site_url, f.author_email, f.author_url FROM subscriptions s"
            " JOIN feeds f ON f.id = s.feed_id WHERE s.person_id = ? AND s.user_id = ? ORDER BY f.id",
            [person_id, self.user_id],
        )
        emails = [row["author_email"] for row in feeds if row["author_email"]]
        for row in feeds:
            emails += [
                r["author_email"]
                for r in self._all(
                    "SELECT DISTINCT author_email FROM entries WHERE feed_id = ? AND author_email IS NOT NULL"
                    " ORDER BY sort_at DESC LIMIT 3",
                    [row["id"]],
                )
            ]
        homes = [person.home_url] if person.home_url else []
        homes += [row["site_url"] for row in feeds if row["site_url"]]
        return ReachSources(
            home_urls=tuple(dict.fromkeys(homes)),
            feed_emails=tuple(dict.fromkeys(emails))[:5],
            feed_author_urls=tuple(dict.fromkeys(row["author_url"] for row in feeds if row["author_url"])),
        )


def _label(text: str | None) -> str | None:
    return " ".join((text or "").split())[:MAX_LABEL] or None
