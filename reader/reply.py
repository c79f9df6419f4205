"""From a post and its author's channels to the links that start a reply. Pure: no I/O.

Each link is built by Causerie from a channel's canonical value and the
post's title and address, percent-encoded for its scheme, whatever the title
holds (quotes, ``&``, ``#``, ``%``, ``+``, newlines, right-to-left text, two
thousand characters). Nothing here widens what the sanitizer lets through
from feeds: these schemes (mailto:, xmpp:) appear only in links made here.

Causerie never sends anything: a link opens the user's own app or account,
prefilled, and the user decides. No tracking is ever added to a link.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from .channels import KINDS, display_value, profile_url
from .models import Channel, Entry

# Every character outside RFC 3986's unreserved set is percent-encoded in
# values: "+" as %2B, a space as %20, so any decoder reads back the same text,
# whether it follows RFC 6068 (mailto) or form-encoding rules.
_VALUE_SAFE = ""


@dataclass(frozen=True)
class ReplyLink:
    kind: str
    label: str  # what the menu says: "Email ana@ana.example"
    url: str | None  # None: nothing to open (a Webmention endpoint is for sites, not people)
    is_private: bool
    channel_id: int | None = None
    hint: str | None = None  # a sentence shown with the link


def reply_links(channels: list[Channel], entry: Entry, *, fediverse_instance: str | None = None) -> list[ReplyLink]:
    """The ways to reply to ``entry``: the preferred channel first, then private ones, then public ones,
    then the post's own comments."""
    ordered = sorted(channels, key=lambda c: not c.is_preferred)  # stable: keeps the kinds' order
    links = [_link(channel, entry, fediverse_instance) for channel in ordered]
    links = [link for link in links if link is not None]
    preferred = [link for link in links[:1] if ordered and ordered[0].is_preferred]
    rest = links[len(preferred) :]
    links = preferred + [link for link in rest if link.is_private] + [link for link in rest if not link.is_private]
    links += _comment_links(entry)
    return links


def default_link(links: list[ReplyLink]) -> ReplyLink | None:
    """The one-click reply: the preferred channel, else the first private one, else the first that opens."""
    usable = [link for link in links if link.url]
    return usable[0] if usable else None


def quote_text(entry: Entry) -> str:
    """What a message starts with: the post's title and address, quoted."""
    lines = [f"> {one_line(entry.title)}" if entry.title else None, f"> {entry.link}" if entry.link else None]
    return "\r\n".join(line for line in lines if line)


def one_line(text: str) -> str:
    """A title as one line (a subject cannot hold a line break)."""
    return text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")


def _link(channel: Channel, entry: Entry, instance: str | None) -> ReplyLink | None:
    kind, value = channel.kind, channel.value
    shown = display_value(kind, value)
    private = KINDS[kind].is_private
    subject = f"Re: {one_line(entry.title)}" if entry.title else "Re: your post"
    message = _message(entry)
    if kind == "email":
        url = f"mailto:{_address(value)}?subject={_enc(subject)}&body={_enc(message)}"
        return ReplyLink(kind, f"Email {shown}", url, private, channel.id)
    if kind == "matrix":
        return ReplyLink(kind, f"Matrix {shown}", f"https://matrix.to/#/{quote(value, safe='@:')}", private, channel.id,
                         hint="Matrix links carry no message: paste the post's address yourself.")  # fmt: skip
    if kind == "telegram":
        return ReplyLink(kind, f"Telegram @{value}", f"https://t.me/{quote(value, safe='')}", private, channel.id)
    if kind == "signal":
        url = f"https://signal.me/#p/{quote(value, safe='+')}" if value.startswith("+") else value
        return ReplyLink(kind, "Signal", url, private, channel.id)
    if kind == "whatsapp":
        url = f"https://wa.me/{value.removeprefix('+')}?text={_enc(message)}"
        return ReplyLink(kind, "WhatsApp", url, private, channel.id)
    if kind == "xmpp":
        url = f"xmpp:{quote(value, safe='@')}?message;body={_enc(message)}"
        return ReplyLink(kind, f"XMPP {shown}", url, private, channel.id)
    if kind == "fediverse":
        return _fediverse(channel, entry, instance)
    if kind == "bluesky":
        return ReplyLink(kind, f"Bluesky {value}", profile_url(kind, value), private, channel.id)
    if kind == "contact":
        return ReplyLink(kind, "Their contact page", value, private, channel.id)
    if kind == "webmention":
        return ReplyLink(kind, "Webmention", None, private, channel.id,
                         hint="Their site accepts Webmentions: a reply you post on your own site, linking to "
                              "this post, shows up under it.")  # fmt: skip
    return None


def _fediverse(channel: Channel, entry: Entry, instance: str | None) -> ReplyLink:
    handle = channel.value
    label = f"Fediverse {handle}"
    if instance:
        # Mastodon's (and compatible servers') share page, prefilled; it cannot preset
        # the visibility, so the user is told to choose it.
        text = f"{handle} {entry.link or ''}".rstrip() + "\n\n"
        hint = "Choose “Mentioned people only” (direct) before sending, to keep it private."
        return ReplyLink("fediverse", label, f"{instance}/share?text={_enc(text)}", True, channel.id, hint)
    hint = "Set your own server in Settings to write to them from it; this is their profile."
    return ReplyLink("fediverse", label, profile_url("fediverse", handle), True, channel.id, hint)


def _comment_links(entry: Entry) -> list[ReplyLink]:
    links = []
    if entry.comments_url:
        count = f" ({entry.comment_count})" if entry.comment_count is not None else ""
        links.append(ReplyLink("comments", f"Comments on the post{count}", entry.comments_url, False))
    if entry.comments_feed_url:
        links.append(ReplyLink("comment_feed", "Read the comments here", "#comments", False))
    return links


def _message(entry: Entry) -> str:
    return "\r\n\r\n" + quote_text(entry) + "\r\n" if quote_text(entry) else ""


def _enc(text: str) -> str:
    """Percent-encode a value as UTF-8; line breaks as CRLF (RFC 6068 asks for %0D%0A)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    return quote(text, safe=_VALUE_SAFE)


def _address(email: str) -> str:
    """An address in a mailto: URL: "%", "?", "#" and "&" in a local part must be encoded (RFC 6068 §2)."""
    return quote(email, safe="@!$'()*+,;=-._~")
