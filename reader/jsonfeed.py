"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) from bytes to ``ParsedFeed``.

feedparser 6 does not read JSON Feed, so this is the stdlib-only counterpart of
``parse.py`` with the same policy: degraded input is a warning, a bad item is
skipped with a warning, and only a feed whose every item failed is a ``ParseError``.
Values of the wrong JSON type are treated as missing, never trusted.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from typing import Any, NamedTuple

from .errors import ParseError
from .models import Enclosure, ParsedEntry, ParsedFeed
from .urls import http_url

_BOM = b"\xef\xbb\xbf"
_SNIFF_BYTES = 2048
# JSON may escape "/" as "\/": curtclifton.net's feed writes "https:\/\/jsonfeed.org\/version\/1".
_VERSION_MARKERS = (b"jsonfeed.org/version", b"jsonfeed.org\\/version")
# Real feeds (pxlnv.com) write the version URL with http://; the spec says https.
_VERSION_PREFIXES = ("https://jsonfeed.org/version/1", "http://jsonfeed.org/version/1")
_BLANK_LINE = re.compile(r"\n\s*\n")


class _Author(NamedTuple):
    name: str | None
    url: str | None
    email: str | None


class _BadItem(ValueError):
    """An item we cannot use; the message says why."""


def looks_like_json_feed(content: bytes) -> bool:
    """Cheaply guess whether ``content`` is a JSON Feed, without parsing it."""
    head = content[:_SNIFF_BYTES].removeprefix(_BOM).lstrip()
    if not head.startswith(b"{"):
        return False
    # Feeds serialised from an unordered map may put "version" last
    # (leancrew.com's is at byte 57,103 of 57,194), so look at the tail too.
    tail = content[-_SNIFF_BYTES:]
    return any(marker in head or marker in tail for marker in _VERSION_MARKERS)


def looks_like_json(content: bytes) -> bool:
    """Whether ``content`` starts as a JSON object does: it is read as JSON, whatever is wrong with
    it after that, so that its errors are JSON's (not an XML parser's about a '{')."""
    return content[:_SNIFF_BYTES].removeprefix(_BOM).lstrip().startswith(b"{")


def parse_json_feed(content: bytes, url: str) -> ParsedFeed:
    """Parse a JSON Feed; relative URLs resolve against ``url``. Raises ``ParseError``."""
    warnings: list[str] = []
    document = _load_document(content, url, warnings)
    _check_version(document, url)
    feed_author = _find_author(document, url)
    entries = _parse_items(_item_list(document, url, warnings), url, feed_author, warnings)
    return ParsedFeed(
        url=url,
        title=_text(document.get("title")),
        site_url=http_url(document.get("home_page_url"), base=url),
        author_name=feed_author.name if feed_author else None,
        entries=entries,
        warnings=tuple(warnings),
        author_email=feed_author.email if feed_author else None,
        author_url=feed_author.url if feed_author else None,
    )


def _load_document(content: bytes, url: str, warnings: list[str]) -> dict[str, Any]:
    text = _decode(content, warnings)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        # What is wrong and where, as a person fixing the feed needs it.
        raise ParseError(url, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
    except (RecursionError, ValueError) as exc:
        raise ParseError(url, f"not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ParseError(url, "not a json feed: top level is not an object")
    return document


def _decode(content: bytes, warnings: list[str]) -> str:
    # The spec requires UTF-8; json.loads() would reject a str that still starts with a BOM.
    content = content.removeprefix(_BOM)
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        warnings.append("not valid utf-8: undecodable bytes replaced")
        return content.decode("utf-8", errors="replace")


def _check_version(document: dict[str, Any], url: str) -> None:
    version = document.get("version")
    if version is None:
        raise ParseError(url, "not a json feed: no version")
    if not isinstance(version, str) or not version.startswith(_VERSION_PREFIXES):
        raise ParseError(url, f"unknown json feed version {str(version)[:60]!r}")


def _item_list(document: dict[str, Any], url: str, warnings: list[str]) -> list[Any]:
    if "items" not in document:
        # "items" is required, but a feed that has none yet is still a feed.
        warnings.append("no items list")
        return []
    items = document["items"]
    if not isinstance(items, list):
        raise ParseError(url, "items is not a list")
    return items


def _parse_items(
    items: list[Any], base: str, feed_author: _Author | None, warnings: list[str]
) -> tuple[ParsedEntry, ...]:
    entries = []
    for number, item in enumerate(items, start=1):
        try:
            entries.append(_parse_item(item, base, feed_author))
        except _BadItem as exc:
            warnings.append(f"item {number} skipped: {exc}")
    if items and not entries:
        raise ParseError(base, f"all {len(items)} items are invalid")
    return tuple(entries)


def _parse_item(item: Any, base: str, feed_author: _Author | None) -> ParsedEntry:
    if not isinstance(item, dict):
        raise _BadItem("not an object")
    author = _find_author(item, base) or feed_author or _Author(None, None, None)
    link = http_url(item.get("url"), base=base) or http_url(item.get("external_url"), base=base)
    entry = ParsedEntry(
        guid=_guid(item, base),
        title=_text(item.get("title")),
        link=link,
        author_name=author.name,
        author_email=author.email,
        author_url=author.url,
        summary=_summary_html(item.get("summary")),
        content=_content_html(item),
        published_at=_parse_datetime(item.get("date_published")),
        updated_at=_parse_datetime(item.get("date_modified")),
        enclosures=_enclosures(item.get("attachments"), base),
        base_url=link or base,
    )
    if not (entry.guid or entry.title or entry.link or entry.content or entry.summary or entry.enclosures):
        # Every such item would get the same content hash and collide.
        raise _BadItem("no id, url, title or content")
    return entry


def _guid(item: dict[str, Any], base: str) -> str:
    item_id = item.get("id")
    # The spec says id is a string, but some feeds send numbers; bool is an int subclass.
    if isinstance(item_id, int) and not isinstance(item_id, bool):
        return str(item_id)
    return _text(item_id) or http_url(item.get("url"), base=base) or ""


def _find_author(obj: dict[str, Any], base: str) -> _Author | None:
    # 1.1 replaced "author" with "authors"; 1.1 feeds may still send both for 1.0 readers.
    authors = obj.get("authors")
    first = authors[0] if isinstance(authors, list) and authors else None
    return _read_author(first, base) or _read_author(obj.get("author"), base)


def _read_author(value: Any, base: str) -> _Author | None:
    if not isinstance(value, dict):
        return None
    raw_url = _text(value.get("url"))
    author = _Author(_text(value.get("name")), http_url(raw_url, base=base), _mailto_address(raw_url))
    return author if any(author) else None


def _mailto_address(url: str | None) -> str | None:
    # The spec allows a mailto: URL as the author's url; it is the only email JSON Feed has.
    if not url or not url.lower().startswith("mailto:"):
        return None
    address = url[len("mailto:") :].split("?", 1)[0].strip()
    return address if "@" in address else None


def _summary_html(value: Any) -> str | None:
    # JSON Feed's summary is plain text ("<i>-Tags" means the characters), ParsedEntry's is HTML.
    summary = _text(value)
    return html.escape(summary) if summary else None


def _content_html(item: dict[str, Any]) -> str | None:
    content = _text(item.get("content_html"))
    if content:
        return content
    text = _text(item.get("content_text"))
    return _text_to_html(text) if text else None


def _text_to_html(text: str) -> str:
    """Escape plain text and keep its shape: blank lines part paragraphs, newlines break lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = (part.strip() for part in _BLANK_LINE.split(text))
    return "\n".join(_paragraph_html(part) for part in paragraphs if part)


def _paragraph_html(text: str) -> str:
    return "<p>" + html.escape(text).replace("\n", "<br>\n") + "</p>"


def _parse_datetime(value: Any) -> datetime | None:
    """An RFC 3339 date as an aware UTC datetime; a naive one is taken as UTC."""
    if not isinstance(value, str):
        return None
    try:
        # RFC 3339 allows a lowercase "t" and "z"; fromisoformat() does not.
        parsed = datetime.fromisoformat(value.strip().upper())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 shifted out of range
        return None


def _enclosures(value: Any, base: str) -> tuple[Enclosure, ...]:
    if not isinstance(value, list):
        return ()
    enclosures = []
    for attachment in value:
        if not isinstance(attachment, dict):
            continue
        url = http_url(attachment.get("url"), base=base)
        if url:
            size = _byte_count(attachment.get("size_in_bytes"))
            enclosures.append(Enclosure(url, _text(attachment.get("mime_type")), size))
    return tuple(enclosures)


def _byte_count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():  # 1234.0 from a float-only serialiser
        value = int(value)
    return value if isinstance(value, int) and value >= 0 else None


def _text(value: Any) -> str | None:
    """``value`` stripped, or None when it is not a string or is blank."""
    if not isinstance(value, str):
        return None
    return value.strip() or None
