"""Which URLs Causerie accepts, and how relative ones are resolved.

Only absolute ``http``/``https`` URLs are ever stored as feed URLs, links,
comment URLs or enclosures: a ``javascript:`` or ``file:`` URL from a feed must
never reach a page or the fetcher.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit, urlunsplit

MAX_URL_LENGTH = 2048
_SCHEMES = ("http", "https")
_SPACE = re.compile(r"\s")  # str.isspace()'s characters, found in C rather than a loop of calls


def http_url(value: object, base: str | None = None) -> str | None:
    """Return ``value`` as an absolute http(s) URL, resolved against ``base``, or None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_URL_LENGTH or "\x00" in value:
        return None
    if is_plain_url(value):
        return value  # what the steps below would give back: a tenth of their time
    return _resolved_http_url(value, base)


def _resolved_http_url(value: str, base: str | None) -> str | None:
    if base:
        try:
            value = urljoin(base, value)
        except ValueError:
            return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in _SCHEMES or not parts.hostname:
        return None
    if _SPACE.search(value):
        value = value.replace(" ", "%20")
        if _SPACE.search(value):
            return None
    return value


# An absolute http(s) URL that urljoin (against any base) and urlsplit give back as it is: printable
# ASCII, a plain host, no ";" parameters, no empty query or fragment, which urlunsplit would drop.
# Nearly every link in a feed is one; tests/test_urls.py checks the claim against urllib.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.\-]+(?::[0-9]{1,5})?(?:[/?#][!-:<-~]*)?")


def is_plain_url(value: str) -> bool:
    """Whether ``value`` is an absolute http(s) URL that resolving and checking leave unchanged."""
    return _PLAIN_URL.fullmatch(value) is not None and "?#" not in value and value[-1] not in "?#"


def http_form(url: str) -> str:
    """An https URL's http twin, for a site that does not speak TLS."""
    return "http:" + url.removeprefix("https:")


_DEFAULT_PORTS = {"http": 80, "https": 443}


def feed_url(value: object, base: str | None = None) -> str | None:
    """A feed's address in the one form Causerie stores and compares (``http_url``, then the scheme
    and host in lower case, no default port, no fragment, no empty query, "/" for an empty path):
    "…/rss.xml#top", "…/rss.xml?" and "HTTPS://Example.org:443/rss.xml" are one subscription."""
    url = http_url(value, base)
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def stored_form(url: str) -> str:
    """``url`` as a feed is stored under (``feed_url``), or as given when that form cannot be made."""
    return feed_url(url) or url


def schemeless_url(text: str) -> str | None:
    """An address written without a scheme ("www.example.org/feed", "example.org/rss.xml"), as https;
    None when ``text`` has a scheme or does not start with a host name."""
    text = (text or "").strip()
    if _SCHEME.match(text) or not _HOST_FIRST.match(text):
        return None
    return http_url("https://" + text.removeprefix("//"))


# A host name with at least one dot first: "example.org/…", not "/feed" or "feed.xml" alone.
_HOST_FIRST = re.compile(r"^(//)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:\d+)?(/|$)")


def is_http_url(value: str) -> bool:
    return http_url(value) == value.strip()


def host_of(url: str) -> str:
    """The host name used to group fetches for the per-host limit."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


# "mailto:", "javascript:", "ftp:" … but not "example.org:8080/feed" (a port).
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(?!\d)")


def typed_http_url(text: str) -> str | None:
    """An address as a person types it: "example.org/blog" means https; any other scheme is refused."""
    text = (text or "").strip()
    if text.lower().startswith("feed://"):
        text = "http://" + text[7:]
    elif text.lower().startswith("feed:http"):
        text = text[5:]
    if not _SCHEME.match(text):
        text = "https://" + text.removeprefix("//")
    elif text.split(":", 1)[0].lower() not in _SCHEMES:
        return None
    return http_url(text)


def site_key(url: str) -> str:
    """What makes two home pages the same site: host (without ``www.``), port and path (without a final slash).

    The scheme does not count: http and https of one address are one person's site.
    """
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port and parts.port not in (80, 443) else ""
    except ValueError:
        return url
    host = (parts.hostname or "").lower().removeprefix("www.")
    return f"{host}{port}{parts.path.rstrip('/')}" + (f"?{parts.query}" if parts.query else "")
