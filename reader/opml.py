"""Reading and writing OPML subscription lists.

An OPML file is untrusted input: it is parsed with defusedxml (no entity
expansion, no external entities, so no XML bomb or file disclosure), its size
and nesting depth are capped, and any problem with the document as a whole
raises ``OPMLError`` before anything is imported.

Feeds are grouped into people (``FeedSource.person_key``), first rule that applies:

1. a folder outline marked as a person (a ``person`` attribute, in Causerie's
   namespace or none) holds that person's feeds, and is not a group itself;
2. a feed outline with a ``person`` attribute (Causerie's exports write one on
   every feed, with ``personKey`` to tell two people of one name apart);
3. feeds whose ``htmlUrl`` has the same host and path (``www.`` and a trailing
   slash aside) are one person's: a blog's posts and its comments, say;
4. anything else is a person of its own.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

import defusedxml
import defusedxml.ElementTree as SafeET

from .errors import OPMLError
from .models import FeedSource, Subscription
from .urls import feed_url, http_url, schemeless_url, site_key

MAX_OPML_BYTES = 5 * 2**20
MAX_DEPTH = 10  # folders inside folders; deeper nesting is flattened into the 10th
MAX_OUTLINES = 20_000
# Outlines nested deeper than this are refused, not flattened: the walk below
# recurses once per level and would otherwise die of RecursionError (not an
# OPMLError) near Python's limit of 1000. No real subscription list comes close.
MAX_NESTING = 100
_BARE_AMPERSAND = re.compile(rb"&(?!#\d+;|#x[0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)")
# Characters XML 1.0 cannot carry at all, not even as &#...;. ElementTree writes
# them as they are, so a title holding one (JSON Feed titles and user-typed names
# may) would make an export that no parser, read_opml included, can read back.
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Causerie's own outline attributes: person and personKey.
NAMESPACE = "urn:causerie:opml"
ET.register_namespace("causerie", NAMESPACE)


@dataclass(frozen=True)
class OPMLImport:
    """What a file holds: the feeds to subscribe to, and what was left out and why."""

    sources: tuple[FeedSource, ...]
    skipped: tuple[str, ...] = ()  # human-readable, one per outline left out
    duplicates: int = 0
    # What was read differently from how it is written: addresses without a scheme taken as https.
    notes: tuple[str, ...] = ()
    title: str | None = None
    folders: tuple[tuple[str, ...], ...] = field(default=())


def read_opml(data: bytes) -> OPMLImport:
    """Parse an OPML 1.0/2.0 document. Raises ``OPMLError`` if it cannot be imported as a whole."""
    if len(data) > MAX_OPML_BYTES:
        raise OPMLError(f"OPML file too large ({len(data)} bytes, limit {MAX_OPML_BYTES})")
    repaired = False
    try:
        root = _parse_xml(data)
    except OPMLError:
        # A bare "&" in a title is the most common flaw in exported OPML; repair
        # only that, and refuse anything else that is not well-formed.
        fixed = _BARE_AMPERSAND.sub(b"&amp;", data)
        if fixed == data:
            raise
        root = _parse_xml(fixed)
        repaired = True
    if _local(root.tag).lower() != "opml":
        raise OPMLError(f"not an OPML file (root element is <{_local(root.tag)}>)")
    body = next((child for child in root if _local(child.tag).lower() == "body"), None)
    if body is None:
        raise OPMLError("OPML file has no <body>")
    reader = _Walker()
    reader.walk(body, (), 0, None)
    head = next((child for child in root if _local(child.tag).lower() == "head"), None)
    title = None
    if head is not None:
        title_el = next((c for c in head if _local(c.tag).lower() == "title"), None)
        title = (title_el.text or "").strip() or None if title_el is not None else None
    notes = ["repaired unescaped '&' characters"] if repaired else []
    return OPMLImport(
        sources=tuple(reader.sources),
        skipped=tuple(notes + reader.skipped),
        duplicates=reader.duplicates,
        notes=tuple(reader.notes),
        title=title,
        folders=tuple(reader.folders),
    )


def _parse_xml(data: bytes) -> ET.Element:
    try:
        return SafeET.fromstring(data)
    except defusedxml.DefusedXmlException as exc:
        raise OPMLError("OPML file uses XML entities or DTD features that are not allowed") from exc
    except (ET.ParseError, ValueError) as exc:
        raise OPMLError("not a well-formed XML document") from exc


class _Walker:
    def __init__(self) -> None:
        self.sources: list[FeedSource] = []
        self.skipped: list[str] = []
        self.notes: list[str] = []
        self.folders: list[tuple[str, ...]] = []
        self.seen: set[str] = set()
        self.duplicates = 0
        self.count = 0

    def walk(self, element: ET.Element, path: tuple[str, ...], depth: int, person: tuple[str, str] | None) -> None:
        if depth > MAX_NESTING:
            raise OPMLError(f"OPML outlines are nested more than {MAX_NESTING} levels deep")
        for outline in element:
            if _local(outline.tag).lower() != "outline":
                continue
            self.count += 1
            if self.count > MAX_OUTLINES:
                raise OPMLError(f"OPML file has more than {MAX_OUTLINES} outlines")
            attrs = _attributes(outline)
            name = attrs.get("title") or attrs.get("text") or ""
            feed_url = attrs.get("xmlurl") or (attrs.get("url") if _is_feed_type(attrs.get("type")) else "")
            children = [c for c in outline if _local(c.tag).lower() == "outline"]
            if feed_url:
                self._add(feed_url, name, attrs, path, person)
            elif not children:
                label = name or "(untitled)"
                self.skipped.append(f"{label}: no xmlUrl, not a feed")
            if children:
                child_path, child_person = path, person
                if not feed_url and "person" in attrs and person is None:
                    # A folder that is a person: its feeds are theirs, filed where the folder is.
                    child_person = (f"folder:{self.count}", (attrs["person"] or name or "Untitled")[:500])
                elif not feed_url and depth < MAX_DEPTH:
                    # Folders deeper than MAX_DEPTH keep their feeds, filed in the deepest allowed folder.
                    child_path = path + (name or "Untitled",)
                if child_path != path and child_path not in self.folders:
                    self.folders.append(child_path)
                self.walk(outline, child_path, depth + 1, child_person)

    def _add(
        self, raw_url: str, name: str, attrs: dict[str, str], path: tuple[str, ...], person: tuple[str, str] | None
    ) -> None:
        url = feed_url(_feed_scheme(raw_url))
        scheme_assumed = False
        if url is None and (assumed := schemeless_url(raw_url)):
            # "www.example.org/feed", as people write addresses: https, said so.
            url = feed_url(assumed)
            self.notes.append(
                f"{name or raw_url}: {raw_url[:200]!r} has no scheme, taken as {url}"
                " (and as http if https does not connect)"
            )
            scheme_assumed = url is not None
        if url is None:
            self.skipped.append(f"{name or raw_url}: {raw_url[:200]!r} is not an http(s) URL")
            return
        key = url.rstrip("/").lower()
        if key in self.seen:
            self.duplicates += 1
            return
        self.seen.add(key)
        site_url = http_url(attrs.get("htmlurl"))
        person_key, person_name = person or (None, None)
        if person is None and attrs.get("person"):
            person_name = attrs["person"][:500]
            person_key = "person:" + (attrs.get("personkey") or person_name)
        elif person is None and site_url:
            person_key = "site:" + site_key(site_url)
        self.sources.append(
            FeedSource(
                url=url,
                title=(name or None) and name[:500],
                site_url=site_url,
                group_path=path,
                person_key=person_key,
                person_name=person_name,
                scheme_assumed=scheme_assumed,
            )
        )


def _attributes(outline: ET.Element) -> dict[str, str]:
    """An outline's attributes by lowercase local name; Causerie's namespace, or none, for person/personKey."""
    attrs: dict[str, str] = {}
    for raw, value in outline.attrib.items():
        namespace, _, local = raw[1:].partition("}") if raw.startswith("{") else ("", "", raw)
        local = local.lower()
        if namespace and local not in ("person", "personkey"):
            continue
        attrs.setdefault(local, (value or "").strip())
    return attrs


def _feed_scheme(url: str) -> str:
    """``feed://`` and ``feed:https://`` are old browser conventions for http(s) feeds."""
    lowered = url.lower()
    if lowered.startswith("feed:http"):
        return url[5:]
    if lowered.startswith("feed://"):
        return "http://" + url[7:]
    return url


def _is_feed_type(kind: str | None) -> bool:
    # Some exporters write the feed address in ``url`` rather than ``xmlUrl``.
    return (kind or "").lower() in ("rss", "atom")


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def write_opml(subscriptions: Iterable[Subscription], *, title: str = "Causerie subscriptions") -> bytes:
    """OPML 2.0 with one folder outline per group, nested as the groups are."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC), usegmt=True)
    body = ET.SubElement(root, "body")
    folders: dict[tuple[str, ...], ET.Element] = {(): body}

    def folder(path: tuple[str, ...]) -> ET.Element:
        if path not in folders:
            parent = folder(path[:-1])
            name = _NOT_XML_CHAR.sub("", path[-1])
            folders[path] = ET.SubElement(parent, "outline", text=name, title=name)
        return folders[path]

    for sub in sorted(subscriptions, key=lambda s: (s.group_path, s.display_title.lower())):
        attrs = {"type": "rss", "text": sub.display_title, "title": sub.display_title, "xmlUrl": sub.feed.url}
        if sub.feed.site_url or sub.person_home_url:
            attrs["htmlUrl"] = sub.feed.site_url or sub.person_home_url
        # Whose feed it is, so that importing the file again keeps people together.
        attrs[f"{{{NAMESPACE}}}person"] = sub.person_name
        attrs[f"{{{NAMESPACE}}}personKey"] = str(sub.person_id)
        attrs = {key: _NOT_XML_CHAR.sub("", value) for key, value in attrs.items()}
        ET.SubElement(folder(sub.group_path), "outline", attrs)
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"
