"""Feed HTML → HTML safe to show. bleach is used here and only here.

The allowlist is data, below. Whatever a feed sends, the output holds only
these tags and attributes, and URLs only with these schemes. On top of bleach's
own cleaning, a filter resolves relative URLs against the entry's base and
adds the attributes that keep a reader private (no referrer, no opener, lazy
images).
"""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "acronym", "address", "article", "aside", "audio", "b", "bdi", "bdo", "blockquote",
        "br", "caption", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl",
        "dt", "em", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
        "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "picture", "pre", "q", "rp", "rt", "ruby", "s",
        "samp", "section", "small", "source", "span", "strike", "strong", "sub", "summary", "sup", "table",
        "tbody", "td", "tfoot", "th", "thead", "time", "tr", "track", "u", "ul", "var", "video", "wbr",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": ["href", "title"],
    "abbr": ["title"],
    "acronym": ["title"],
    "audio": ["src", "controls", "preload"],
    "blockquote": ["cite"],
    "col": ["span"],
    "colgroup": ["span"],
    "del": ["cite", "datetime"],
    "img": ["src", "alt", "title", "width", "height"],
    "ins": ["cite", "datetime"],
    "li": ["value"],
    "ol": ["start", "reversed", "type"],
    "q": ["cite"],
    "source": ["src", "type", "media"],
    "td": ["colspan", "rowspan", "headers"],
    "th": ["colspan", "rowspan", "headers", "scope"],
    "time": ["datetime"],
    "track": ["src", "kind", "label", "srclang"],
    "video": ["src", "controls", "poster", "preload", "width", "height"],
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
URL_ATTRIBUTES = frozenset({"href", "src", "cite", "poster"})

# Their content is code or layout, never text to read: drop it, not just the tags.
_INVISIBLE = re.compile(r"<(script|style|template|noscript)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
# Only "<" followed by a letter, "/", "!" or "?" opens a tag (or comment) in HTML;
# any other "<" is text ("1 < 2"), and matching it would eat the text up to the next ">".
_TAG = re.compile(r"<[A-Za-z/!?][^>]*>")
_BLOCK_END = re.compile(r"</(p|div|li|h[1-6]|blockquote|pre|tr|br)\s*>|<br\s*/?>", re.IGNORECASE)


def clean_html(value: str | None, base_url: str | None = None) -> str:
    """Sanitize feed HTML against the allowlist; resolve relative URLs against ``base_url``."""
    if not value:
        return ""
    # Imported at the first use: bleach and its html5lib are ~8 MB that a fetch never needs
    # (content is sanitized at first view, docs/design.md).
    import bleach

    value = _INVISIBLE.sub("", value)
    cleaner = bleach.Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        strip=True,
        strip_comments=True,
        filters=[lambda source: _PrivacyFilter(source, base_url)],
    )
    return cleaner.clean(value)


class _PrivacyFilter:
    """Runs after bleach's sanitizer: resolves URLs and adds privacy attributes.

    An html5lib filter: it wraps the token stream before it and passes on what it does not
    change (as html5lib's ``Filter`` base, which would import bleach with this module)."""

    def __init__(self, source, base_url: str | None) -> None:
        self.source = source
        self.base_url = base_url

    def __getattr__(self, name: str):
        return getattr(self.source, name)

    def __iter__(self):
        for token in self.source:
            if token["type"] in ("StartTag", "EmptyTag"):
                token = self._rewrite(token)
                if token is None:
                    continue
            yield token

    def _rewrite(self, token: dict) -> dict | None:
        attrs = dict(token["data"])
        for key in list(attrs):
            if key[1] in URL_ATTRIBUTES:
                url = self._resolve(attrs[key])
                if url is None:
                    del attrs[key]
                else:
                    attrs[key] = url
        name = token["name"]
        if name == "a" and (None, "href") in attrs:
            attrs[(None, "rel")] = "noopener noreferrer nofollow"
            attrs[(None, "target")] = "_blank"
        elif name == "img":
            if (None, "src") not in attrs:
                return None  # an image with nothing to show
            attrs[(None, "loading")] = "lazy"
            attrs[(None, "referrerpolicy")] = "no-referrer"
            attrs[(None, "decoding")] = "async"
        token["data"] = attrs
        return token

    def _resolve(self, value: str) -> str | None:
        value = value.strip()
        if not value:
            # An empty src/href would resolve to the entry page itself (an <img>
            # fetching HTML); it points nowhere, so drop it like any unusable URL.
            return None
        if value.startswith("#"):
            return value
        if value.split(":", 1)[0].lower() in ALLOWED_PROTOCOLS:
            # Already absolute: keep it as bleach passed it. urljoin would rebuild it
            # and drop an empty ";" parameter ("https://x/a;" -> "https://x/a"),
            # which also turns bleach's "&amp;" into "&amp" so that cleaning the
            # output again changes it (OWASP's character references without ";").
            return value
        try:
            url = urljoin(self.base_url, value) if self.base_url else value
        except ValueError:
            return None
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        # bleach let it through, so a scheme-less URL is relative; after joining
        # it must have one of ours, or it cannot be followed safely.
        if scheme not in ALLOWED_PROTOCOLS:
            return None if self.base_url or scheme else url
        return url


def to_text(value: str | None) -> str:
    """Plain text of an HTML fragment, for search and excerpts (always shown escaped).

    A regular expression rather than an HTML parser: this runs on every entry
    at ingest, and its output is never interpreted as HTML.
    """
    if not value:
        return ""
    if "<" in value:
        value = _INVISIBLE.sub(" ", value)
        value = _BLOCK_END.sub(" ", value)
        value = _TAG.sub("", value)
    if "&" in value:
        value = html.unescape(value)
    # str.split() finds the same whitespace as the \s+ it replaces, three times faster.
    return " ".join(value.split())


def excerpt(text: str, length: int = 280) -> str:
    """The first ``length`` characters of ``text``, cut at a word boundary."""
    if len(text) <= length:
        return text
    cut = text[:length].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-—") + "…"
