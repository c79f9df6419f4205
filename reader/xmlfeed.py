"""Well-formed RSS 2.0 and Atom 1.0, read with lxml into the part of feedparser's result that
parse.py reads; feedparser reads every other document. lxml is used here and only here.

feedparser spends most of a first fetch in Python callbacks for every element and every run of
text. This reads the same documents from lxml's tree in one pass over the elements parse.py
needs, and gives back the same dictionary shape (``feed``, ``entries`` and, for each, the keys
parse.py uses), so that parse.py's own rules turn either into the same ``ParsedFeed``.

The promise is equality: for a document taken here, parse.py's result is the one feedparser's
path gives, field by field (tests/test_fastparse.py checks it over every corpus). So this path
takes only what it reads exactly as feedparser does, and ``Declined`` anything else: a document
that is not well-formed, any DOCTYPE, a format other than RSS 2.0 or Atom 1.0, an element whose
meaning depends on feedparser's state machine in ways not repeated here (a second title or
summary in an entry, two authors, XHTML content, base64 content, unknown markup inside a value).
A declined document costs one lxml parse (~1% of feedparser's time) and goes to feedparser.

Where feedparser transforms a value (relative URIs resolved against xml:base, its
latin-1/UTF-8 repair, its cp1252 mapping, its guess whether an RSS title is HTML, dates), the
same feedparser function is called here, so the rules cannot drift apart.
"""

from __future__ import annotations

import contextlib
import re
from xml.sax.saxutils import escape

from feedparser.datetimes import _parse_date
from feedparser.encodings import convert_to_utf8
from feedparser.exceptions import CharacterEncodingOverride, NonXMLContentType
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri
from lxml import etree

from .urls import is_plain_url

ATOM = "http://www.w3.org/2005/Atom"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
# feedparser's names for the namespaces it knows ("dc", "content", "wfw"...); "" for the feed's own.
_PREFIXES = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
# Namespaces that make feedparser call a document RSS 1.0 or 0.90, whatever its root says.
_VERSION_NAMESPACES = {"http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/"}
# A namespace declared with a character reference in its URI escapes a search of the bytes for it.
_QUOTED_VERSION_NAMESPACES = [f"{q}{uri}{q}".encode() for uri in _VERSION_NAMESPACES for q in "\"'"]
_ESCAPED_NAMESPACE = re.compile(rb"""xmlns(?::[^\s=]*)?\s*=\s*(?:"[^"]*&|'[^']*&)""")
_HTML_TYPES = {"text/html", "application/xhtml+xml"}
_RSS_VERSIONS = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
_ENTITY_LIKE = re.compile("&([A-Za-z0-9_]+);")
_CP1252_RANGE = re.compile("[\x80-\x9f]")
looks_like_html = _FeedParserMixin.looks_like_html

_PARSER_OPTIONS = dict(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
    strip_cdata=True,
)

# What each element of an entry or of the feed means to feedparser, by feedparser's name for it
# ("prefix_localname", lower case). Elements not named here and not in _INERT are declined.
_TITLES = {"title", "dc_title"}
_SUMMARIES = {"description": "text/html", "dc_description": "text/html", "summary": "text/plain",
              "itunes_summary": "text/plain"}  # fmt: skip
_CONTENTS = {"content_encoded": "text/html", "content": "text/plain"}
_AUTHORS = {"author", "dc_creator", "dc_author", "itunes_author", "managingeditor"}
_PUBLISHED = {"pubdate", "published", "issued", "dcterms_issued"}
_UPDATED = {"updated", "modified", "lastbuilddate", "dc_date", "dcterms_modified"}
# Text feedparser stores under the element's own name; the first four are resolved as URIs.
_URI_VALUES = {"comments", "wfw_commentrss"}
_TEXT_VALUES = {"slash_comments", "thr_total", "ttl", "sy_updateperiod", "sy_updatefrequency"}
# The keys of feedparser's result that parse.py reads: no unknown element may write one.
_READ_KEYS = {
    "title", "title_detail", "link", "links", "id", "author", "author_detail", "authors", "summary",
    "summary_detail", "content", "published_parsed", "updated_parsed", "published", "updated",
    *_URI_VALUES, *_TEXT_VALUES,
}  # fmt: skip
# Whole subtrees feedparser keeps elsewhere (the feed's image, a text input, an entry's source, a
# contributor): nothing in them reaches what parse.py reads.
_SKIPPED = {"image", "textinput", "source", "contributor", "dc_contributor"}
# Elements whose value parse.py never reads, and which touch nothing it reads.
_INERT = {
    "category", "dc_subject", "language", "dc_language", "copyright", "rights", "dc_rights", "generator",
    "docs", "cloud", "webmaster", "dc_publisher", "rating", "skiphours", "skipdays", "subtitle", "tagline",
    "icon", "logo", "created", "dcterms_created", "expirationdate", "sy_updatebase", "wfw_comment",
    "slash_section", "slash_department", "slash_hit_parade", "thr_in-reply-to", "feedburner_origlink",
    "feedburner_origenclosurelink", "feedburner_info", "feedburner_feedflare", "feedburner_emailserviceid",
    "feedburner_feedburnerhostname", "itunes_subtitle", "itunes_explicit", "itunes_block", "itunes_duration",
    "itunes_keywords", "itunes_category", "itunes_image", "itunes_episode", "itunes_season",
    "itunes_episodetype", "itunes_type", "itunes_new-feed-url", "itunes_complete", "itunes_title",
    "media_content", "media_thumbnail", "media_keywords", "media_rating", "media_player", "media_credit",
    "media_category", "media_restriction", "media_license", "georss_point", "geo_lat", "geo_long",
    "id",  # the feed's own id; an entry's is read (see _read_entry)
    "cc_license", "creativecommons_license", "admin_generatoragent", "admin_errorreportsto", "blogchannel_blogroll",
    "media_group",  # holds the media elements above; with a media:title or media:description it is declined
}  # fmt: skip


class Declined(Exception):
    """Not a document this path reads exactly as feedparser does: parse.py gives it to feedparser."""


def read_feed(content: bytes, url: str, headers: dict[str, str]) -> dict:
    """feedparser.parse's answer for ``content``, as far as parse.py reads it; ``Declined`` otherwise."""
    result: dict = {}
    # feedparser's own encoding rules (HTTP charset, XML declaration, BOM, RFC 3023's defaults)
    # and its warnings, then the same UTF-8 bytes its SAX parser would read.
    data = convert_to_utf8(headers, content, result)
    warning = result.get("bozo_exception")
    if warning is not None and not isinstance(warning, CharacterEncodingOverride | NonXMLContentType):
        raise Declined(f"encoding: {warning}")
    if b"<!DOCTYPE" in data or b"<!doctype" in data:  # anywhere: a long comment may come first
        raise Declined("a DOCTYPE (entities, versions: feedparser's own rules)")
    try:
        root = etree.fromstring(data, etree.XMLParser(**_PARSER_OPTIONS))
    except etree.XMLSyntaxError as exc:
        raise Declined(f"not well-formed: {exc}") from None
    if _declares_a_version_namespace(data, root):
        raise Declined("an RSS 1.0 or 0.90 namespace")
    # feedparser's base for relative URIs: the Content-Location parse.py gives it, the feed's URL.
    base = make_safe_absolute_uri(headers.get("content-location", ""))
    if root.tag == "rss" or (isinstance(root.tag, str) and _key(root) == "rss" and etree.QName(root).namespace):
        version, feed, entries = _read_rss(root, base)
    elif root.tag == f"{{{ATOM}}}feed":
        version, feed, entries = "atom10", *_read_atom(root, base)
    else:
        raise Declined(f"root element {root.tag!r}")
    answer = {"version": version, "feed": feed, "entries": entries, "bozo": warning is not None}
    if warning is not None:
        answer["bozo_exception"] = warning
    return answer


def _declares_a_version_namespace(data: bytes, root) -> bool:
    """Whether any element declares an RSS 1.0 or 0.90 namespace. Asking every element for its
    namespaces cost as much as the parse itself, so the bytes are searched first: a declaration
    can only hide from that search behind a character reference, and then every element is asked."""
    if _ESCAPED_NAMESPACE.search(data) is None:
        return any(quoted in data for quoted in _QUOTED_VERSION_NAMESPACES)
    return any(isinstance(node.tag, str) and _VERSION_NAMESPACES & set(node.nsmap.values()) for node in root.iter())


# -- RSS ---------------------------------------------------------------------------------------------------------------


def _read_rss(root, base: str) -> tuple[str, dict, list[dict]]:
    declared = root.get("version", "")
    version = _RSS_VERSIONS.get(declared) or ("rss20" if declared.startswith("2.") else "rss")
    base = _base_of(root, base)
    channels = [child for child in root if _key(child) == "channel"]
    if len(channels) != 1 or len(root) != 1:
        raise Declined("not one channel alone in <rss>")
    channel = channels[0]
    base = _base_of(channel, base)
    if channel.attrib:
        raise Declined("attributes on <channel>")
    feed, entries = _read_children(channel, base, "item", atom=False)
    return version, feed, entries


# -- Atom --------------------------------------------------------------------------------------------------------------


def _read_atom(root, base: str) -> tuple[dict, list[dict]]:
    return _read_children(root, _base_of(root, base), "entry", atom=True)


# -- the feed's own elements -------------------------------------------------------------------------------------------


def _read_children(container, base: str, entry_key: str, *, atom: bool) -> tuple[dict, list[dict]]:
    """An RSS channel's or an Atom feed's children: its entries, and the feed's own elements."""
    feed: dict = {}
    entries: list[dict] = []
    titles = 0
    for child in container:
        key = _key(child)
        if key == entry_key:
            entries.append(_read_entry(child, _base_of(child, base), atom=atom))
            continue
        if key in _TITLES:
            titles += 1
        _read_feed_element(feed, child, key, _base_of(child, base), atom=atom)
    if titles > 1:
        raise Declined("two titles for the feed")
    return feed, entries


def _read_feed_element(feed: dict, element, key: str, base: str, *, atom: bool) -> None:
    if key in _TITLES:
        value, detail = _content(element, base, "text/plain", atom=atom)
        feed["title"] = value
        feed["title_detail"] = detail
    elif key == "link":
        _read_link(feed, element, base, entry=False)
    elif key in _AUTHORS:
        _Authors(feed).element(element, base)
    elif key == "itunes_owner":
        _Authors(feed).owner(element)
    elif key == "id":
        # An Atom feed's id stands for its link until a link says otherwise (feedparser's guid rule).
        _leaf(element)
        value = _resolve(_strip(_text(element)), base)
        feed.setdefault("link", _finish(value))
    elif key in _TEXT_VALUES:
        _leaf(element, attributes=False)
        feed[key] = _finish(_strip(_text(element)))
    elif key in _SKIPPED or key in _INERT or key in _PUBLISHED or key in _UPDATED or key in _SUMMARIES:
        _inert(element, key)
    else:
        _unknown(element, key)


# -- an entry ----------------------------------------------------------------------------------------------------------


def _read_entry(item, base: str, *, atom: bool) -> dict:
    entry: dict = {}
    if any(not name.startswith("{http://www.w3.org/XML/1998/namespace}") for name in item.attrib):
        raise Declined("attributes on an entry")
    seen_title = seen_summary = seen_content = False
    for child in item:
        key = _key(child)
        child_base = _base_of(child, base)
        if key in _TITLES:
            if seen_title:
                raise Declined("a second title in an entry")
            seen_title = True
            value, detail = _content(child, child_base, "text/plain", atom=atom)
            if value:  # feedparser keeps an empty title's place for the next one; none follows here
                entry["title"] = value
                entry["title_detail"] = detail
        elif key == "link":
            _read_link(entry, child, child_base, entry=True)
        elif key in ("guid", "id"):
            _read_guid(entry, child, child_base)
        elif key in _SUMMARIES:
            if seen_summary:
                raise Declined("a second summary in an entry")
            seen_summary = True
            value, detail = _content(child, child_base, _SUMMARIES[key], atom=atom)
            entry["summary"] = value
            entry["summary_detail"] = detail
        elif key in _CONTENTS:
            if seen_content:
                raise Declined("a second content in an entry")
            seen_content = True
            if child.get("src") is not None:
                raise Declined("content given by reference")
            value, detail = _content(child, child_base, _CONTENTS[key], atom=atom)
            entry["content"] = [detail]
        elif key in _AUTHORS:
            _Authors(entry).element(child, child_base)
        elif key == "itunes_owner":
            _Authors(entry).owner(child)
        elif key in _PUBLISHED:
            entry["published_parsed"] = _date(child)
        elif key in _UPDATED:
            entry["updated_parsed"] = _date(child)
        elif key in _URI_VALUES:
            _leaf(child, attributes=False)
            value = _strip(_text(child))
            entry[key] = _finish(_resolve(value, child_base) if value else value)
        elif key in _TEXT_VALUES:
            _leaf(child, attributes=False)
            entry[key] = _finish(_strip(_text(child)))
        elif key == "enclosure":
            _leaf(child)
            attributes = _attributes(child)
            href = attributes.pop("url", attributes.pop("uri", attributes.pop("href", None)))
            if href:
                attributes["href"] = href
            attributes["rel"] = "enclosure"
            entry.setdefault("links", []).append(attributes)
        elif key in ("image", "textinput"):
            raise Declined(f"<{key}> in an entry (feedparser files its parts under the feed's)")
        elif key in _SKIPPED or key in _INERT:
            _inert(child, key)
        else:
            _unknown(child, key)
    return entry


def _read_guid(entry: dict, element, base: str) -> None:
    """RSS <guid> and Atom <id>: the entry's id, and its link until a <link> says otherwise."""
    _leaf(element)
    is_link = element.get("isPermaLink", element.get("ispermalink", "true")) == "true"
    if any(name.lower() == "ispermalink" for name in element.attrib) and "isPermaLink" not in element.attrib:
        raise Declined("isPermaLink spelt otherwise")
    value = _strip(_text(element))
    if value and is_link:
        value = _resolve(value, base)
    value = _finish(value)
    entry["id"] = value
    if is_link:
        entry.setdefault("link", value)


def _read_link(context: dict, element, base: str, *, entry: bool) -> None:
    """<link>: RSS's text, or Atom's (and atom:link's) href with a relation."""
    attributes = _attributes(element)
    href = attributes.pop("url", attributes.pop("uri", attributes.pop("href", None)))
    if href is None:
        if attributes or etree.QName(element).namespace == ATOM:
            raise Declined("a link with neither href nor plain text")
        _leaf(element)
        value = _strip(_text(element))
        value = _resolve(value, base) if value else value
        value = _finish(value)
        if entry:  # feedparser undoes an escaped ampersand in an entry's link, not in the feed's
            value = value.replace("&amp;", "&")
        context["link"] = _ENTITY_LIKE.sub(r"&\g<1>", value)
        return
    _leaf(element)
    attributes.setdefault("rel", "alternate")
    attributes.setdefault("type", "application/atom+xml" if attributes["rel"] == "self" else "text/html")
    attributes["href"] = _resolve(href, base)
    if attributes["rel"] in ("replies", "enclosure"):
        context.setdefault("links", []).append(attributes)
    if attributes["rel"] == "alternate" and _content_type(attributes["type"]) in _HTML_TYPES:
        context["link"] = attributes["href"]


class _Authors:
    """feedparser's author bookkeeping for one feed or entry, step by step: each author element
    appends to ``authors``, its parts (Atom's <name>, <email>, <uri>; iTunes' owner) are saved into
    the last one, and after each step the ``author`` string and ``author_detail`` are brought in
    line the way feedparser does, including its quirks (an owner's email lands in ``authors``)."""

    def __init__(self, context: dict) -> None:
        self.context = context

    def element(self, element, base: str) -> None:
        """<author>, <managingEditor>, <dc:creator>, <itunes:author>: a string, or Atom's parts."""
        self.context.setdefault("authors", []).append({})
        for child in element:
            key = _key(child)
            _leaf(child)
            if key in ("name", "email"):
                self._save(key, _strip(_text(child)))
            elif key in ("uri", "url", "homepage"):
                value = _strip(_text(child))
                self._save("href", _finish(_resolve(value, _base_of(child, base)) if value else value))
            else:
                raise Declined(f"<{key}> in an author")
        own = (element.text or "") + "".join(child.tail or "" for child in element)
        self.context["author"] = _finish(_strip(own))
        self._sync()

    def owner(self, element) -> None:
        """<itunes:owner>: its name and email are saved as a publisher's, and into ``authors`` too."""
        for child in element:
            key = _key(child)
            _leaf(child)
            if key in ("itunes_name", "itunes_email"):
                self._save(key.removeprefix("itunes_"), _strip(_text(child)), publisher=True)
            else:
                raise Declined(f"<{key}> in an iTunes owner")

    def _save(self, key: str, value: str, *, publisher: bool = False) -> None:
        if not publisher:
            self.context.setdefault("author_detail", {})[key] = value
        self._sync()
        self.context.setdefault("authors", [{}])[-1][key] = value

    def _sync(self) -> None:
        context = self.context
        authors = context.get("authors") or [{}]
        detail = authors[-1]
        if detail:
            name, email = detail.get("name"), detail.get("email")
            if name and email:
                context["author"] = f"{name} ({email})"
            elif name or email:
                context["author"] = name or email
            return
        author = context.get("author")
        if not author:
            return
        name, email = author, None
        match = _AUTHOR_EMAIL.search(author)
        if match:
            email = match.group(0)
            name = author.replace(email, "").replace("()", "").replace("<>", "").replace("&lt;&gt;", "").strip()
            if name and name[0] == "(":
                name = name[1:]
            if name and name[-1] == ")":
                name = name[:-1]
            name = name.strip()
        if name or email:
            context.setdefault("author_detail", detail)
        if name:
            detail["name"] = name
        if email:
            detail["email"] = email


# feedparser's pattern for an email address inside an author string (a top-level domain of two to
# four letters: "ana@ana.social" comes out as "ana@ana.soci", which parse.py then reads again).
_AUTHOR_EMAIL = re.compile(
    r"(([a-zA-Z0-9_\-.+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"
    r"([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"
)


# -- values ------------------------------------------------------------------------------------------------------------


def _content(element, base: str, default_type: str, *, atom: bool) -> tuple[str, dict]:
    """A title, summary or content: its text and feedparser's detail (type, base, value)."""
    attributes = _attributes(element)
    if attributes.get("mode") == "base64":
        raise Declined("base64 content")
    content_type = _content_type(attributes.get("type", default_type))
    if not (content_type.startswith("text/") or content_type.endswith("+xml") or content_type.endswith("/xml")):
        raise Declined(f"content of type {content_type!r}")
    if content_type == "application/xhtml+xml":
        if not atom:
            raise Declined("XHTML in RSS")
        value = _xhtml(element)
    else:
        _leaf(element)
        value = _strip(_text(element))
        if not atom and content_type == "text/plain" and looks_like_html(value):
            content_type = "text/html"
    value = _finish(value)
    return value, {"type": content_type, "base": base, "value": value}


XHTML = "http://www.w3.org/1999/xhtml"


def _xhtml(element) -> str:
    """Atom's inline XHTML as feedparser writes it back: each tag rebuilt from its name and
    attributes (an empty one as a start and an end tag), text escaped, and the one <div> that
    wraps everything taken off."""
    pieces: list[str] = []
    if element.text:
        pieces.append(escape(element.text))
    for child in element:
        _xhtml_pieces(child, pieces)
        if child.tail:
            pieces.append(escape(child.tail))
    while len(pieces) > 1 and not pieces[-1].strip():
        del pieces[-1]
    while len(pieces) > 1 and not pieces[0].strip():
        del pieces[0]
    if pieces and (pieces[0] == "<div>" or pieces[0].startswith("<div ")) and pieces[-1] == "</div>":
        depth = 0
        for piece in pieces[:-1]:
            if piece.startswith("</"):
                depth -= 1
                if depth == 0:
                    break  # the first <div> closes before the end: it does not wrap everything
            elif piece.startswith("<") and not piece.endswith("/>"):
                depth += 1
        else:
            pieces = pieces[1:-1]
    return "".join(pieces).strip()


def _xhtml_pieces(element, pieces: list[str]) -> None:
    name = _XHTML_NAMES.get(element.tag) or _xhtml_name(element)
    if element.attrib:
        attributes = "".join(f' {key}="{escape(value, _QUOTE)}"' for key, value in _attribute_items(element))
        pieces.append(f"<{name}{attributes}>")
    else:
        pieces.append(f"<{name}>")
    if element.text:
        pieces.append(escape(element.text))
    for child in element:
        _xhtml_pieces(child, pieces)
        if child.tail:
            pieces.append(escape(child.tail))
    pieces.append(f"</{name}>")


_QUOTE = {'"': "&quot;"}


def _xhtml_name(element) -> str:
    """An XHTML element's name as feedparser writes it, or ``Declined`` where feedparser would not
    just write it."""
    if not isinstance(element.tag, str):
        raise Declined("a comment or processing instruction in XHTML content")
    qname = etree.QName(element)
    if qname.namespace not in (XHTML, None):
        raise Declined(f"<{element.tag}> in XHTML content")
    name = qname.localname.lower()
    # feedparser still dispatches end tags inside content: one it has a handler for changes its state.
    if hasattr(_FeedParserMixin, f"_end_{'xhtml_' if qname.namespace else ''}{name}"):
        raise Declined(f"<{name}> in XHTML content")
    if len(_XHTML_NAMES) < _MAX_KEYS:
        _XHTML_NAMES[element.tag] = name
    return name


_XHTML_NAMES: dict[str, str] = {}  # by tag, for the tags _xhtml_name accepted


def _date(element):
    _leaf(element, attributes=False)
    return _parse_date(_finish(_strip(_text(element))))


def _finish(value: str) -> str:
    """feedparser's last steps for a stored value: its latin-1/UTF-8 repair, then cp1252's characters."""
    if value and not value.isascii():
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            value = value.encode("iso-8859-1").decode("utf-8")
        if _CP1252_RANGE.search(value):
            value = value.translate(_cp1252)
    return value


def _resolve(value: str, base: str) -> str:
    """feedparser's resolution of a URI against its base (an absolute URL stays as it is)."""
    return value if is_plain_url(value) else _urljoin(base or "", value)


def _strip(value: str) -> str:
    return value.strip()


def _text(element) -> str:
    return element.text or ""


def _content_type(value: str) -> str:
    value = value.lower()
    return {"text": "text/plain", "plain": "text/plain", "html": "text/html", "xhtml": "application/xhtml+xml"}.get(
        value, value
    )


def _attributes(element) -> dict[str, str]:
    """An element's attributes as feedparser names them (see ``_attribute_items``)."""
    return dict(_attribute_items(element))


def _attribute_items(element) -> list[tuple[str, str]]:
    """An element's attributes in feedparser's order and names: each under the prefix feedparser
    knows for its namespace ("xml:base"; none for a namespace it does not know), then each
    namespaced one again under the name the document wrote ("thr:count"), as Python's SAX driver
    reports them; names in lower case, and the values of ``rel`` and ``type`` too."""
    named: dict[str, str] = {}
    written: list[tuple[str, str]] = []
    for name, value in element.attrib.items():
        qname = etree.QName(name)
        local = qname.localname
        if qname.namespace:
            prefix = _PREFIXES.get(qname.namespace.lower(), "")
            named[f"{prefix}:{local}".lower() if prefix else local.lower()] = value
            written.append((f"{_written_prefix(element, qname.namespace)}:{local}".lower(), value))
        else:
            named[local.lower()] = value
    for key, value in written:
        named[key] = value
    return [(key, value.lower() if key in ("rel", "type") else value) for key, value in named.items()]


def _written_prefix(element, namespace: str) -> str:
    if namespace == "http://www.w3.org/XML/1998/namespace":
        return "xml"
    prefixes = {key for key, uri in element.nsmap.items() if uri == namespace and key}
    if len(prefixes) != 1:
        raise Declined(f"namespace {namespace!r} without one prefix")
    return prefixes.pop()


def _leaf(element, *, attributes: bool = True) -> None:
    """A value element must hold text only (and, unless allowed, no attributes but xml:base)."""
    if len(element):
        raise Declined(f"markup inside <{element.tag}>")
    if not attributes and any(name != XML_BASE for name in element.attrib):
        raise Declined(f"attributes on <{element.tag}>")


def _inert(element, key: str) -> None:
    """An element parse.py does not read: anything inside may touch only feedparser's other keys."""
    if key in _SKIPPED:
        return
    for node in element.iter():
        if node is not element and _key(node) not in _INERT:
            raise Declined(f"<{node.tag}> inside <{element.tag}>")


def _unknown(element, key: str) -> None:
    """An element feedparser has no handler for keeps its text under its own name: harmless, if that
    name is none parse.py reads and nothing inside it is an element feedparser would act on."""
    if hasattr(_FeedParserMixin, f"_start_{key}") or hasattr(_FeedParserMixin, f"_end_{key}"):
        raise Declined(f"<{element.tag}>: feedparser handles it, this path does not")
    if key in _READ_KEYS:
        raise Declined(f"<{element.tag}> where parse.py would read it")
    if len(element):
        raise Declined(f"markup inside <{element.tag}>")


def _key(element) -> str:
    """feedparser's name for an element: "prefix_localname" in lower case, "" prefix for the feed's own."""
    tag = element.tag
    key = _KEYS.get(tag)
    if key is not None:
        return key
    if not isinstance(tag, str):
        raise Declined("a comment or processing instruction where an element was expected")
    if tag[0] != "{":
        key = tag.lower()
    else:
        namespace, local = tag[1:].split("}", 1)
        lowered = namespace.lower()
        # Any of UserLand's RSS namespaces is the feed's own, for feedparser.
        prefix = "" if "backend.userland.com/rss" in lowered else _PREFIXES.get(lowered)
        if prefix is None:  # an unknown namespace: feedparser names it by a prefix the document declared for it
            prefix = _written_prefix(element, namespace)
            return f"{prefix}_{local}".lower() if prefix else local.lower()
        key = f"{prefix}_{local}".lower() if prefix else local.lower()
    if len(_KEYS) < _MAX_KEYS:  # documents choose their tags: the memo must not grow without end
        _KEYS[tag] = key
    return key


# Element names by tag, for the tags whose name does not depend on the document's prefixes.
_KEYS: dict[str, str] = {}
_MAX_KEYS = 2000


def _base_of(element, parent: str) -> str:
    """feedparser's base URI for an element: its xml:base (or base) against its parent's."""
    given = element.get(XML_BASE) or element.get("base")
    if not given:
        return parent
    return make_safe_absolute_uri(parent, given) or parent
