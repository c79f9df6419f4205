"""Reading a person's home page and their profiles for ways to reach them. mf2py is used here only.

Pure functions of bytes, URL and headers: the pipeline fetches the page and
runs these as its prepare step, under the parse time budget. The input is
untrusted HTML from anywhere: only the first ``MAX_SCAN_BYTES`` are read,
lists are capped, and nothing here raises on any bytes.

What is taken from a home page: its ``rel="me"`` links (profiles elsewhere,
and messenger links), the representative ``h-card`` (name, photo, email,
urls), ``mailto:`` links (only when the page has no h-card saying which
address is the person's), a Webmention endpoint (HTTP ``Link`` header first,
then the first ``<link>``/``<a rel="webmention">``), and a contact page.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin

from .urls import http_url, site_key

MAX_SCAN_BYTES = 2 * 1024 * 1024
MAX_REL_ME = 20
MAX_EMAILS = 3
_CONTACT_TEXT = re.compile(r"^\s*(contact|contact me|me contacter|contactez-moi|écrivez-moi|écrire)\s*$", re.IGNORECASE)
_CONTACT_PATH = re.compile(r"/(contact|kontakt|contactez-moi|me-contacter)(\.[a-z]+)?/?$", re.IGNORECASE)
_LINK_PART = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_REL_PARAM = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)


@dataclass(frozen=True)
class Card:
    """The h-card that stands for the page's owner."""

    name: str | None = None
    photo: str | None = None
    emails: tuple[str, ...] = ()  # mailto: URLs
    urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class HomePage:
    url: str  # where it was read (after redirects)
    rel_me: tuple[str, ...] = ()
    card: Card | None = None
    mailto: tuple[str, ...] = ()  # mailto: links outside any h-card
    webmention: str | None = None
    contact: str | None = None


@dataclass(frozen=True)
class Profile:
    """A page a home page links to with rel="me": does it link back, and is it a fediverse account?"""

    url: str
    rel_me: tuple[str, ...] = ()
    is_activitypub: bool = False  # announces an ActivityPub actor (Mastodon, Pleroma, Misskey, …)


def read_home_page(content: bytes, url: str, headers: dict[str, str]) -> HomePage:
    """A pipeline prepare step (update.run)."""
    content = content[:MAX_SCAN_BYTES]
    parsed = _mf2(content, url)
    scan = _Scanner.scan(content, url)
    rels = parsed.get("rels", {})
    rel_me = _http_or_messenger(rels.get("me", []))[:MAX_REL_ME]
    webmention = _link_header_webmention(headers.get("link", ""), url)
    if webmention is None and scan.webmention is not None:
        webmention = scan.webmention
    return HomePage(
        url=url,
        rel_me=tuple(rel_me),
        card=_representative_card(parsed.get("items", []), url, rel_me),
        mailto=tuple(scan.mailto[:MAX_EMAILS]),
        webmention=webmention,
        contact=scan.contact,
    )


def read_profile(content: bytes, url: str, headers: dict[str, str]) -> Profile:
    """A pipeline prepare step for a profile page: its rel="me" links and whether it is an ActivityPub actor."""
    scan = _Scanner.scan(content[:MAX_SCAN_BYTES], url)
    content_type = headers.get("content-type", "")
    is_actor = "activity+json" in content_type or "ld+json" in content_type
    return Profile(url=url, rel_me=tuple(scan.rel_me[:MAX_REL_ME]), is_activitypub=is_actor or scan.activitypub)


def links_back(profile: Profile, home_urls: list[str]) -> bool:
    """Whether a profile links back with rel="me" to one of the person's home pages (the Mastodon rule)."""
    homes = {site_key(url) for url in home_urls}
    return any(site_key(link) in homes for link in profile.rel_me)


def _mf2(content: bytes, url: str) -> dict:
    # Imported here: mf2py brings html5lib, BeautifulSoup and requests (~15 MB), which a fetch
    # round with no new person to look into never needs.
    import mf2py

    try:
        # doc= is always given: mf2py fetches a URL only when it has no document.
        return mf2py.parse(doc=content, url=url, metaformats=False)
    except Exception:  # noqa: BLE001 - a hostile page may break html5lib in any way; it then offers nothing
        return {}


def _http_or_messenger(urls: list[str]) -> list[str]:
    kept = []
    for value in urls:
        if not isinstance(value, str):
            continue
        lowered = value.lower()
        if lowered.startswith(("mailto:", "xmpp:")) or http_url(value) == value:
            kept.append(value)
    return list(dict.fromkeys(kept))


def _representative_card(items: list, url: str, rel_me: list[str]) -> Card | None:
    """The h-card of the page's owner: its url is the page (or one of its rel="me"), else the only one."""
    cards = [item for item in items if isinstance(item, dict) and "h-card" in item.get("type", [])]
    page = site_key(url)
    mine = {site_key(link) for link in rel_me} | {page}
    for card in cards:
        urls = [u for u in card.get("properties", {}).get("url", []) if isinstance(u, str)]
        uids = [u for u in card.get("properties", {}).get("uid", []) if isinstance(u, str)]
        if any(site_key(u) == page for u in uids) or any(site_key(u) in mine for u in urls):
            return _card(card)
    return _card(cards[0]) if len(cards) == 1 else None


def _card(item: dict) -> Card:
    properties = item.get("properties", {})

    def strings(name: str) -> list[str]:
        values = []
        for value in properties.get(name, []):
            if isinstance(value, dict):  # {"value": ..., "alt": ...} for photos
                value = value.get("value")
            if isinstance(value, str) and value.strip():
                values.append(value.strip())
        return values

    names = strings("name")
    photos = [p for p in strings("photo") if http_url(p) == p]
    emails = [e if e.lower().startswith("mailto:") else f"mailto:{e}" for e in strings("email")]
    return Card(
        name=" ".join(names[0].split())[:500] if names else None,
        photo=photos[0] if photos else None,
        emails=tuple(dict.fromkeys(emails))[:MAX_EMAILS],
        urls=tuple(dict.fromkeys(u for u in strings("url") if http_url(u) == u or u.lower().startswith("mailto:")))[
            :MAX_REL_ME
        ],
    )


def _link_header_webmention(header: str, base: str) -> str | None:
    """The first ``rel=webmention`` target of an HTTP Link header (RFC 8288), resolved against the page."""
    for target, params in _LINK_PART.findall(header or ""):
        for quoted, bare in _REL_PARAM.findall(params):
            if "webmention" in (quoted or bare).lower().split():
                return _resolve(target.strip(), base)
    return None


def _resolve(href: str | None, base: str) -> str | None:
    if href is None:
        return None
    try:
        return http_url(urljoin(base, href))
    except ValueError:
        return None


class _Scanner(HTMLParser):
    """One pass over the page for what mf2py does not give: mailto links, the contact page, the
    first Webmention link in document order, rel="me" (for profiles) and an ActivityPub alternate.

    Links are kept as written and resolved at the end: the document's base URL is its first
    ``<base href>`` wherever it stands, even after the links (webmention.rocks' base-element test).
    """

    def __init__(self, url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.url = url
        self.base_href: str | None = None
        self.mailto: list[str] = []
        self.activitypub = False
        self._rel_me: list[str] = []
        self._webmention: str | None = None
        self._contacts: list[tuple[str, str]] = []  # (href, how it was marked: "rel", "path" or link text)
        self._card_depth = 0  # inside an h-card (mailto there is the card's business)
        self._depth = 0
        self._link: str | None = None  # an <a> whose text may say "Contact"
        self._link_text = ""
        self._links = 0
        self.rel_me: list[str] = []
        self.webmention: str | None = None
        self.contact: str | None = None

    @classmethod
    def scan(cls, content: bytes, url: str) -> _Scanner:
        scanner = cls(url)
        text = content.decode("utf-8", "replace").replace("<![", "<?[")
        text = re.sub(r"<(?![A-Za-z/!?])", "&lt;", text)  # lone "<": see discover._LinkCollector
        with contextlib.suppress(AssertionError, ValueError):  # html.parser's own complaints: keep what was read
            scanner.feed(text)
        scanner._resolve_all()
        return scanner

    def _resolve_all(self) -> None:
        base = _resolve(self.base_href, self.url) if self.base_href is not None else None
        base = base or self.url
        for href in self._rel_me:
            target = href if href.lower().startswith(("mailto:", "xmpp:")) else _resolve(href, base)
            if target and target not in self.rel_me:
                self.rel_me.append(target)
        if self._webmention is not None:
            self.webmention = _resolve(self._webmention, base)  # an empty href is the page itself
        for href, _ in self._contacts:
            target = _resolve(href, base)
            if target and self._same_site(target):
                self.contact = target
                break

    def _same_site(self, url: str) -> bool:
        """A contact page counts only on the person's own site, not a link to someone else's."""
        return site_key(url).split("/")[0] == site_key(self.url).split("/")[0]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values: dict[str, str] = {}
        for name, value in attrs:
            values.setdefault(name, value or "")
        classes = values.get("class", "").split()
        if tag not in _VOID:
            self._depth += 1
            if self._card_depth or "h-card" in classes or "vcard" in classes:
                self._card_depth += 1
        if tag == "base" and "href" in values and self.base_href is None:
            self.base_href = values["href"]
        if tag not in ("a", "link") or "href" not in values:
            return
        self._links += 1
        if self._links > 20_000:
            return
        href = values["href"].strip()
        rels = values.get("rel", "").lower().split()
        if "webmention" in rels and self._webmention is None:
            self._webmention = href
        if "me" in rels and len(self._rel_me) < MAX_REL_ME:
            self._rel_me.append(href)
        if tag == "link" and "alternate" in rels and "activity+json" in values.get("type", ""):
            self.activitypub = True
        if tag != "a":
            return
        if href.lower().startswith("mailto:"):
            if not self._card_depth and len(self.mailto) < MAX_EMAILS:
                self.mailto.append(href)
        elif "contact" in rels or _CONTACT_PATH.search(href.split("?")[0].split("#")[0]):
            self._contacts.append((href, "rel" if "contact" in rels else "path"))
        else:
            self._link, self._link_text = href, ""

    def handle_data(self, data: str) -> None:
        if self._link is not None and len(self._link_text) < 100:
            self._link_text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link is not None:
            if _CONTACT_TEXT.match(self._link_text) and len(self._contacts) < 20:
                self._contacts.append((self._link, "text"))
            self._link = None
        if tag not in _VOID and self._depth:
            self._depth -= 1
            if self._card_depth:
                self._card_depth -= 1


_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
