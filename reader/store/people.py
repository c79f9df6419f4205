"""A user's people: who writes the feeds they follow, and what the user keeps about them.

A person lives until the user deletes them. Unsubscribing from their last
feed leaves them, with their notes, channels and conversations. Merging two
people joins all of it; deleting one unsubscribes their feeds.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ..errors import FeedNotFoundError, InvalidInputError, PersonNotFoundError
from ..models import PeopleCursor, PeoplePage, Person, PersonActivity, PersonName
from ..urls import typed_http_url
from .groups import GroupsMixin
from .rows import from_row, iso, parse_dt

MAX_NAME = 500
MAX_NOTES = 20_000
ACTIVITY_WEEKS = 52
RECENT_DAYS = 90
# "Posted after a long silence": a post in the last RETURN_WEEKS weeks after at
# least SILENCE_WEEKS weeks without any (counted in whole weeks, from the strip).
RETURN_WEEKS = 4
SILENCE_WEEKS = 8

_PERSON_SQL = "SELECT p.*, (SELECT count(*) FROM subscriptions s WHERE s.person_id = p.id) AS feed_count FROM people p"
ORDERS = ("name", "latest")
PAGE_SIZE = 100  # people a page of the people page: each row draws a year of activity
# When each person last posted, in any of their feeds ("" for never, so that it sorts last newest
# first): one lookup of entries_feed_timeline per feed.
_LAST_POST_COLUMN = (
    ", coalesce((SELECT max((SELECT max(sort_at) FROM entries WHERE feed_id = s.feed_id))"
    " FROM subscriptions s WHERE s.person_id = p.id), '') AS last_post"
)
_QUIET = (0,) * ACTIVITY_WEEKS
# week_number() in SQL: 2440587.5 is the Julian day of 1970-01-01, and weeks count from Monday 1970-01-05.
WEEK_SQL = "CAST((julianday({column}) - 2440587.5 - 4) / 7 AS INTEGER)"


class PeopleMixin(GroupsMixin):
    user_id: int

    # -- reading ----------------------------------------------------------------

    def list_people(self) -> list[Person]:
        """Everyone, in dictionary order (a walk of the people_sort index)."""
        rows = self._all(_PERSON_SQL + " WHERE p.user_id = ? ORDER BY p.sort_name, p.id", [self.user_id])
        return [from_row(Person, row) for row in rows]

    def list_people_names(self, limit: int) -> list[PersonName]:
        """The first ``limit`` people in dictionary order, by name only: the sidebar's links, a walk of
        the people_sort index (a sixth of what ``list_people`` costs with its counts and models)."""
        rows = self.db.conn.execute(
            "SELECT id, name FROM people WHERE user_id = ? ORDER BY sort_name, id LIMIT ?", [self.user_id, limit]
        )
        return [PersonName(*row) for row in rows]

    def count_people(self) -> int:
        return self._value("SELECT count(*) FROM people WHERE user_id = ?", [self.user_id])

    def get_person(self, person_id: int) -> Person:
        row = self._one(_PERSON_SQL + " WHERE p.user_id = ? AND p.id = ?", [self.user_id, person_id])
        if row is None:
            raise PersonNotFoundError(f"no person {person_id}")
        return from_row(Person, row)

    def latest_post_at(self, person_id: int) -> datetime | None:
        """When the person last posted, in any of their feeds the user follows (None: never)."""
        return parse_dt(
            self._value(
                "SELECT max((SELECT max(sort_at) FROM entries WHERE feed_id = s.feed_id)) FROM subscriptions s"
                " WHERE s.person_id = ? AND s.user_id = ?",
                [person_id, self.user_id],
            )
        )

    def list_people_page(
        self,
        now: datetime,
        *,
        order: str = "name",
        group_id: int | None = None,
        returned_only: bool = False,
        after: PeopleCursor | None = None,
        before: PeopleCursor | None = None,
        limit: int = PAGE_SIZE,
        cache: ActivityCache | None = None,
    ) -> PeoplePage:
        """A page of the people the user follows (or those with a feed in a group or its subgroups), with
        when and how often they post: the ``limit`` after the person ``after``, or before ``before``.
        Ordered by name (``sort_name``, then id) or by latest post (then by name), as the user chose:
        never by a score.

        Activity is counted for the people shown only, and ``cache`` keeps it between requests until a fetch
        stores something or the day changes; "posted after a long silence" needs everyone's, so that filter
        counts every feed (docs/design.md, "The people page").
        """
        if order not in ORDERS:
            raise InvalidInputError(f"order must be one of {', '.join(ORDERS)}")
        scope, params = " AND p.user_id = :user", {"user": self.user_id}
        if group_id is not None:
            scope += (
                " AND p.id IN (SELECT person_id FROM subscriptions WHERE user_id = :user"
                " AND group_id IN (SELECT value FROM json_each(:groups)))"
            )
            params["groups"] = json.dumps(self._group_and_descendants(group_id))
        cache = cache or ActivityCache()
        if returned_only:
            scope += " AND p.id IN (SELECT value FROM json_each(:returned))"
            params["returned"] = json.dumps(self._returned_people(cache.get(self, now)))
        people = f"SELECT p.*{_LAST_POST_COLUMN if order == 'latest' else ''} FROM people p WHERE 1{scope}"
        backward = before is not None
        where, order_by, cursor = _keyset(order, before if backward else after, backward)
        # How many people lie past the cursor, the way the page walks: by name a count of the index
        # range; by latest post a window over the same rows, as every last post is computed anyway.
        beyond = ", count(*) OVER () AS beyond" if order == "latest" else ""
        rows = self._all(
            f"SELECT *{beyond} FROM ({people}) WHERE {where} ORDER BY {order_by} LIMIT :limit",
            {**params, **cursor, "limit": limit},
        )
        total = self._value(f"SELECT count(*) FROM people p WHERE 1{scope}", params)
        if order == "latest":
            past = rows[0]["beyond"] if rows else 0
        elif cursor:
            past = self._value(f"SELECT count(*) FROM ({people}) WHERE {where}", {**params, **cursor})
        else:  # the first page: everyone lies ahead
            past = total
        if backward:
            rows.reverse()
        return PeoplePage(
            people=tuple(self._with_activity(rows, now, cache)),
            total=total,
            # Reading past the end gives no rows and starts at the total.
            start=max(0, past - len(rows) if backward else total - past),
            first=_cursor(rows[0]) if rows else None,
            last=_cursor(rows[-1]) if rows else None,
        )

    def _with_activity(self, rows: list[dict], now: datetime, cache: ActivityCache) -> list[PersonActivity]:
        """These people with their posting activity: their feeds' only, counted unless ``cache`` has them."""
        feeds_of: dict[int, list[int]] = {}
        for row in self._all(
            "SELECT person_id, feed_id FROM subscriptions WHERE user_id = ?"
            " AND person_id IN (SELECT value FROM json_each(?))",
            [self.user_id, json.dumps([row["id"] for row in rows])],
        ):
            feeds_of.setdefault(row["person_id"], []).append(row["feed_id"])
        activity = cache.get(self, now, [feed for feeds in feeds_of.values() for feed in feeds])
        found = []
        for row in rows:
            feeds = [activity.feeds[f] for f in feeds_of.get(row["id"], []) if f in activity.feeds]
            strip = _strip(feeds)
            last = max((f.last_at for f in feeds if f.last_at), default=None)
            found.append(
                PersonActivity(
                    person=from_row(Person, row, feed_count=len(feeds_of.get(row["id"], ()))),
                    last_post_at=parse_dt(last),
                    posts_90_days=sum(f.recent for f in feeds),
                    weeks=strip,
                    returned_after_silence=_returned(strip[::-1], any(f.has_older for f in feeds)),
                )
            )
        return found

    def _returned_people(self, activity: Activity) -> list[int]:
        """Everyone whose latest post came after a long silence."""
        feeds_of: dict[int, list[FeedActivity]] = {}
        for row in self._all("SELECT person_id, feed_id FROM subscriptions WHERE user_id = ?", [self.user_id]):
            if row["feed_id"] in activity.feeds:
                feeds_of.setdefault(row["person_id"], []).append(activity.feeds[row["feed_id"]])
        return [
            person
            for person, feeds in feeds_of.items()
            if _returned(_strip(feeds)[::-1], any(f.has_older for f in feeds))
        ]

    def feed_activity(self, now: datetime, feed_ids: list[int] | None = None) -> Activity:
        """Posts per calendar week (Monday to Sunday, by the timeline clock) of every feed (or of ``feed_ids``)
        over the last ``ACTIVITY_WEEKS`` weeks, posts since the start of the day ``RECENT_DAYS`` days ago, the
        latest post, and whether the feed posted before the strip begins. Not personal: the same for all users."""
        this_week = week_number(now)
        first_week = this_week - ACTIVITY_WEEKS + 1
        since = _week_start(first_week)
        recent = datetime.combine((now - timedelta(days=RECENT_DAYS)).date(), datetime.min.time(), tzinfo=UTC)
        params = {"since": iso(since), "recent": iso(recent), "ids": json.dumps(feed_ids)}
        if feed_ids is None:
            feeds_sql, entries_sql = "feeds f", "entries"
        else:
            # CROSS JOIN: from the few feeds to their entries (entries_feed_timeline), never a walk of
            # the whole year of everyone's entries.
            feeds_sql = "json_each(:ids) j CROSS JOIN feeds f ON f.id = j.value"
            entries_sql = "json_each(:ids) j CROSS JOIN entries ON feed_id = j.value"
        feeds: dict[int, FeedActivity] = {}
        for row in self._all(
            "SELECT f.id, (SELECT max(sort_at) FROM entries WHERE feed_id = f.id) AS last_at,"
            " EXISTS (SELECT 1 FROM entries WHERE feed_id = f.id AND sort_at < :since) AS has_older"
            f" FROM {feeds_sql}",
            params,
        ):
            feeds[row["id"]] = FeedActivity({}, 0, row["last_at"], bool(row["has_older"]))
        for row in self._all(
            f"SELECT feed_id, {WEEK_SQL.format(column='sort_at')} AS week, count(*) AS posts,"
            f" sum(sort_at >= :recent) AS recent FROM {entries_sql} WHERE sort_at >= :since GROUP BY feed_id, week",
            params,
        ):
            feed = feeds.get(row["feed_id"])
            if feed is not None:
                feed.weeks[row["week"]] = row["posts"]
                feed.recent += row["recent"]
        for feed in feeds.values():
            feed.strip = tuple(feed.weeks.get(week, 0) for week in range(first_week, this_week + 1))
        return Activity(this_week, feeds)

    def _activity_version(self) -> tuple:
        """Changes whenever a fetch stores something: the newest entry, the latest successful fetch."""
        row = self._one("SELECT (SELECT max(id) FROM entries) AS entry, (SELECT max(last_success_at) FROM feeds) AS ok")
        return (row["entry"], row["ok"])

    # -- changing ---------------------------------------------------------------

    def add_person(self, name: str, *, home_url: str | None = None) -> Person:
        """Someone the user adds by hand (feeds and channels come after)."""
        name = _name(name)
        with self._transaction():
            person_id = self._create_person(name, datetime.now(UTC), auto_named=False, home_url=_url(home_url))
        return self.get_person(person_id)

    def update_person(
        self,
        person_id: int,
        *,
        name: str | None = None,
        home_url: str | None = None,
        avatar_url: str | None = None,
        notes: str | None = None,
    ) -> Person:
        """Change what the user keeps about a person; None leaves a field as it is, "" clears a URL."""
        self.get_person(person_id)
        changes: dict[str, object] = {}
        if name is not None:
            changes.update(name=_name(name), is_auto_named=0)
        if home_url is not None:
            changes["home_url"] = _url(home_url)
        if avatar_url is not None:
            changes["avatar_url"] = _url(avatar_url)
        if notes is not None:
            changes["notes"] = notes.replace("\r\n", "\n").strip()[:MAX_NOTES]
        if changes:
            assignments = ", ".join(f"{column} = :{column}" for column in changes)
            with self._transaction():
                self.db.execute(
                    f"UPDATE people SET {assignments} WHERE id = :id AND user_id = :user",
                    {**changes, "id": person_id, "user": self.user_id},
                )
        return self.get_person(person_id)

    def rename_person(self, person_id: int, name: str) -> None:
        self.update_person(person_id, name=name)

    def merge_people(self, into_id: int, other_id: int) -> Person:
        """Make ``other_id`` part of ``into_id``: feeds, channels, notes and conversations join; then it goes."""
        into, other = self.get_person(into_id), self.get_person(other_id)
        if into.id == other.id:
            raise InvalidInputError("a person cannot be merged with themselves")
        notes = "\n\n".join(part for part in (into.notes, other.notes) if part)
        with self._transaction():
            move = {"into": into.id, "other": other.id, "user": self.user_id}
            self.db.execute(
                "UPDATE subscriptions SET person_id = :into WHERE person_id = :other AND user_id = :user", move
            )
            # A channel both had stays once, verified if either verified it.
            self.db.execute(
                "UPDATE channels SET is_verified = max(is_verified, (SELECT o.is_verified FROM channels o"
                " WHERE o.person_id = :other AND o.kind = channels.kind AND o.value = channels.value))"
                " WHERE person_id = :into AND EXISTS (SELECT 1 FROM channels o WHERE o.person_id = :other"
                " AND o.kind = channels.kind AND o.value = channels.value)",
                move,
            )
            self.db.execute("UPDATE OR IGNORE channels SET person_id = :into WHERE person_id = :other", move)
            self.db.execute("UPDATE conversations SET person_id = :into WHERE person_id = :other", move)
            self.db.execute(
                "UPDATE people SET notes = :notes, home_url = coalesce(home_url, :home),"
                " avatar_url = coalesce(avatar_url, :avatar), is_auto_named = 0,"
                " preferred_channel_id = coalesce(preferred_channel_id,"
                "   (SELECT id FROM channels WHERE id = :preferred AND person_id = :into))"
                " WHERE id = :into",
                {
                    **move,
                    "notes": notes[:MAX_NOTES],
                    "home": other.home_url,
                    "avatar": other.avatar_url,
                    "preferred": other.preferred_channel_id,
                },
            )
            self.db.execute("DELETE FROM people WHERE id = :other AND user_id = :user", move)
        return self.get_person(into.id)

    def move_feed_to_person(self, feed_id: int, person_id: int) -> None:
        """A feed belongs to someone else than the user thought: give it to ``person_id``."""
        self.get_person(person_id)
        self._subscription_row(feed_id)
        with self._transaction():
            self.db.execute(
                "UPDATE subscriptions SET person_id = ? WHERE user_id = ? AND feed_id = ?",
                [person_id, self.user_id, feed_id],
            )

    def split_feed(self, feed_id: int) -> Person:
        """Give a feed a person of its own, named after the feed; the old person keeps the rest."""
        row = self._subscription_row(feed_id)
        name = row["title"] or row["feed_title"] or row["url"]
        with self._transaction():
            person_id = self._create_person(_name(name), datetime.now(UTC), auto_named=False, home_url=row["site_url"])
            self.db.execute(
                "UPDATE subscriptions SET person_id = ? WHERE user_id = ? AND feed_id = ?",
                [person_id, self.user_id, feed_id],
            )
        return self.get_person(person_id)

    def mute_person(self, person_id: int, muted: bool = True) -> None:
        """Hide a person's posts from the timelines (never reorder them); their own page still shows them."""
        self.get_person(person_id)
        with self._transaction():
            self.db.execute(
                "UPDATE people SET is_muted = ? WHERE id = ? AND user_id = ?", [int(muted), person_id, self.user_id]
            )

    def _create_person(self, name: str, now: datetime, *, auto_named: bool = True, home_url: str | None = None) -> int:
        return self._insert(
            "INSERT INTO people (user_id, name, is_auto_named, home_url, created_at) VALUES (?, ?, ?, ?, ?)",
            [self.user_id, name[:MAX_NAME], int(auto_named), home_url, iso(now)],
        )

    def _subscription_row(self, feed_id: int) -> dict:
        row = self._one(
            "SELECT s.*, f.title AS feed_title, f.url, f.site_url FROM subscriptions s JOIN feeds f ON f.id = s.feed_id"
            " WHERE s.user_id = ? AND s.feed_id = ?",
            [self.user_id, feed_id],
        )
        if row is None:
            raise FeedNotFoundError(str(feed_id))
        return row


def _strip(feeds: list[FeedActivity]) -> tuple[int, ...]:
    """A person's posts per week: their feeds' added up."""
    if len(feeds) == 1:
        return feeds[0].strip
    return tuple(map(sum, zip(*(f.strip for f in feeds), strict=True))) if feeds else _QUIET


def _keyset(order: str, cursor: PeopleCursor | None, backward: bool) -> tuple[str, str, dict]:
    """The condition for the people after ``cursor`` (before, ``backward``) in ``order``, the ORDER BY
    that walks away from it, and its parameters."""
    # Row values compare like the ORDER BY: (sort_name, id) > (key, id) is "after" by name.
    name_cmp = "<" if backward else ">"
    if cursor is None:
        where = "1"
    elif order == "name":
        where = f"(sort_name, id) {name_cmp} (:key, :id)"
    else:  # newest first ("" for never-posted sorts last), then by name
        time_cmp = ">" if backward else "<"
        where = f"(last_post {time_cmp} :last OR (last_post = :last AND (sort_name, id) {name_cmp} (:key, :id)))"
    by_name = "sort_name DESC, id DESC" if backward else "sort_name, id"
    order_by = by_name if order == "name" else f"{'last_post' if backward else 'last_post DESC'}, {by_name}"
    params = {} if cursor is None else {"key": cursor.sort_name, "id": cursor.id, "last": cursor.last_post or ""}
    return where, order_by, params


def _cursor(row: dict) -> PeopleCursor:
    return PeopleCursor(row["sort_name"], row["id"], row.get("last_post"))


def _returned(strip: list[int], has_older: bool) -> bool:
    """A post in the last RETURN_WEEKS weeks, after SILENCE_WEEKS or more weeks with none (strip[0] = this week)."""
    latest = next((week for week, posts in enumerate(strip) if posts), None)
    if latest is None or latest >= RETURN_WEEKS:
        return False
    before = strip[latest + 1 : latest + 1 + SILENCE_WEEKS]
    if any(before):
        return False
    # Something earlier than the silence, or the person is simply new.
    return has_older or any(strip[latest + 1 + SILENCE_WEEKS :])


def _name(value: str) -> str:
    name = " ".join((value or "").split())[:MAX_NAME]
    if not name:
        raise InvalidInputError("a person needs a name")
    return name


def _url(value: str | None) -> str | None:
    """A URL the user typed for a person's page or picture: http(s) only; empty clears it."""
    if value is None or not value.strip():
        return None
    url = typed_http_url(value)
    if url is None:
        raise InvalidInputError(f"not an http(s) address: {value.strip()[:200]}")
    return url


def week_number(moment: datetime) -> int:
    """The Monday-to-Sunday week ``moment`` falls in, counted from the week of 1970-01-05."""
    return (moment.astimezone(UTC).date().toordinal() - date(1970, 1, 5).toordinal()) // 7


def _week_start(week: int) -> datetime:
    return datetime.combine(date.fromordinal(date(1970, 1, 5).toordinal() + 7 * week), datetime.min.time(), tzinfo=UTC)


@dataclass
class FeedActivity:
    weeks: dict[int, int]  # week number -> posts
    recent: int  # posts in the last RECENT_DAYS days
    last_at: str | None
    has_older: bool
    strip: tuple[int, ...] = ()  # posts per week of the strip, oldest first


@dataclass(frozen=True)
class Activity:
    this_week: int
    feeds: dict[int, FeedActivity]


class ActivityCache:
    """Feeds' activity (``feed_activity``), kept while the day and what fetches stored stay the same:
    each page's feeds as pages are shown, or every feed at once when everyone's is asked for (the
    "long silence" filter).

    One per web process (the app keeps it); the background fetch is another process, so the
    version is read from the database on every use (two index lookups), never assumed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._feeds: dict[int, FeedActivity] = {}
        self._complete = False  # every feed is in _feeds

    def get(self, store: PeopleMixin, now: datetime, feed_ids: list[int] | None = None) -> Activity:
        """The activity of ``feed_ids`` (at least: others may be there too), or of every feed."""
        key = (now.astimezone(UTC).date(), *store._activity_version())
        # One computation at a time: requests that miss together wait for it rather than each
        # repeat it (eight at once took eight times the memory, 106 MB for the web process).
        with self._lock:
            if key != self._key:
                self._key, self._feeds, self._complete = key, {}, False
            if feed_ids is None and not self._complete:
                self._feeds, self._complete = store.feed_activity(now).feeds, True
            elif not self._complete:
                missing = [feed for feed in feed_ids or () if feed not in self._feeds]
                if missing:
                    # A new dict, never one changed in place: an Activity handed out earlier stays whole.
                    self._feeds = {**self._feeds, **store.feed_activity(now, missing).feeds}
            return Activity(week_number(now), self._feeds)
