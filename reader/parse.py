"""Feed bytes → ``ParsedFeed``. feedparser is used here and only here.

feedparser is always given bytes, never a URL: given a string it may open
files or fetch over the network. Its own sanitizer and relative-URI rewriting
are turned off because they cost ~40x the parse itself; entry HTML is
sanitized by ``sanitize.clean_html`` before it reaches a browser (see
docs/design.md).
"""

from __future__ import annotations

import calendar
import hashlib
import html
import logging
import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from xml.sax.expatreader import ExpatParser

import feedparser
import feedparser.api

from .budget import TIME_BUDGET, time_budget
from .errors import ParseError
from .jsonfeed import looks_like_json, parse_json_feed
from .models import Enclosure, ParsedEntry, ParsedFeed
from .sanitize import to_text
from .schedule import document_hint_minutes
from .urls import http_url
from .xmlfeed import Declined, read_feed

log = logging.getLogger(__name__)

MAX_ENTRIES = 500  # per feed; the newest in document order are kept
MAX_TITLE = 1_000
MAX_NAME = 500
MAX_HTML = 1_000_000  # characters of summary or content
MAX_ENCLOSURES = 20

# feedparser flags these but the document is still usable (reader's policy).
_HARMLESS_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
# A numeric character reference, e.g. &#233; or &#xE9; (see _replace_bad_char_refs).
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")
# RSS <author>/<managingEditor>: "email" or "email (Name)" (see _author).
_RSS_AUTHOR = re.compile(r"(?P<email>[^\s()<>@]+@[^\s()<>@]+\.[^\s()<>@]+)(?:\s*\((?P<name>[^()]*)\))?")


class _BufferedExpatParser(ExpatParser):
    """expat with ``buffer_text`` on: one character-data callback per text run.

    Without it expat reports text between every entity (``&lt;p&gt;`` is three
    callbacks), and feedparser's Python handler runs for each: a quarter of
    parse time on HTML-heavy feeds (benchmarks/parse_cost.py). feedparser
    joins the pieces anyway, so the result is the same.
    """

    def reset(self) -> None:
        super().reset()
        self._parser.buffer_text = True
        self._parser.buffer_size = 1 << 16


def create_parser(*args, **kwargs) -> ExpatParser:
    """SAX driver entry point: ``xml.sax.make_parser`` calls this by module name."""
    return _BufferedExpatParser(*args, **kwargs)


# feedparser asks xml.sax for a driver from this list before the default one.
if __name__ not in feedparser.api.PREFERRED_XML_PARSERS:
    feedparser.api.PREFERRED_XML_PARSERS.insert(0, __name__)


def parse_feed(
    content: bytes,
    url: str,
    headers: dict[str, str] | None = None,
    *,
    budget: float = TIME_BUDGET,
    fast: bool = True,
) -> ParsedFeed:
    """Parse a feed document (RSS, Atom or JSON Feed) fetched from ``url``.

    Well-formed RSS 2.0 and Atom 1.0 are read with lxml (``xmlfeed``), to the same result;
    ``fast=False`` gives every XML document to feedparser (the reference the tests compare with).
    """
    with time_budget(budget, url):
        if looks_like_json(content):  # a JSON Feed, or JSON that says what is wrong with it
            parsed = parse_json_feed(content, url)
        else:
            parsed = _parse_xml(content, url, headers or {}, fast=fast)
    return _finish(parsed)


def _parse_xml(content: bytes, url: str, headers: dict[str, str], *, fast: bool = True) -> ParsedFeed:
    response_headers = {"content-location": url}
    if "content-type" in headers:
        response_headers["content-type"] = headers["content-type"]
    content = _replace_bad_char_refs(content)
    d = None
    if fast:
        try:
            d = read_feed(content, url, response_headers)
        except Declined as exc:
            log.debug("feedparser reads %s: %s", url, exc)
    if d is None:
        try:
            d = feedparser.parse(
                content, response_headers=response_headers, sanitize_html=False, resolve_relative_uris=False
            )
        except (RecursionError, ValueError, LookupError) as exc:
            raise ParseError(url, "unreadable feed") from exc
    warnings: list[str] = []
    # A document feedparser names no format for (RSS 1.0 under an old or misspelt namespace, an RDF
    # or <channel> root of its own) is still a feed when it has items: they are read, and said so.
    unnamed = not d.get("version")
    if unnamed and d.get("entries"):
        warnings.append("not a format feedparser names; its items were read all the same")
    if d.get("bozo"):
        exc = d.get("bozo_exception")
        if unnamed and not d.get("entries"):
            raise ParseError(url, "not a feed") from exc if isinstance(exc, Exception) else None
        if isinstance(exc, _HARMLESS_BOZO):
            # Usable, but still degraded input: STYLE.md's bozo policy says
            # "warning, carry on" (e.g. "document declared as utf-8, but parsed
            # as windows-1252"). This used to be dropped silently.
            warnings.append(str(exc))
        else:
            warnings.append(f"malformed feed, parsed leniently: {exc}")
    elif unnamed and not d.get("entries"):
        raise ParseError(url, "not a feed")
    feed = d.get("feed", {})
    entries = []
    for index, raw in enumerate(d.get("entries", [])[:MAX_ENTRIES]):
        try:
            entries.append(_entry(raw, url))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            warnings.append(f"entry {index} skipped: {exc!r}")
    if d.get("entries") and not entries:
        raise ParseError(url, "every entry was unreadable")
    author_name, author_email = _author(feed)
    return ParsedFeed(
        url=url,
        title=_text(feed.get("title_detail"), feed.get("title")),
        site_url=http_url(feed.get("link"), url),
        author_name=author_name,
        entries=tuple(entries),
        warnings=tuple(warnings),
        author_email=author_email,
        author_url=http_url((feed.get("author_detail") or {}).get("href"), url),
        refresh_minutes=document_hint_minutes(
            feed.get("ttl"), feed.get("sy_updateperiod"), feed.get("sy_updatefrequency")
        ),
    )


def _entry(raw: dict, feed_url: str) -> ParsedEntry:
    content_detail = _best_content(raw.get("content") or [])
    summary_detail = raw.get("summary_detail") or {}
    content = _as_html(content_detail) if content_detail else None
    summary = _as_html(summary_detail) if summary_detail else None
    if summary is not None and summary == content:
        summary = None  # feedparser copies Atom content into summary
    base = content_detail.get("base") if content_detail else summary_detail.get("base")
    link = http_url(raw.get("link"), feed_url)
    author_name, author_email = _author(raw)
    comments_url, comments_feed_url, count = _replies(raw, feed_url)
    return ParsedEntry(
        guid=(raw.get("id") or "").strip() or (link or ""),
        title=_text(raw.get("title_detail"), raw.get("title")),
        link=link,
        author_name=author_name,
        author_email=author_email,
        author_url=http_url((raw.get("author_detail") or {}).get("href"), feed_url),
        summary=summary,
        content=content,
        # dict.get: feedparser's own get() maps a missing updated_parsed to
        # published_parsed, with a DeprecationWarning.
        published_at=_date(dict.get(raw, "published_parsed") or dict.get(raw, "updated_parsed")),
        updated_at=_date(dict.get(raw, "updated_parsed")),
        comments_url=comments_url,
        comments_feed_url=comments_feed_url,
        comment_count=count,
        enclosures=_enclosures(raw, feed_url),
        base_url=http_url(base, feed_url) or link or feed_url,
    )


def _replace_bad_char_refs(content: bytes) -> bytes:
    """Rewrite references to a surrogate or past U+10FFFF as U+FFFD.

    expat rejects them, which sends the feed to feedparser's lenient parser,
    and that one turns each reference into text with chr(n).encode("utf-8"):
    a UnicodeEncodeError (or ValueError) that made the whole feed unreadable
    for one bad character. U+FFFD is what an HTML parser shows for them too.
    """
    if b"&#" not in content:
        return content
    return _CHAR_REF.sub(_replace_char_ref, content)


def _replace_char_ref(match: re.Match[bytes]) -> bytes:
    hex_digits, digits = match.groups()
    number = int(hex_digits, 16) if hex_digits else int(digits)
    return b"&#xFFFD;" if 0xD800 <= number <= 0xDFFF or number > 0x10FFFF else match.group()


def _author(raw: dict) -> tuple[str | None, str | None]:
    """The author's name and email, from an entry or from the feed."""
    detail = raw.get("author_detail") or {}
    name, email = detail.get("name") or raw.get("author"), detail.get("email")
    # With both <dc:creator> and <author>, author_detail is the creator (a
    # name only) and the email sits in a second item of ``authors``.
    for other in raw.get("authors") or []:
        email = email or other.get("email")
    # feedparser's email pattern stops a top-level domain at four letters:
    # "ana@ana.social (Ana)" came out as email "ana@ana.soci", name "al (Ana".
    # Read RSS's "email (Name)" strings here instead.
    text = raw.get("author")
    match = _RSS_AUTHOR.fullmatch(text.strip()) if isinstance(text, str) else None
    if match:
        if detail.get("email"):  # then detail was parsed from this string
            name = match["name"] or text
        email = match["email"]
    return _plain(name), _plain(email)


def _best_content(contents: list[dict]) -> dict | None:
    """Prefer HTML content over plain text when a feed gives several."""
    for item in contents:
        if item.get("type") in _HTML_TYPES:
            return item
    return contents[0] if contents else None


def _as_html(detail: dict) -> str | None:
    value = detail.get("value")
    if not isinstance(value, str) or not value.strip():
        return None
    if detail.get("type") in _HTML_TYPES:
        return value
    # Plain text: escape it, and keep its paragraphs.
    paragraphs = [p.strip() for p in value.split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)


def _replies(raw: dict, feed_url: str) -> tuple[str | None, str | None, int | None]:
    """Where the conversation about an entry lives (RSS comments, wfw, Atom threading)."""
    page = http_url(raw.get("comments"), feed_url)
    feed = http_url(raw.get("wfw_commentrss"), feed_url)
    count = _int(raw.get("slash_comments")) if raw.get("slash_comments") is not None else None
    for link in raw.get("links") or []:
        if link.get("rel") != "replies":
            continue
        href = http_url(link.get("href"), feed_url)
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        if kind in _HTML_TYPES and page is None:
            page = href
        elif (kind in _FEED_TYPES or kind.endswith("+xml")) and feed is None:
            feed = href
        if count is None and (link.get("count") or link.get("thr:count")) is not None:
            count = _int(link.get("count") or link.get("thr:count"))
    if raw.get("thr_total") is not None:
        count = _int(raw.get("thr_total"))
    return page, feed, count


def _enclosures(raw: dict, feed_url: str) -> tuple[Enclosure, ...]:
    found: dict[str, Enclosure] = {}
    for link in raw.get("links") or []:
        if link.get("rel") != "enclosure":
            continue
        url = http_url(link.get("href"), feed_url)
        if url and url not in found:
            length = _int(link.get("length"))
            found[url] = Enclosure(url, _plain(link.get("type")), length if length and length > 0 else None)
    return tuple(found.values())[:MAX_ENCLOSURES]


def _text(detail: dict | None, fallback: object) -> str | None:
    """A title as plain text, whatever markup the feed put in it."""
    value = (detail or {}).get("value", fallback)
    if not isinstance(value, str):
        return None
    if (detail or {}).get("type") in _HTML_TYPES:
        value = to_text(value)
    return _plain(value)


def _plain(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None


def _int(value: object) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 2**31 else None


def _date(value: object) -> datetime | None:
    """feedparser's struct_time is already UTC."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _finish(parsed: ParsedFeed) -> ParsedFeed:
    """Make a parsed feed safe to store: identities, caps, repaired text.

    Shared by every format so the storage rules hold whatever the source.
    """
    entries: list[ParsedEntry] = []
    seen: set[str] = set()
    for entry in _told_apart([_repair_entry(entry) for entry in parsed.entries[:MAX_ENTRIES]]):
        if entry.guid in seen:  # the same id twice in one document: keep the first
            continue
        seen.add(entry.guid)
        entries.append(entry)
    return ParsedFeed(
        url=parsed.url,
        title=_cap(repair_text(parsed.title), MAX_TITLE),
        site_url=_storable_url(parsed.site_url),
        author_name=_cap(repair_text(parsed.author_name), MAX_NAME),
        entries=tuple(entries),
        warnings=parsed.warnings,
        author_email=_cap(repair_text(parsed.author_email), MAX_NAME),
        author_url=_storable_url(parsed.author_url),
        refresh_minutes=parsed.refresh_minutes,
    )


def _told_apart(entries: list[ParsedEntry]) -> list[ParsedEntry]:
    """Entries identified by their link, when several share one link, are told apart by their title
    and date: posts that all point at one page (or the home page) are several posts, not one.

    Each such entry also carries the identity it would have in the other case, so that a post
    stored under one is found under the other when, in a later fetch, its link is shared no more
    (or newly shared): it is updated, never stored twice.
    """
    shared = Counter(entry.link for entry in entries if entry.link and entry.guid == entry.link)
    told = []
    for entry in entries:
        if entry.link and entry.guid == entry.link:
            distinct = f"{entry.link}#causerie-{_identity_hash(entry.title, entry.published_at)[:12]}"
            if shared[entry.link] > 1:
                entry = replace(entry, guid=distinct, other_guids=(entry.link,))
            else:
                entry = replace(entry, other_guids=(distinct,))
        told.append(entry)
    return told


def _repair_entry(entry: ParsedEntry) -> ParsedEntry:
    title = _cap(repair_text(entry.title), MAX_TITLE)
    summary = _cap(repair_text(entry.summary), MAX_HTML)
    content = _cap(repair_text(entry.content), MAX_HTML)
    guid = _cap(repair_text(entry.guid), 1000) or ""
    if not guid:
        guid = "hash:" + _identity_hash(title, summary, content, entry.published_at)
    return ParsedEntry(
        guid=guid,
        title=title,
        link=_storable_url(entry.link),
        author_name=_cap(repair_text(entry.author_name), MAX_NAME),
        author_email=_cap(repair_text(entry.author_email), MAX_NAME),
        author_url=_storable_url(entry.author_url),
        summary=summary,
        content=content,
        published_at=entry.published_at,
        updated_at=entry.updated_at,
        comments_url=_storable_url(entry.comments_url),
        comments_feed_url=_storable_url(entry.comments_feed_url),
        comment_count=entry.comment_count,
        enclosures=tuple(
            Enclosure(enclosure.url, repair_text(enclosure.type), enclosure.length)
            for enclosure in entry.enclosures[:MAX_ENCLOSURES]
            if _storable_url(enclosure.url)
        ),
        base_url=_storable_url(entry.base_url),
    )


def _storable_url(url: str | None) -> str | None:
    """Drop a URL that SQLite cannot store: a JSON Feed's "\\ud800" passes http_url()."""
    return url if url is None or repair_text(url) == url else None


def _identity_hash(*parts: object) -> str:
    """Identity for entries with neither id nor link: what they say and when."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(repr(part).encode("utf-8", "replace"))
        digest.update(b"\x1f")
    return digest.hexdigest()[:32]


def repair_text(value: str | None) -> str | None:
    """Text SQLite and browsers can take: no NUL, no lone surrogates."""
    if value is None:
        return None
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _cap(value: str | None, limit: int) -> str | None:
    return value[:limit] if value is not None and len(value) > limit else value
