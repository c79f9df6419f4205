"""One user's data as a plain document, and that document written back: to leave, or to move servers.

The document (``reader/userdata.py`` reads and checks it) holds what is the
user's own — people, their channels and notes, subscriptions and groups,
mutes, read and saved state, watched threads, conversations — and, of shared
things, only what their state needs: each entry with a state is named by its
feed's URL and its guid, with enough of it (title, link, dates; the whole
post when saved) to stand until the feed is fetched on the new server.

Writing it back is one transaction, and merges rather than overwrites, so the
same file imported twice changes nothing: a person is the one who already
has one of the person's feeds, else one of that name, else someone new; notes
are appended unless already there; flags only ever get set.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import FeedExistsError
from ..models import EntryDerived, FeedSource, ParsedEntry
from .entries import insert_entries
from .rows import iso
from .subscriptions import SubscriptionsMixin


@dataclass(frozen=True)
class DataImportReport:
    people_added: int = 0
    people_matched: int = 0
    feeds_added: int = 0
    channels_added: int = 0
    mutes_added: int = 0
    entries_added: int = 0  # entries not yet fetched here, kept from the file until their feed is
    states_set: int = 0
    conversations_added: int = 0


# An entry of the document, with what storing it needs (see userdata.py).
EntryKey = tuple[str, str]  # (feed URL, guid)
Prepared = Mapping[EntryKey, tuple[ParsedEntry, EntryDerived]]


class PortableMixin(SubscriptionsMixin):
    user_id: int

    @contextmanager
    def _read_snapshot(self) -> Iterator[None]:
        """A read transaction: every query inside sees the database as of one moment."""
        if self.db.conn.in_transaction:
            yield
            return
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    def export_user_data(self) -> dict:
        """Everything of this user's, as a JSON-ready dict (one consistent snapshot)."""
        with self._read_snapshot():
            user = self._one("SELECT name, show_avatars, fediverse_instance FROM users WHERE id = ?", [self.user_id])
            people = self._export_people()
            return {
                "format": "causerie-user-data",
                "version": 1,
                "exported_at": iso(datetime.now(UTC)),
                "account": {
                    "name": user["name"],
                    "show_avatars": bool(user["show_avatars"]),
                    "fediverse_instance": user["fediverse_instance"],
                },
                "groups": [list(path) for path in self._group_paths().values()],
                "people": people,
                "mutes": self._all(
                    "SELECT phrase, created_at FROM mutes WHERE user_id = ? ORDER BY id", [self.user_id]
                ),
                "entries": self._export_entries(),
                "conversations": self._all(
                    "SELECT c.person_id AS person, f.url AS feed_url, e.guid, c.entry_url, c.entry_title,"
                    " c.channel_kind, c.channel_value, c.started_at, c.status, c.note, c.updated_at"
                    " FROM conversations c LEFT JOIN entries e ON e.id = c.entry_id"
                    " LEFT JOIN feeds f ON f.id = e.feed_id WHERE c.user_id = ? ORDER BY c.id",
                    [self.user_id],
                ),
            }

    def _group_paths(self) -> dict[int, tuple[str, ...]]:
        rows = self._all("SELECT id, parent_id, name FROM groups WHERE user_id = ? ORDER BY id", [self.user_id])
        by_id = {row["id"]: row for row in rows}

        def path(group_id: int) -> tuple[str, ...]:
            names: list[str] = []
            while group_id is not None and group_id in by_id and len(names) < 50:
                names.insert(0, by_id[group_id]["name"])
                group_id = by_id[group_id]["parent_id"]
            return tuple(names)

        return {group_id: path(group_id) for group_id in by_id}

    def _export_people(self) -> list[dict]:
        groups = self._group_paths()
        people = {
            row["id"]: {
                "id": row["id"],
                "name": row["name"],
                "named_by_user": not row["is_auto_named"],
                "home_url": row["home_url"],
                "avatar_url": row["avatar_url"],
                "notes": row["notes"],
                "is_muted": bool(row["is_muted"]),
                "preferred_channel": None,
                "channels": [],
                "feeds": [],
                "_preferred": row["preferred_channel_id"],
            }
            for row in self._all("SELECT * FROM people WHERE user_id = ? ORDER BY id", [self.user_id])
        }
        for row in self._all("SELECT * FROM channels WHERE user_id = ? ORDER BY id", [self.user_id]):
            person = people[row["person_id"]]
            channel = {
                key: row[key] for key in ("kind", "value", "label", "source", "source_url", "found_at", "verified_at")
            }
            channel.update(is_verified=bool(row["is_verified"]), is_dismissed=bool(row["is_dismissed"]))
            person["channels"].append(channel)
            if person["_preferred"] == row["id"]:
                person["preferred_channel"] = {"kind": row["kind"], "value": row["value"]}
        for row in self._all(
            "SELECT s.person_id, s.title, s.group_id, s.created_at, f.url, f.title AS feed_title, f.site_url"
            " FROM subscriptions s JOIN feeds f ON f.id = s.feed_id WHERE s.user_id = ? ORDER BY s.id",
            [self.user_id],
        ):
            people[row["person_id"]]["feeds"].append(
                {
                    "url": row["url"],
                    "title": row["title"],
                    "feed_title": row["feed_title"],
                    "site_url": row["site_url"],
                    "group": list(groups.get(row["group_id"], ())),
                    "subscribed_at": row["created_at"],
                }
            )
        for person in people.values():
            del person["_preferred"]
        return list(people.values())

    def _export_entries(self) -> list[dict]:
        """Entries this user read, saved or watches: named by feed URL and guid, the saved ones whole."""
        rows = self._all(
            "SELECT f.url AS feed_url, e.guid, e.title, e.link, e.author_name, e.published_at, e.updated_at,"
            " e.first_seen_at, coalesce(st.is_read, 0) AS is_read, st.read_at, coalesce(st.is_saved, 0) AS is_saved,"
            " st.saved_at, w.last_visit_at, w.created_at AS watched_at,"
            " CASE WHEN st.is_saved THEN e.summary END AS summary,"
            " CASE WHEN st.is_saved THEN e.content END AS content"
            " FROM entries e JOIN feeds f ON f.id = e.feed_id"
            " LEFT JOIN entry_states st ON st.entry_id = e.id AND st.user_id = :user"
            " LEFT JOIN watches w ON w.entry_id = e.id AND w.user_id = :user"
            " WHERE (st.is_read OR st.is_saved OR w.entry_id IS NOT NULL"
            "        OR e.id IN (SELECT entry_id FROM conversations WHERE user_id = :user))"
            # Only entries of feeds the user follows: another user's are not theirs to export.
            " AND e.feed_id IN (SELECT feed_id FROM subscriptions WHERE user_id = :user)"
            " ORDER BY e.id",
            {"user": self.user_id},
        )
        entries = []
        for row in rows:
            entry = {key: row[key] for key in row if key not in ("last_visit_at", "watched_at")}
            entry["is_read"], entry["is_saved"] = bool(row["is_read"]), bool(row["is_saved"])
            entry["watched"] = (
                {"last_visit_at": row["last_visit_at"], "created_at": row["watched_at"]} if row["watched_at"] else None
            )
            entries.append(entry)
        return entries

    def import_user_data(self, document: Mapping, prepared: Prepared) -> DataImportReport:
        """Merge a checked document (``userdata.read_user_data``) into this user's data: all of it, or none."""
        now = datetime.now(UTC)
        count = dict.fromkeys(DataImportReport.__dataclass_fields__, 0)
        with self._transaction():
            account = document["account"]
            self.db.execute(
                "UPDATE users SET show_avatars = max(show_avatars, ?),"
                " fediverse_instance = coalesce(fediverse_instance, ?) WHERE id = ?",
                [int(account["show_avatars"]), account["fediverse_instance"], self.user_id],
            )
            for path in document["groups"]:
                self._ensure_group(tuple(path), now)
            person_ids = {}
            for person in document["people"]:
                person_ids[person["id"]] = self._import_person(person, now, count)
            for mute in document["mutes"]:
                count["mutes_added"] += self.db.execute(
                    "INSERT OR IGNORE INTO mutes (user_id, phrase, created_at) VALUES (?, ?, ?)",
                    [self.user_id, mute["phrase"], mute["created_at"] or iso(now)],
                ).rowcount
            entry_ids = self._import_entries(document["entries"], prepared, now, count)
            for talk in document["conversations"]:
                self._import_conversation(talk, person_ids, entry_ids, count)
        return DataImportReport(**count)

    def _import_person(self, person: Mapping, now: datetime, count: dict) -> int:
        urls = [feed["url"] for feed in person["feeds"]]
        marks = ", ".join("?" * len(urls))
        match = (
            self._value(
                "SELECT s.person_id FROM subscriptions s JOIN feeds f ON f.id = s.feed_id"
                f" WHERE s.user_id = ? AND f.url IN ({marks}) ORDER BY s.id LIMIT 1",
                [self.user_id, *urls],
            )
            if urls
            else None
        )
        if match is None:
            match = self._value(
                "SELECT id FROM people WHERE user_id = ? AND name = ? ORDER BY id LIMIT 1",
                [self.user_id, person["name"]],
            )
        if match is None:
            person_id = self._create_person(
                person["name"], now, auto_named=not person["named_by_user"], home_url=person["home_url"]
            )
            count["people_added"] += 1
        else:
            person_id = match
            count["people_matched"] += 1
        row = self._one("SELECT * FROM people WHERE id = ?", [person_id])
        notes = row["notes"]
        if person["notes"] and person["notes"] not in notes:
            notes = f"{notes}\n\n{person['notes']}" if notes else person["notes"]
        named = person["named_by_user"] and row["is_auto_named"]
        self.db.execute(
            "UPDATE people SET name = ?, is_auto_named = ?, home_url = coalesce(home_url, ?),"
            " avatar_url = coalesce(avatar_url, ?), notes = ?, is_muted = max(is_muted, ?) WHERE id = ?",
            [
                person["name"] if named else row["name"],
                0 if named else row["is_auto_named"],
                person["home_url"],
                person["avatar_url"],
                notes,
                int(person["is_muted"]),
                person_id,
            ],
        )
        for channel in person["channels"]:
            count["channels_added"] += self.db.execute(
                "INSERT OR IGNORE INTO channels (user_id, person_id, kind, value, label, source, source_url,"
                " found_at, is_verified, verified_at, is_dismissed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    self.user_id,
                    person_id,
                    channel["kind"],
                    channel["value"],
                    channel["label"],
                    channel["source"],
                    channel["source_url"],
                    channel["found_at"] or iso(now),
                    int(channel["is_verified"]),
                    channel["verified_at"],
                    int(channel["is_dismissed"]),
                ],
            ).rowcount
        preferred = person["preferred_channel"]
        if preferred:
            self.db.execute(
                "UPDATE people SET preferred_channel_id = (SELECT id FROM channels WHERE person_id = :person"
                " AND kind = :kind AND value = :value) WHERE id = :person AND preferred_channel_id IS NULL",
                {"person": person_id, "kind": preferred["kind"], "value": preferred["value"]},
            )
        key = f"import:{person_id}"
        for feed in person["feeds"]:
            source = FeedSource(feed["url"], feed["title"], feed["site_url"], tuple(feed["group"]), person_key=key)
            try:
                self._subscribe(source, now, {key: person_id})
                count["feeds_added"] += 1
            except FeedExistsError:
                pass  # followed already, maybe filed under someone else by the user: theirs to keep
            if feed["feed_title"]:
                self.db.execute(
                    "UPDATE feeds SET title = coalesce(title, ?) WHERE url = ?", [feed["feed_title"], feed["url"]]
                )
        return person_id

    def _import_entries(
        self, entries: list[Mapping], prepared: Prepared, now: datetime, count: dict
    ) -> dict[EntryKey, int]:
        feeds = {
            row["url"]: row["feed_id"]
            for row in self._all(
                "SELECT f.url, s.feed_id FROM subscriptions s JOIN feeds f ON f.id = s.feed_id WHERE s.user_id = ?",
                [self.user_id],
            )
        }
        ids: dict[EntryKey, int] = {}
        for entry in entries:
            key = (entry["feed_url"], entry["guid"])
            feed_id = feeds.get(entry["feed_url"])
            if feed_id is None:
                continue  # a feed the file does not subscribe to: nothing of it is the user's
            entry_id = self._value("SELECT id FROM entries WHERE feed_id = ? AND guid = ?", [feed_id, entry["guid"]])
            if entry_id is None:
                parsed, derived = prepared[key]
                seen = datetime.fromisoformat(entry["first_seen_at"]) if entry["first_seen_at"] else now
                insert_entries(self.db, feed_id, [(parsed, derived)], seen)
                entry_id = self._value(
                    "SELECT id FROM entries WHERE feed_id = ? AND guid = ?", [feed_id, entry["guid"]]
                )
                count["entries_added"] += 1
            ids[key] = entry_id
            if entry["is_read"] or entry["is_saved"]:
                changed = self.db.execute(
                    "INSERT INTO entry_states (user_id, entry_id, is_read, read_at, is_saved, saved_at)"
                    " VALUES (:user, :entry, :read, :read_at, :saved, :saved_at)"
                    " ON CONFLICT (user_id, entry_id) DO UPDATE SET"
                    " read_at = CASE WHEN is_read THEN read_at ELSE excluded.read_at END,"
                    " is_read = max(is_read, excluded.is_read),"
                    " saved_at = CASE WHEN is_saved THEN saved_at ELSE excluded.saved_at END,"
                    " is_saved = max(is_saved, excluded.is_saved)"
                    " WHERE is_read < excluded.is_read OR is_saved < excluded.is_saved",
                    {
                        "user": self.user_id,
                        "entry": entry_id,
                        "read": int(entry["is_read"]),
                        "read_at": entry["read_at"] if entry["is_read"] else None,
                        "saved": int(entry["is_saved"]),
                        "saved_at": entry["saved_at"] if entry["is_saved"] else None,
                    },
                ).rowcount
                count["states_set"] += changed
            watched = entry["watched"]
            if watched:
                self.db.execute(
                    "INSERT OR IGNORE INTO watches (user_id, entry_id, last_visit_at, created_at) VALUES (?, ?, ?, ?)",
                    [self.user_id, entry_id, watched["last_visit_at"] or iso(now), watched["created_at"] or iso(now)],
                )
        return ids

    def _import_conversation(
        self, talk: Mapping, person_ids: dict, entry_ids: dict[EntryKey, int], count: dict
    ) -> None:
        person_id = person_ids.get(talk["person"])
        if person_id is None:
            return
        exists = self._one(
            "SELECT 1 FROM conversations WHERE user_id = ? AND person_id = ? AND started_at = ?"
            " AND channel_kind = ? AND coalesce(entry_url, '') = coalesce(?, '')",
            [self.user_id, person_id, talk["started_at"], talk["channel_kind"], talk["entry_url"]],
        )
        if exists:
            return
        entry_id = entry_ids.get((talk["feed_url"], talk["guid"])) if talk["guid"] else None
        self.db.execute(
            "INSERT INTO conversations (user_id, person_id, entry_id, entry_url, entry_title, channel_kind,"
            " channel_value, started_at, status, note, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                self.user_id,
                person_id,
                entry_id,
                talk["entry_url"],
                talk["entry_title"],
                talk["channel_kind"],
                talk["channel_value"],
                talk["started_at"],
                talk["status"],
                talk["note"],
                talk["updated_at"] or talk["started_at"],
            ],
        )
        count["conversations_added"] += 1
