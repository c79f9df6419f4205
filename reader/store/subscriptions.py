"""A user's subscriptions: which feeds they follow, whose each one is, and where it is filed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from ..errors import FeedExistsError, FeedNotFoundError
from ..models import Feed, FeedSource, Subscription
from ..urls import site_key, stored_form
from .channels import ChannelsMixin
from .groups import GroupsMixin
from .rows import FEED_URL_FORMS, from_row, iso, same_feed


@dataclass(frozen=True)
class ImportReport:
    added: int
    existing: int
    groups: int


_SUBSCRIPTION_SQL = """
    SELECT f.*, s.person_id, p.name AS person_name, p.home_url AS person_home_url, s.title AS sub_title, s.group_id
    FROM subscriptions s JOIN feeds f ON f.id = s.feed_id JOIN people p ON p.id = s.person_id
"""


class SubscriptionsMixin(ChannelsMixin, GroupsMixin):
    user_id: int

    def add_feed(
        self, url: str, *, title: str | None = None, site_url: str | None = None, group_path: tuple[str, ...] = ()
    ) -> Subscription:
        """Subscribe to ``url``; raise ``FeedExistsError`` if already subscribed."""
        with self._transaction():
            self._subscribe(FeedSource(url, title, site_url, group_path), datetime.now(UTC), self._people_by_site())
        return self.get_subscription(url)

    def add_feeds(self, sources: Iterable[FeedSource]) -> ImportReport:
        """Subscribe to many feeds in one transaction: all of them, or none on error.

        Feeds already followed are left as they are, so importing a file twice changes nothing.
        """
        now = datetime.now(UTC)
        added = existing = 0
        with self._transaction():
            groups_before = self._count_groups()
            people = self._people_by_site()
            for source in sources:
                try:
                    self._subscribe(source, now, people)
                    added += 1
                except FeedExistsError:
                    existing += 1
            groups = self._count_groups() - groups_before
        return ImportReport(added, existing, groups)

    def _count_groups(self) -> int:
        return self._value("SELECT count(*) FROM groups WHERE user_id = ?", [self.user_id])

    def _people_by_site(self) -> dict[str, int]:
        """The user's people by their home page's site: a new feed from that site is theirs too."""
        rows = self._all("SELECT id, home_url FROM people WHERE user_id = ? AND home_url IS NOT NULL", [self.user_id])
        return {"site:" + site_key(row["home_url"]): row["id"] for row in rows}

    def _person_for(self, source: FeedSource, now: datetime, people: dict[str, int]) -> int:
        """The person a new subscription belongs to: one the file or the site names, else someone new."""
        keys = [source.person_key] if source.person_key else []
        if source.site_url:
            keys.append("site:" + site_key(source.site_url))
        for key in keys:
            if key in people:
                return people[key]
        # Named for now from what we know, and from the feed's author once
        # fetched (feeds.py), unless the file named the person.
        name = source.person_name or source.title or urlsplit(source.url).hostname or source.url
        person_id = self._create_person(name, now, auto_named=source.person_name is None, home_url=source.site_url)
        for key in keys:
            people.setdefault(key, person_id)
        return person_id

    def _subscribe(self, source: FeedSource, now: datetime, people: dict[str, int]) -> None:
        # A feed is known by its address in one form (urls.feed_url); one stored before that rule,
        # in another form, is still found by the form it was given in.
        feed_id = self._value(f"SELECT id FROM feeds WHERE url IN {FEED_URL_FORMS}", same_feed(source.url))
        if feed_id is None:
            feed_id = self._insert(
                "INSERT INTO feeds (url, title, site_url, created_at, scheme_assumed) VALUES (?, ?, ?, ?, ?)",
                [stored_form(source.url), source.title, source.site_url, iso(now), source.scheme_assumed],
            )
        elif self._one("SELECT 1 FROM subscriptions WHERE user_id = ? AND feed_id = ?", [self.user_id, feed_id]):
            raise FeedExistsError(source.url)
        elif not source.scheme_assumed:
            # Someone gives its scheme: https is no longer a guess that http may replace.
            self.db.execute("UPDATE feeds SET scheme_assumed = 0 WHERE id = ?", [feed_id])
        person_id = self._person_for(source, now, people)
        group_id = self._ensure_group(source.group_path, now)
        self.db.execute(
            "INSERT INTO subscriptions (user_id, feed_id, person_id, group_id, title, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [self.user_id, feed_id, person_id, group_id, source.title, iso(now)],
        )

    def remove_feed(self, url: str) -> None:
        """Unsubscribe. The feed and its entries go too once nobody follows it; the person stays."""
        with self._transaction():
            row = self._one(
                "SELECT s.id, s.feed_id FROM subscriptions s JOIN feeds f ON f.id = s.feed_id"
                f" WHERE f.url IN {FEED_URL_FORMS} AND s.user_id = ?",
                [*same_feed(url), self.user_id],
            )
            if row is None:
                raise FeedNotFoundError(url)
            self.db.execute("DELETE FROM subscriptions WHERE id = ?", [row["id"]])
            self.db.execute(
                "DELETE FROM entry_states WHERE user_id = ? AND entry_id IN (SELECT id FROM entries WHERE feed_id = ?)",
                [self.user_id, row["feed_id"]],
            )
            self.db.execute(
                "DELETE FROM feeds WHERE id = ? AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE feed_id = ?)",
                [row["feed_id"], row["feed_id"]],
            )

    def delete_person(self, person_id: int) -> list[str]:
        """Delete a person and everything kept about them, unsubscribing their feeds. Returns those feeds' URLs."""
        self.get_person(person_id)
        urls = [
            row["url"]
            for row in self._all(
                "SELECT f.url FROM subscriptions s JOIN feeds f ON f.id = s.feed_id"
                " WHERE s.person_id = ? AND s.user_id = ?",
                [person_id, self.user_id],
            )
        ]
        with self._transaction():
            for url in urls:
                self.remove_feed(url)
            # Channels and conversations go with the person (ON DELETE CASCADE).
            self.db.execute("DELETE FROM people WHERE id = ? AND user_id = ?", [person_id, self.user_id])
        return urls

    def list_subscriptions(self, *, person_id: int | None = None) -> list[Subscription]:
        """Every feed the user follows, or one person's."""
        where, params = " WHERE s.user_id = ?", [self.user_id]
        if person_id is not None:
            where, params = where + " AND s.person_id = ?", params + [person_id]
        rows = self._all(_SUBSCRIPTION_SQL + where + " ORDER BY lower(coalesce(s.title, f.title, f.url)), f.id", params)
        paths = self._group_paths()
        return [self._subscription(row, paths) for row in rows]

    def get_subscription(self, url: str) -> Subscription:
        row = self._one(
            _SUBSCRIPTION_SQL + f" WHERE s.user_id = ? AND f.url IN {FEED_URL_FORMS}", [self.user_id, *same_feed(url)]
        )
        if row is None:
            raise FeedNotFoundError(url)
        return self._subscription(row, self._group_paths())

    def get_subscription_by_feed_id(self, feed_id: int) -> Subscription:
        row = self._one(_SUBSCRIPTION_SQL + " WHERE s.user_id = ? AND f.id = ?", [self.user_id, feed_id])
        if row is None:
            raise FeedNotFoundError(str(feed_id))
        return self._subscription(row, self._group_paths())

    def rename_subscription(self, feed_id: int, title: str | None) -> None:
        """The user's own name for a feed; empty goes back to the feed's title."""
        self.get_subscription_by_feed_id(feed_id)
        with self._transaction():
            self.db.execute(
                "UPDATE subscriptions SET title = ? WHERE user_id = ? AND feed_id = ?",
                [title or None, self.user_id, feed_id],
            )

    def move_subscription(self, feed_id: int, group_path: tuple[str, ...]) -> None:
        """File a feed under a group (created if needed); an empty path takes it out of every group."""
        self.get_subscription_by_feed_id(feed_id)
        with self._transaction():
            group_id = self._ensure_group(group_path, datetime.now(UTC))
            self.db.execute(
                "UPDATE subscriptions SET group_id = ? WHERE user_id = ? AND feed_id = ?",
                [group_id, self.user_id, feed_id],
            )
            self._drop_empty_groups()

    def _subscription(self, row: dict, paths: dict[int, tuple[str, ...]]) -> Subscription:
        return from_row(
            Subscription,
            row,
            feed=from_row(Feed, row),
            user_id=self.user_id,
            title=row["sub_title"],
            group_path=paths.get(row["group_id"], ()) if row["group_id"] else (),
        )
