"""Plain data passed between the stages: fetch → parse → store → render.

Types are named for where the data comes from: ``Parsed*`` is untrusted
(straight from the network), ``Feed``/``Entry`` come from the database,
``FeedSource`` from an OPML file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple


@dataclass(frozen=True)
class FeedSource:
    """One subscription read from OPML (or typed by a user)."""

    url: str
    title: str | None = None
    site_url: str | None = None
    # Folder path from the outermost folder inwards, e.g. ("Friends", "Poets").
    group_path: tuple[str, ...] = ()
    # Feeds of one file with the same key belong to one person (opml.py says how
    # keys are made); person_name is set when the file names that person.
    person_key: str | None = None
    person_name: str | None = None
    # Given without a scheme and taken as https: http is tried if https does not connect.
    scheme_assumed: bool = False


@dataclass(frozen=True)
class FetchResult:
    """What the fetcher got for one URL.

    ``status`` is ``"ok"`` (``content`` holds the body) or ``"not_modified"``
    (a 304, no body). HTTP errors are raised as ``FetchError`` instead.
    """

    url: str  # the URL asked for
    final_url: str  # after redirects
    status: str
    http_status: int
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    # Set when every redirect on the way was permanent (301/308): the feed moved.
    permanent_url: str | None = None


@dataclass(frozen=True)
class Enclosure:
    url: str
    type: str | None = None
    length: int | None = None


@dataclass(frozen=True)
class ParsedEntry:
    """One entry as the feed gave it. HTML fields are NOT sanitized yet."""

    guid: str  # identity within the feed: id, else link, else a content hash
    title: str | None = None
    link: str | None = None
    author_name: str | None = None
    author_email: str | None = None
    author_url: str | None = None
    summary: str | None = None  # raw HTML
    content: str | None = None  # raw HTML
    published_at: datetime | None = None
    updated_at: datetime | None = None
    comments_url: str | None = None  # HTML page with the comments
    comments_feed_url: str | None = None  # feed of the comments
    comment_count: int | None = None
    enclosures: tuple[Enclosure, ...] = ()
    base_url: str | None = None  # what relative URLs in the HTML resolve against
    # Other identities this entry may have been stored under (see parse._finish, "Entry identity").
    other_guids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedFeed:
    url: str
    title: str | None = None
    site_url: str | None = None
    author_name: str | None = None
    entries: tuple[ParsedEntry, ...] = ()
    warnings: tuple[str, ...] = ()  # degraded input we carried on with
    # The feed's own author (RSS managingEditor/itunes:owner, Atom author, JSON Feed authors[0]).
    author_email: str | None = None
    author_url: str | None = None
    # Minutes between changes, by the feed's own word (RSS <ttl>, sy:updatePeriod/Frequency).
    refresh_minutes: int | None = None


@dataclass(frozen=True)
class EntryDerived:
    """What storing an entry needs besides the entry: computed off the main thread."""

    digest: str  # content hash: same guid, different digest = the entry changed
    text: str  # plain text for the search index
    excerpt: str  # plain-text start, for the timeline


@dataclass(frozen=True)
class PreparedFeed:
    """A parsed feed with ``derived[i]`` for ``parsed.entries[i]``."""

    parsed: ParsedFeed
    derived: tuple[EntryDerived, ...]


@dataclass(frozen=True)
class Feed:
    """A feed as stored, with its fetch state."""

    id: int
    url: str
    title: str | None
    site_url: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    status: str  # new | ok | not_modified | error | gone
    http_status: int | None
    last_error: str | None
    error_count: int
    last_fetched_at: datetime | None
    last_success_at: datetime | None
    next_fetch_at: datetime | None
    wait_until: datetime | None  # Retry-After or error backoff
    created_at: datetime
    # The feed's own word on its pace (RSS <ttl>, sy:update*), in minutes: see schedule.py.
    refresh_hint_minutes: int | None = None
    # Its address came without a scheme and https has not worked yet (FeedSource.scheme_assumed).
    scheme_assumed: bool = False


@dataclass(frozen=True)
class Subscription:
    """A feed as one user follows it: whose it is and where it is filed."""

    feed: Feed
    user_id: int
    person_id: int
    person_name: str
    title: str | None  # the user's name for the feed, else the feed's
    group_id: int | None
    group_path: tuple[str, ...]
    person_home_url: str | None = None

    @property
    def display_title(self) -> str:
        return self.title or self.feed.title or self.feed.url


@dataclass(frozen=True)
class Entry:
    id: int
    feed_id: int
    guid: str
    title: str | None
    link: str | None
    author_name: str | None
    author_email: str | None
    author_url: str | None
    excerpt: str
    published_at: datetime | None
    updated_at: datetime | None
    first_seen_at: datetime
    sort_at: datetime  # the timeline clock, see docs/design.md
    comments_url: str | None
    comments_feed_url: str | None
    comment_count: int | None
    enclosures: tuple[Enclosure, ...]

    @property
    def is_future_dated(self) -> bool:
        return self.published_at is not None and self.published_at > self.first_seen_at


@dataclass(frozen=True)
class UpdateResult:
    url: str
    status: str  # ok | not_modified | unchanged | error | gone | skipped
    new: int = 0
    updated: int = 0
    error: str | None = None


class Position(NamedTuple):
    """A place in a timeline: the timeline clock, then the entry id (the order of every list)."""

    sort_at: datetime
    id: int


@dataclass(frozen=True)
class TimelineItem:
    """An entry as one user sees it in a list: whose it is and what they did with it."""

    entry: Entry
    person_id: int
    person_name: str
    feed_title: str | None
    feed_url: str
    is_read: bool
    is_saved: bool
    # Search only: plain text with MATCH_START/MATCH_END around the matched terms.
    snippet: str | None = None

    @property
    def position(self) -> Position:
        return Position(self.entry.sort_at, self.entry.id)


MATCH_START = "\x02"
MATCH_END = "\x03"


@dataclass(frozen=True)
class EntryContent:
    """The stored HTML of an entry; ``content_html`` is the sanitized cache (None until first shown)."""

    summary: str | None
    content: str | None
    base_url: str | None
    content_html: str | None


@dataclass(frozen=True)
class Person:
    """Someone the user follows: the main object of Causerie, kept until the user deletes them."""

    id: int
    name: str
    feed_count: int = 0
    home_url: str | None = None
    avatar_url: str | None = None  # shown only if the user lets remote pictures of people load
    notes: str = ""
    preferred_channel_id: int | None = None
    is_muted: bool = False
    sort_name: str = ""  # the name as lists order it (collation.sort_key), kept by the database


@dataclass(frozen=True)
class PersonActivity:
    """A person on the people page: when they last wrote and how often, never a score."""

    person: Person
    last_post_at: datetime | None
    posts_90_days: int
    weeks: tuple[int, ...]  # posts per week, oldest first, the last 52 weeks
    returned_after_silence: bool  # the latest post came after a long silence

    @property
    def posts_52_weeks(self) -> int:
        return sum(self.weeks)


class PersonName(NamedTuple):
    """What a link to a person needs (the sidebar's list)."""

    id: int
    name: str


class PeopleCursor(NamedTuple):
    """A place in the list of people: the sort key and id of a person, and in the "latest" order
    when they last posted (the stored timeline clock as text, "" for never)."""

    sort_name: str
    id: int
    last_post: str | None = None


@dataclass(frozen=True)
class PeoplePage:
    """A page of the people list, and where it stands in the whole list."""

    people: tuple[PersonActivity, ...]
    total: int  # everyone the filters keep, on all pages
    start: int  # how many of them come before this page
    first: PeopleCursor | None  # the first and last person shown, where the pages before and after end
    last: PeopleCursor | None

    @property
    def has_next(self) -> bool:
        return self.start + len(self.people) < self.total


@dataclass(frozen=True)
class Group:
    id: int
    name: str
    parent_id: int | None
    path: tuple[str, ...]
    feed_count: int = 0

    @property
    def label(self) -> str:
        return " / ".join(self.path)


@dataclass(frozen=True)
class User:
    id: int
    name: str
    created_at: datetime
    show_avatars: bool = False
    fediverse_instance: str | None = None  # where the user's own fediverse account lives
    password_hash: str | None = field(default=None, repr=False)  # None: the local user, no account yet

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None


@dataclass(frozen=True)
class Mute:
    id: int
    phrase: str
    created_at: datetime


@dataclass(frozen=True)
class FoundChannel:
    """A way to reach someone that discovery found (or the user typed), before it is stored."""

    kind: str
    value: str  # canonical (channels.parse_channel)
    source: str  # user | feed | home_page | profile
    source_url: str | None = None  # the document it was found in
    is_verified: bool = False  # a rel="me" profile that links back to the person's home page


@dataclass(frozen=True)
class Channel:
    id: int
    person_id: int
    kind: str
    value: str
    label: str | None
    source: str
    source_url: str | None
    found_at: datetime
    is_verified: bool
    verified_at: datetime | None
    is_preferred: bool = False


@dataclass(frozen=True)
class ReachSources:
    """What is already known about where a person can be reached, before anything is fetched."""

    home_urls: tuple[str, ...]  # the person's home page, then their feeds' sites
    feed_emails: tuple[str, ...]  # the feeds' own and their posts' author addresses
    feed_author_urls: tuple[str, ...]


@dataclass(frozen=True)
class Conversation:
    """A reply the user says they wrote: to whom, about which post, by which channel, and how it stands."""

    id: int
    person_id: int
    person_name: str
    entry_id: int | None  # None once the post is gone; its title and address stay
    entry_url: str | None
    entry_title: str | None
    channel_kind: str
    channel_value: str | None
    started_at: datetime
    status: str  # waiting | answered | closed
    note: str
    updated_at: datetime


@dataclass(frozen=True)
class CommentFeed:
    """A post's comment feed, fetched through the same pipeline as feeds."""

    id: int
    url: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    status: str  # new | ok | error
    last_error: str | None
    error_count: int
    last_fetched_at: datetime | None
    next_fetch_at: datetime | None


@dataclass(frozen=True)
class Comment:
    id: int
    author_name: str | None
    author_url: str | None
    link: str | None
    published_at: datetime | None
    sort_at: datetime
    is_new: bool = False  # newer than the user's last visit to a watched thread


@dataclass(frozen=True)
class WatchedThread:
    entry_id: int
    entry_title: str | None
    person_name: str
    last_visit_at: datetime
    new_comments: int
