"""Ways to reach a person: the kinds, and strict parsing of their identifiers.

Pure functions of strings, no I/O. A value typed by a user that is not a
valid identifier of its kind is refused with a message saying what was
expected (``InvalidChannelError``); a discovered one is skipped
(``channel_from_url`` returns None). Every stored value is canonical, so the
same address found twice is one channel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from .errors import InvalidInputError
from .urls import http_url


class InvalidChannelError(InvalidInputError):
    pass


@dataclass(frozen=True)
class Kind:
    label: str
    is_private: bool  # a conversation only the two of you see
    example: str  # what to type, shown in forms and in error messages


# In the order a reply menu offers them: private ones first.
KINDS: dict[str, Kind] = {
    "email": Kind("Email", True, "ana@example.org"),
    "signal": Kind("Signal", True, "+33612345678, or a signal.me link"),
    "matrix": Kind("Matrix", True, "@ana:matrix.org"),
    "xmpp": Kind("XMPP", True, "ana@jabber.example"),
    "telegram": Kind("Telegram", True, "@ana_lima"),
    "whatsapp": Kind("WhatsApp", True, "+33612345678"),
    "fediverse": Kind("Fediverse (Mastodon…)", True, "@ana@mastodon.social"),
    "bluesky": Kind("Bluesky", False, "ana.bsky.social"),
    "contact": Kind("Contact page", False, "https://ana.example/contact"),
    "webmention": Kind("Webmention", False, "https://ana.example/webmention"),
}
SOURCES = {
    "user": "typed by you",
    "feed": "from their feed",
    "home_page": "on their home page",
    "profile": "on their profile",
}

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?$")
# RFC 5322 dot-atom, with the letters of any script (RFC 6531): "zoé@exemple.fr" is an address.
_EMAIL_LOCAL = re.compile(r"^[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*$")
_MATRIX = re.compile(r"^@([a-z0-9._=/+-]{1,255}):(.+)$", re.IGNORECASE)
_PORT = re.compile(r"^(.+?)(?::(\d{1,5}))?$")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_PHONE_NOISE = re.compile(r"[\s().\-\u00a0\u2010-\u2015]")
_TELEGRAM = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_)){3,30}[A-Za-z0-9]$")
_JID_LOCAL = re.compile(r"""^[^\s"&'/:<>@]{1,1023}$""")
_FEDI_USER = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?$")
_DID = re.compile(r"^did:(?:plc:[a-z2-7]{24}|web:[A-Za-z0-9.-]+)$")
# Addresses that are not a person's: nobody reads what is sent there.
_NOBODY = re.compile(r"^(?:no-?reply|do-?not-?reply|mailer-daemon|postmaster|bounces?)([+.].*)?$", re.IGNORECASE)


def parse_channel(kind: str, text: str) -> str:
    """The canonical value of a channel typed by a user; ``InvalidChannelError`` if it is not one."""
    if kind not in KINDS:
        raise InvalidChannelError(f"unknown kind of channel {kind!r}")
    text = (text or "").strip()
    if not text:
        raise InvalidChannelError(f"type the {KINDS[kind].label} address, e.g. {KINDS[kind].example}")
    value = _PARSERS[kind](text)
    if value is None:
        raise InvalidChannelError(
            f"not a {KINDS[kind].label} address: {text[:200]!r} (expected e.g. {KINDS[kind].example})"
        )
    return value


def channel_or_none(kind: str, text: str) -> str | None:
    """The canonical value, or None: for discovered values, which are skipped rather than refused."""
    try:
        return parse_channel(kind, text)
    except InvalidChannelError:
        return None


def is_nobody(email: str) -> bool:
    """A no-reply address, or one of a reserved domain: never a way to reach someone."""
    local, _, domain = email.rpartition("@")
    return bool(_NOBODY.match(local)) or domain.endswith((".invalid", ".localhost", ".test")) or domain == "localhost"


# -- each kind ----------------------------------------------------------------------


def _email(text: str) -> str | None:
    if text.lower().startswith("mailto:"):
        text = unquote(text[7:].split("?", 1)[0])
    if len(text) > 254 or text.count("@") != 1:
        return None
    local, domain = text.split("@")
    domain = _domain(domain)
    if domain is None or not local or len(local) > 64 or not _EMAIL_LOCAL.match(local):
        return None
    return f"{local}@{domain}"


def _domain(text: str) -> str | None:
    """A DNS name as its lowercase ASCII (IDNA) form, or None."""
    text = text.strip().rstrip(".").lower()
    try:
        ascii_name = text.encode("idna").decode("ascii") if not text.isascii() else text
    except UnicodeError:
        return None
    return ascii_name if len(ascii_name) <= 253 and _DOMAIN.match(ascii_name) else None


def _server(text: str) -> str | None:
    """A server name with an optional port (Matrix, XMPP): a DNS name; IP literals are refused."""
    match = _PORT.match(text)
    if not match:
        return None
    host, port = match.groups()
    host = _domain(host)
    if host is None or (port is not None and not 0 < int(port) < 65536):
        return None
    return f"{host}:{port}" if port else host


def _matrix(text: str) -> str | None:
    if text.lower().startswith(("https://matrix.to/", "http://matrix.to/")):
        text = unquote(urlsplit(text).fragment.removeprefix("/").split("?", 1)[0])
    match = _MATRIX.match(text)
    if not match:
        return None
    server = _server(match.group(2))
    return f"@{match.group(1).lower()}:{server}" if server else None


def _phone(text: str) -> str | None:
    """E.164: "+", then 8 to 15 digits, the first not 0. Spaces, dots, dashes and brackets are dropped."""
    number = _PHONE_NOISE.sub("", text)
    if number.startswith("00"):
        number = "+" + number[2:]
    return number if _E164.match(number) else None


def _signal(text: str) -> str | None:
    parts = _url_parts(text)
    if parts is not None:
        # signal.me links carry an encrypted username (#eu/…) or a number (#p/+…).
        if parts.netloc.lower() != "signal.me" or not parts.fragment:
            return None
        if parts.fragment.startswith("p/"):
            return _phone(unquote(parts.fragment[2:]))
        return (
            f"https://signal.me/#{parts.fragment}" if re.fullmatch(r"e?u/[A-Za-z0-9_\-+=/.]+", parts.fragment) else None
        )
    return _phone(text)


def _telegram(text: str) -> str | None:
    parts = _url_parts(text)
    if parts is not None:
        if parts.netloc.lower().removeprefix("www.") not in ("t.me", "telegram.me"):
            return None
        text = parts.path.strip("/")
    name = text.removeprefix("@")
    return name if _TELEGRAM.match(name) else None


def _xmpp(text: str) -> str | None:
    if text.lower().startswith("xmpp:"):
        text = unquote(text[5:].lstrip("/").split("?", 1)[0])
    jid = text.split("/", 1)[0]  # a resource names a device, not the person
    if jid.count("@") != 1:
        return None
    local, domain = jid.split("@")
    domain = _domain(domain)
    return f"{local}@{domain}" if domain and _JID_LOCAL.match(local) else None


def _whatsapp(text: str) -> str | None:
    parts = _url_parts(text)
    if parts is not None:
        if parts.netloc.lower().removeprefix("api.") not in ("wa.me", "whatsapp.com") or not parts.path.strip("/"):
            return None
        text = "+" + parts.path.strip("/")
    return _phone(text)


def _fediverse(text: str) -> str | None:
    """``@user@host``, ``user@host``, or a profile URL (``https://host/@user``, ``https://host/users/user``)."""
    parts = _url_parts(text)
    if parts is not None:
        match = re.fullmatch(r"/(?:@|users/|u/)([^/]+)/?", parts.path)
        if not match or parts.query or not parts.hostname:
            return None
        user, host = unquote(match.group(1)), parts.hostname
    else:
        handle = text.removeprefix("@")
        if handle.count("@") != 1:
            return None
        user, host = handle.split("@")
    host = _domain(host)
    return f"@{user}@{host}" if host and _FEDI_USER.match(user) else None


def _bluesky(text: str) -> str | None:
    parts = _url_parts(text)
    if parts is not None:
        match = re.fullmatch(r"/profile/([^/]+)/?", parts.path)
        if parts.netloc.lower() != "bsky.app" or not match:
            return None
        text = unquote(match.group(1))
    handle = text.removeprefix("@").strip()
    if _DID.match(handle):
        return handle
    return _domain(handle)


def _page(text: str) -> str | None:
    return http_url(text) if text.lower().startswith(("http://", "https://")) else None


def _url_parts(text: str):
    """The parts of ``text`` if it is an http(s) URL (with or without the scheme for well-known hosts)."""
    if not text.lower().startswith(("http://", "https://")):
        if re.match(r"^(?:www\.)?(?:t\.me|telegram\.me|wa\.me|signal\.me|bsky\.app|matrix\.to)/", text, re.IGNORECASE):
            text = "https://" + text
        else:
            return None
    url = http_url(text)
    return urlsplit(url) if url else None


_PARSERS = {
    "email": _email,
    "signal": _signal,
    "matrix": _matrix,
    "xmpp": _xmpp,
    "telegram": _telegram,
    "whatsapp": _whatsapp,
    "fediverse": _fediverse,
    "bluesky": _bluesky,
    "contact": _page,
    "webmention": _page,
}


# -- links found on pages ---------------------------------------------------------------------


def channel_from_url(url: str) -> tuple[str, str] | None:
    """The channel a link on someone's page points at (mailto:, xmpp:, matrix.to, t.me, signal.me,
    wa.me, bsky.app), or None. Fediverse profiles are told apart from other ``/@user`` pages only
    by fetching them (``homepage.read_profile``), so they are not recognised here."""
    lowered = url.strip().lower()
    if lowered.startswith("mailto:"):
        value = _email(url.strip())
        return ("email", value) if value and not is_nobody(value) else None
    if lowered.startswith("xmpp:"):
        value = _xmpp(url.strip())
        return ("xmpp", value) if value else None
    parts = _url_parts(url.strip())
    if parts is None:
        return None
    host = parts.netloc.lower().removeprefix("www.")
    for kind, hosts in (
        ("matrix", ("matrix.to",)),
        ("telegram", ("t.me", "telegram.me")),
        ("signal", ("signal.me",)),
        ("whatsapp", ("wa.me", "api.whatsapp.com")),
        ("bluesky", ("bsky.app",)),
    ):
        if host in hosts:
            value = channel_or_none(kind, url.strip())
            return (kind, value) if value else None
    return None


def fediverse_handle(profile_url: str) -> str | None:
    """``@user@host`` for a fediverse profile URL, once the page is known to be one."""
    return _fediverse(profile_url)


def profile_url(kind: str, value: str) -> str | None:
    """A public page for the channel, where there is one: a profile, a contact page."""
    if kind == "fediverse":
        user, host = value.removeprefix("@").split("@")
        return f"https://{host}/@{user}"
    if kind == "bluesky":
        return f"https://bsky.app/profile/{value}"
    if kind == "telegram":
        return f"https://t.me/{value}"
    if kind == "matrix":
        return f"https://matrix.to/#/{value}"
    if kind in ("contact", "webmention"):
        return value
    return None


def display_value(kind: str, value: str) -> str:
    """A channel as people read it: international domains in their own letters."""
    if kind in ("email", "xmpp") and "@" in value:
        local, domain = value.rsplit("@", 1)
        try:
            return f"{local}@{domain.encode('ascii').decode('idna')}"
        except UnicodeError:
            return value
    return value
