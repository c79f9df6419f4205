"""Reply links for every channel kind and hostile titles, decoded back and compared exactly."""

from datetime import UTC, datetime
from urllib.parse import unquote, unquote_plus, urlsplit

import pytest

from reader.models import Channel, Entry
from reader.reply import default_link, one_line, reply_links

T = datetime(2026, 1, 1, tzinfo=UTC)
POST = "https://ana.example/2026/01/l-ete?ref=a&b=c#fin"

TITLES = {
    "plain": "Le jardin en mai",
    "quotes": """Il a dit « oui » et "non" et 'peut-être'""",
    "ampersand": "Pain & beurre &amp; confiture",
    "hash": "#jardin #potager",
    "percent": "100 % bio, 20%2B moins cher, %0D%0A",
    "plus": "1+1=2 + c++",
    "accents": "Éloge de l’été, œuvre à Noël — ça déçoit ?",
    "cjk": "日本語のタイトル",
    "rtl": "\u05e9\u05dc\u05d5\u05dd \u0627\u0644\u0633\u0644\u0627\u0645 \u200fעברית\u200e mixed",
    "newlines": "Première ligne\nseconde\r\ntroisième\rfin",
    "query chars": "a?b=c&d=e;f=g/h:i@j",
    "long": "Très long titre " * 125,  # 2,000 characters
    "emoji": "Bonne année 🎉🌱",
}
CHANNELS = [
    Channel(1, 9, "email", "ana+blog@ana.example", None, "user", None, T, False, None),
    Channel(2, 9, "signal", "+33612345678", None, "user", None, T, False, None),
    Channel(3, 9, "matrix", "@ana:matrix.example", None, "user", None, T, False, None),
    Channel(4, 9, "xmpp", "ana@jabber.example", None, "user", None, T, False, None),
    Channel(5, 9, "telegram", "ana_lima", None, "user", None, T, False, None),
    Channel(6, 9, "whatsapp", "+33612345678", None, "user", None, T, False, None),
    Channel(7, 9, "fediverse", "@ana@social.example", None, "profile", None, T, True, T),
    Channel(8, 9, "bluesky", "ana.bsky.social", None, "home_page", None, T, False, None),
    Channel(10, 9, "contact", "https://ana.example/contact", None, "home_page", None, T, False, None),
    Channel(11, 9, "webmention", "https://ana.example/wm", None, "home_page", None, T, False, None),
]


def entry(title: str, **values) -> Entry:
    fields = dict(
        id=1, feed_id=1, guid="g", title=title, link=POST, author_name=None, author_email=None, author_url=None,
        excerpt="", published_at=T, updated_at=None, first_seen_at=T, sort_at=T, comments_url=None,
        comments_feed_url=None, comment_count=None, enclosures=(),
    )  # fmt: skip
    return Entry(**{**fields, **values})


def expected_message(title: str) -> str:
    return f"\r\n\r\n> {one_line(title)}\r\n> {POST}\r\n"


def query_fields(url: str, separator: str = "&") -> dict[str, str]:
    """Decode a query by RFC 3986 percent-decoding only (no form rules: "+" is a plus)."""
    query = urlsplit(url).query
    fields = {}
    for part in query.split(separator):
        name, _, value = part.partition("=")
        fields[name] = unquote(value)
    return fields


def assert_plain_ascii(url: str) -> None:
    """Only ASCII, no spaces or raw '+': any client splits and decodes it the same way."""
    assert url.isascii() and " " not in url and "\n" not in url and "\r" not in url
    query = urlsplit(url).query
    assert "+" not in query
    assert urlsplit(url).fragment == ""


@pytest.mark.parametrize("title", TITLES.values(), ids=TITLES.keys())
def test_email_links_decode_back_to_the_subject_and_body(title):
    [link] = [link for link in reply_links(CHANNELS, entry(title)) if link.kind == "email"]
    assert link.url.startswith("mailto:ana+blog@ana.example?")
    assert_plain_ascii(link.url)
    fields = query_fields(link.url)
    assert set(fields) == {"subject", "body"}
    assert fields["subject"] == "Re: " + one_line(title)
    assert fields["body"] == expected_message(title)
    # A client that wrongly applies form decoding still reads the same text.
    assert unquote_plus(urlsplit(link.url).query.split("&")[0].partition("=")[2]) == fields["subject"]


@pytest.mark.parametrize("title", TITLES.values(), ids=TITLES.keys())
def test_whatsapp_xmpp_and_fediverse_links_decode_back_to_the_message(title):
    links = {link.kind: link for link in reply_links(CHANNELS, entry(title), fediverse_instance="https://moi.example")}

    whatsapp = links["whatsapp"].url
    assert whatsapp.startswith("https://wa.me/33612345678?text=")
    assert_plain_ascii(whatsapp)
    assert query_fields(whatsapp)["text"] == expected_message(title)

    xmpp = links["xmpp"].url
    assert xmpp.startswith("xmpp:ana@jabber.example?message;body=")
    assert_plain_ascii(xmpp)
    assert query_fields(xmpp, ";") == {"message": "", "body": expected_message(title)}

    share = links["fediverse"].url
    assert share.startswith("https://moi.example/share?text=")
    assert_plain_ascii(share)
    assert query_fields(share)["text"] == f"@ana@social.example {POST}\r\n\r\n"
    assert "direct" in links["fediverse"].hint


def test_links_that_carry_no_message_go_to_the_right_place():
    links = {link.kind: link for link in reply_links(CHANNELS, entry("x"))}
    assert links["matrix"].url == "https://matrix.to/#/@ana:matrix.example"
    assert links["telegram"].url == "https://t.me/ana_lima"
    assert links["signal"].url == "https://signal.me/#p/+33612345678"
    assert links["bluesky"].url == "https://bsky.app/profile/ana.bsky.social"
    assert links["fediverse"].url == "https://social.example/@ana"  # no server of one's own set: the profile
    assert links["contact"].url == "https://ana.example/contact"
    assert links["webmention"].url is None and "Webmention" in links["webmention"].hint


def test_private_channels_come_first_and_the_preferred_one_leads():
    kinds = [link.kind for link in reply_links(CHANNELS, entry("x"))]
    assert kinds == ["email", "signal", "matrix", "xmpp", "telegram", "whatsapp", "fediverse", "bluesky",
                     "contact", "webmention"]  # fmt: skip
    preferred = [Channel(**{**c.__dict__, "is_preferred": c.kind == "bluesky"}) for c in CHANNELS]
    links = reply_links(preferred, entry("x"))
    assert links[0].kind == "bluesky" and default_link(links).kind == "bluesky"
    assert [link.kind for link in links[1:3]] == ["email", "signal"]


def test_the_posts_own_comments_are_offered_with_their_count():
    post = entry("x", comments_url="https://ana.example/p#comments", comment_count=3,
                 comments_feed_url="https://ana.example/p/feed")  # fmt: skip
    links = reply_links([], post)
    assert [(link.kind, link.label, link.url) for link in links] == [
        ("comments", "Comments on the post (3)", "https://ana.example/p#comments"),
        ("comment_feed", "Read the comments here", "#comments"),
    ]
    assert default_link(links).kind == "comments"
    assert reply_links([], entry("x")) == [] and default_link([]) is None


def test_an_address_with_characters_that_mean_something_in_a_url_is_encoded():
    odd = Channel(1, 9, "email", "a%b?c#d&e@ana.example", None, "user", None, T, False, None)
    [link] = reply_links([odd], entry("x"))
    assert link.url.startswith("mailto:a%25b%3Fc%23d%26e@ana.example?subject=")
    assert unquote(urlsplit(link.url).path) == "a%b?c#d&e@ana.example"
