"""Finding a site's feeds from a page the caller has already fetched.

Everything here is a pure function of bytes and URLs: no network. The caller
fetches a page, asks ``looks_like_feed`` whether it already is a feed, then
``find_feed_links`` for the feeds the page advertises, and falls back to
fetching ``candidate_urls`` in order when the page advertises none.

The input is untrusted HTML from anywhere, so nothing here raises on any bytes,
and only the first ``MAX_SCAN_BYTES`` of a page are looked at.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

from reader.urls import http_url

MAX_SCAN_BYTES = 2 * 1024 * 1024
_SNIFF_BYTES = 4096
# WHATWG "prescan a byte stream to determine its encoding" looks at 1024 bytes.
_META_PRESCAN_BYTES = 1024

# Rough order of how often personal blogs serve a feed at each path, by the
# platforms that use it. "/feed" also reaches WordPress's "/feed/" by redirect.
COMMON_FEED_PATHS: tuple[str, ...] = (
    "/feed",  # Substack, WordPress (redirects to /feed/)
    "/feed/",  # WordPress, write.as
    "/feed.xml",  # Jekyll (jekyll-feed), Eleventy, micro.blog
    "/index.xml",  # Hugo
    "/rss",  # Ghost (redirects to /rss/), Tumblr
    "/rss.xml",  # Gatsby, Zola, many hand-made sites
    "/atom.xml",  # Zola, Hexo, Octopress
    "/feed.json",  # micro.blog, JSON Feed sites
    "/feeds/posts/default",  # Blogger
    "/feeds/all.atom.xml",  # Pelican
    "/?feed=rss2",  # WordPress without pretty permalinks
)


@dataclass(frozen=True)
class FeedLink:
    """A feed a page links to."""

    url: str  # absolute http(s) URL
    title: str | None
    type: str | None  # media type without parameters, lowercase, e.g. "application/rss+xml"


# ---------------------------------------------------------------- sniffing


def looks_like_feed(content: bytes, content_type: str | None = None) -> bool:
    """Whether ``content`` is an RSS, Atom, RDF (RSS 1.0) or JSON feed, judged by the bytes.

    ``content_type`` does not decide anything: servers send feeds as
    ``text/html`` and pages as ``application/xml``. It is accepted so callers
    can pass along what they have.
    """
    window = content[:_SNIFF_BYTES]
    text = _decode_sniff_window(window).lstrip(_XML_SPACE)
    if text.startswith("{"):
        return _mentions_json_feed_version(content[:MAX_SCAN_BYTES])
    root = _root_element(text)
    if root is None:
        return False
    local = root.rpartition(":")[2].lower()
    if local in ("rss", "feed"):
        return True
    if local == "rdf":
        # rdf:RDF is also the root of FOAF, DOAP, ...; RSS 1.0 and 0.90 declare their namespace on it.
        return any(ns in text for ns in _RDF_FEED_NAMESPACES)
    return False


_XML_SPACE = " \t\r\n\ufeff"
_RDF_FEED_NAMESPACES = ("purl.org/rss/1.0", "my.netscape.com/rdf/simple/0.9")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_NAME = re.compile(r"<([A-Za-z_][\w.:-]*)")


def _decode_sniff_window(window: bytes) -> str:
    for bom, encoding in _BOMS:
        if window.startswith(bom):
            return window[len(bom) :].decode(encoding, "replace")
    # UTF-16 without a BOM: "<" next to a zero byte (XML 1.0 appendix F).
    if window[:2] == b"\x00<":
        return window.decode("utf-16-be", "replace")
    if window[:2] == b"<\x00":
        return window.decode("utf-16-le", "replace")
    # Markup is ASCII in every other encoding a feed uses; the rest may be mangled.
    return window.decode("utf-8", "replace")


def _root_element(text: str) -> str | None:
    """The name of the first element, after declarations, comments, doctype and PIs."""
    pos = 0
    while True:
        while pos < len(text) and text[pos] in _XML_SPACE:
            pos += 1
        if text.startswith("<?", pos):
            end = text.find("?>", pos)
            pos = end + 2
        elif text.startswith("<!--", pos):
            end = text.find("-->", pos + 4)
            pos = end + 3
        elif text[pos : pos + 9].upper() == "<!DOCTYPE":
            end = _doctype_end(text, pos)
            pos = end + 1
        else:
            match = _NAME.match(text, pos)
            return match.group(1) if match else None
        if end == -1:
            return None


def _doctype_end(text: str, pos: int) -> int:
    """Index of the ``>`` closing the doctype at ``pos``, skipping an internal subset."""
    close = text.find(">", pos)
    subset = text.find("[", pos)
    if subset == -1 or close == -1 or close < subset:
        return close
    subset_end = text.find("]", subset)
    return -1 if subset_end == -1 else text.find(">", subset_end)


def _mentions_json_feed_version(content: bytes) -> bool:
    # "version" is required but may come after "items" (sorted keys), so look
    # past the sniff window. JSON may escape "/" as "\/".
    return b"jsonfeed.org/version" in content or b"jsonfeed.org\\/version" in content


# ---------------------------------------------------------------- <link> discovery


def find_feed_links(page: bytes, page_url: str, content_type: str | None = None) -> list[FeedLink]:
    """The feeds an HTML page links to, main feeds first and comment feeds last.

    Reads ``<link>`` and ``<a>`` elements anywhere in the document with
    ``rel="alternate"`` and a feed type, or with ``rel="feed"``. URLs are
    resolved against ``<base href>``, then ``page_url``; anything that is not
    http(s) is dropped.
    """
    collector = _LinkCollector()
    collector.scan(_decode_page(page[:MAX_SCAN_BYTES], content_type))
    base = http_url(collector.base_href, page_url) if collector.base_href is not None else None
    links: dict[str, FeedLink] = {}
    for href, title, mime in collector.links:
        url = http_url(href, base or page_url)
        if url is not None and url not in links:
            links[url] = FeedLink(url=url, title=title, type=mime)
    return sorted(links.values(), key=_is_comments_feed)


def _is_comments_feed(link: FeedLink) -> bool:
    return "comments" in link.url.lower() or "comments" in (link.title or "").lower()


_FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/xml",
        "text/xml",
        "application/x-rss+xml",
        "application/x-atom+xml",
    }
)


def _is_feed_link(rel: set[str], mime: str | None, href: str) -> bool:
    if "alternate" not in rel and "feed" not in rel:
        return False
    if mime in _FEED_TYPES:
        return True
    if mime == "application/json":
        # JSON Feed 1.0 advertised itself as application/json, but WordPress
        # also links its REST API (/wp-json/...) that way: take only *.json files.
        return _path_of(href).lower().endswith(".json")
    # rel="feed" (WHATWG, microformats) needs no type; rel="alternate" without one
    # is usually a translation (hreflang) or a print version.
    return mime is None and "feed" in rel


def _path_of(href: str) -> str:
    try:
        return urlsplit(href).path
    except ValueError:
        return ""


_LONE_LT = re.compile(r"<(?![A-Za-z/!?])")


class _LinkCollector(HTMLParser):
    """Collects the first ``<base href>`` and the feed links, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base_href: str | None = None
        self.links: list[tuple[str, str | None, str | None]] = []  # (href, title, type)

    def scan(self, text: str) -> None:
        # Browsers read "<![anything" in HTML as a comment ending at the next ">",
        # as html.parser does "<?"; html.parser itself raises AssertionError on
        # "<![bogus[" (in _markupbase.parse_marked_section).
        text = text.replace("<![", "<?[")
        # A "<" that cannot open a tag is text; html.parser hands each one over
        # separately, which takes seconds on a page of "<<<<...".
        text = _LONE_LT.sub("&lt;", text)
        try:
            self.feed(text)
        except AssertionError:  # other versions of html.parser may find other reasons
            return
        # No close(): a tag, comment or script left open at the end swallows the
        # rest of the document, as in a browser. close() would instead rescan
        # from each following "<", which takes hours on 2 MB of "<a <a <a ...".

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("link", "a", "base"):
            return
        values: dict[str, str] = {}
        for name, value in attrs:
            values.setdefault(name, value or "")  # the first of duplicate attributes wins, as in browsers
        href = values.get("href")
        if href is None:
            return
        if tag == "base":
            if self.base_href is None:
                self.base_href = href
            return
        rel = set(values.get("rel", "").lower().split())
        mime = _media_type(values.get("type"))
        if _is_feed_link(rel, mime, href):
            self.links.append((href, _clean_title(values.get("title")), mime))


def _media_type(value: str | None) -> str | None:
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower() or None


def _clean_title(value: str | None) -> str | None:
    return " ".join((value or "").split()) or None


# ---------------------------------------------------------------- decoding


def _decode_page(data: bytes, content_type: str | None) -> str:
    """Decode HTML as browsers do, roughly: BOM, then HTTP charset, then <meta>, then UTF-8."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, "replace")
    for label in (_charset_from_content_type(content_type), _charset_from_meta(data)):
        text = _decode_with(data, label)
        if text is not None:
            return text
    return data.decode("utf-8", "replace")


_CHARSET = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)
_META = re.compile(rb"<meta\b[^>]*>", re.IGNORECASE)
# WHATWG maps these labels to windows-1252, a superset that browsers actually use.
_WINDOWS_1252_ALIASES = frozenset({"ascii", "iso8859-1", "latin-1"})


def _charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _CHARSET.search(content_type.encode("ascii", "replace"))
    return match.group(1).decode("ascii") if match else None


def _charset_from_meta(data: bytes) -> str | None:
    for meta in _META.finditer(data[:_META_PRESCAN_BYTES]):
        match = _CHARSET.search(meta.group())
        if match:
            label = match.group(1).decode("ascii")
            # WHATWG: a <meta> that could be read as ASCII cannot really mean UTF-16.
            return "utf-8" if label.lower().startswith(("utf-16", "utf-32")) else label
    return None


def _decode_with(data: bytes, label: str | None) -> str | None:
    if not label:
        return None
    try:
        codec = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    name = "cp1252" if codec.name in _WINDOWS_1252_ALIASES else codec.name
    try:
        return data.decode(name, "replace")
    # LookupError for codecs that are not text encodings (base64, zlib, rot13);
    # UnicodeError from idna, which refuses errors="replace".
    except (LookupError, UnicodeError):
        return None


# ---------------------------------------------------------------- guessing


def candidate_urls(page_url: str) -> list[str]:
    """Where a site's feed usually lives: first under the page's directory, then under the site root."""
    url = http_url(page_url)
    if url is None:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    root = f"{parts.scheme}://{parts.netloc}/"
    candidates = []
    directory = _directory_of(parts.path)
    if directory != "/":
        candidates += [http_url(path.lstrip("/"), root + directory.lstrip("/")) for path in COMMON_FEED_PATHS]
    candidates += [http_url(path, root) for path in COMMON_FEED_PATHS]
    return list(dict.fromkeys(c for c in candidates if c is not None))


def _directory_of(path: str) -> str:
    """``/blog/`` for ``/blog/``, ``/blog`` and ``/blog/post.html``."""
    if not path or path.endswith("/"):
        return path or "/"
    head, _, last = path.rpartition("/")
    return f"{head}/" if "." in last else f"{path}/"


# ---------------------------------------------------------------- prepare steps for the pipeline


@dataclass(frozen=True)
class PageSummary:
    """What discovery needs of a fetched page: is it a feed itself, and which feeds does it announce."""

    is_feed: bool
    feed_links: tuple[FeedLink, ...] = ()


def read_page(content: bytes, url: str, headers: dict[str, str]) -> PageSummary:
    """A pipeline prepare step (update.run): runs under the time budget, maybe in a parser process."""
    content_type = headers.get("content-type")
    if looks_like_feed(content, content_type):
        return PageSummary(True)
    return PageSummary(False, tuple(find_feed_links(content, url, content_type)))


def sniff_feed(content: bytes, url: str, headers: dict[str, str]) -> bool:
    """A pipeline prepare step: whether a candidate URL answered with a feed."""
    return looks_like_feed(content, headers.get("content-type"))
