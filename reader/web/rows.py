"""What a post shows in a list row and on its page, computed in Python so that templates only print it.

A timeline page is 50 rows. Built by Jinja macros (a macro for the time, one for the reply
control, one a reply link, a url_for a link, filters for dates and hosts) the rows took 6.8 ms of
the page's ~10 on the benchmark database; as plain values here and one macro a row, they take
about a third of that (docs/design.md, "The web reader").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from flask import url_for

from ..models import Entry, TimelineItem
from ..reply import ReplyLink

_ID = 918273645  # a number no real path holds, to cut a built path around


class Paths:
    """The paths a page links to, for any id: url_for builds each endpoint's path once, then
    string formatting does the rest (url_for costs ~20 µs, and a page of rows asked for hundreds)."""

    def __init__(self) -> None:
        self._around: dict[tuple[str, str | None], list[str]] = {}

    def to(self, endpoint: str, **ids: int) -> str:
        """``url_for(endpoint, **ids)`` for no or one id."""
        if len(ids) > 1:
            raise TypeError("Paths.to takes no or one id")
        for key, value in ids.items():
            around = self._around.get((endpoint, key)) or self._build(endpoint, key)
            return str(int(value)).join(around)
        return (self._around.get((endpoint, None)) or self._build(endpoint, None))[0]

    def _build(self, endpoint: str, key: str | None) -> list[str]:
        built = url_for(endpoint, **({key: _ID} if key else {}))
        around = self._around[endpoint, key] = built.split(str(_ID))
        return around


@dataclass(frozen=True)
class Moment:
    """A post's <time>: when it sorts in the timeline, and what its tooltip says."""

    iso: str
    ago: str
    title: str
    future_title: str | None  # the "future date" badge's explanation, when the feed dates it ahead


@dataclass(frozen=True)
class ReplyAnchor:
    """One way to reply, as a link: where it goes and which reply page logs it."""

    kind: str
    label: str
    href: str | None  # None: nothing to open (shown as a label)
    reply_page: str  # the reply page, naming this way (data-reply-page)
    key: str  # the channel's id, or the kind: what the reply page's "via" names
    opens_elsewhere: bool  # another site or app: a new tab, no opener, no referrer
    is_private: bool
    hint: str | None


@dataclass(frozen=True)
class Row:
    """A post as a list or its page shows it."""

    item: TimelineItem
    path: str  # the post's page
    person_path: str
    mute_path: str
    reply_page: str
    when: Moment
    host: str  # the original's site, "Original on <host>"
    replies: tuple[ReplyAnchor, ...] | None  # None: this list shows no reply control (search)
    reply: ReplyAnchor | None  # the one-click reply: the first that opens
    other_replies: tuple[ReplyAnchor, ...]  # the reply menu: every way but that one


def rows_for(
    items: list[TimelineItem], replies: dict[int, list[ReplyLink]] | None, paths: Paths, now: datetime | None = None
) -> list[Row]:
    """The rows of a list; ``replies`` by entry id (``pages.replies_for``), or None for no reply control."""
    now = now or datetime.now(UTC)
    return [row_for(item, None if replies is None else replies.get(item.entry.id, []), paths, now) for item in items]


def row_for(item: TimelineItem, links: list[ReplyLink] | None, paths: Paths, now: datetime) -> Row:
    entry = item.entry
    path = paths.to("timeline.entry", entry_id=entry.id)
    reply_page = paths.to("conversations.reply", entry_id=entry.id)
    anchors = None if links is None else tuple(_anchor(link, path, reply_page) for link in links)
    first = next((anchor for anchor in anchors or () if anchor.href), None)
    return Row(
        item=item,
        path=path,
        person_path=paths.to("people.person", person_id=item.person_id),
        mute_path=paths.to("people.mute", person_id=item.person_id),
        reply_page=reply_page,
        when=moment(entry, now),
        host=hostname(entry.link),
        replies=anchors,
        reply=first,
        other_replies=tuple(anchor for anchor in anchors or () if anchor is not first),
    )


def reply_anchors(links: list[ReplyLink], entry_id: int, paths: Paths) -> list[ReplyAnchor]:
    """The reply page's links."""
    path = paths.to("timeline.entry", entry_id=entry_id)
    reply_page = paths.to("conversations.reply", entry_id=entry_id)
    return [_anchor(link, path, reply_page) for link in links]


def link_key(link: ReplyLink) -> str:
    """How the reply page's "via" names a way: the channel's id, or the kind for the post's comments."""
    return str(link.channel_id) if link.channel_id is not None else link.kind


def _anchor(link: ReplyLink, entry_path: str, reply_page: str) -> ReplyAnchor:
    key = link_key(link)
    href = link.url
    if href is not None and href.startswith("#"):  # a place on the post's page (its comments)
        href = entry_path + href
    return ReplyAnchor(
        kind=link.kind,
        label=link.label,
        href=href,
        reply_page=f"{reply_page}?via={quote(key, safe='')}",
        key=key,
        opens_elsewhere=href is not None and href.startswith("http"),
        is_private=link.is_private,
        hint=link.hint,
    )


def moment(entry: Entry, now: datetime) -> Moment:
    published = entry.published_at
    shown = f"Published {absolute_time(published)}" if published else "No date given"
    future = None
    if entry.is_future_dated:
        future = (
            f"The feed dates this post {absolute_time(published)}, in the future; it is shown when it was first seen."
        )
    return Moment(
        iso=entry.sort_at.isoformat(),
        ago=timeago(entry.sort_at, now),
        title=f"{shown} · fetched {absolute_time(entry.first_seen_at)}",
        future_title=future,
    )


def timeago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "never"
    now = now or datetime.now(UTC)
    seconds = (now - moment).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for size, unit in ((31_536_000, "y"), (2_592_000, "mo"), (604_800, "w"), (86_400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            amount = f"{int(seconds // size)} {unit}"
            return f"in {amount}" if future else f"{amount} ago"
    return "just now"


def absolute_time(moment: datetime | None) -> str:
    if not moment:
        return ""
    # Formatted by hand (strftime was a tenth of a timeline page's rows); stored times are in UTC already.
    m = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return f"{m.year:04}-{m.month:02}-{m.day:02} {m.hour:02}:{m.minute:02} UTC"


def hostname(url: str | None) -> str:
    if not url:
        return ""
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")
