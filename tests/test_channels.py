"""Channel identifiers: every kind parsed strictly, links classified, nothing else accepted."""

import pytest

from reader.channels import (
    KINDS,
    InvalidChannelError,
    channel_from_url,
    fediverse_handle,
    is_nobody,
    parse_channel,
    profile_url,
)

VALID = [
    ("email", "ana@ana.example", "ana@ana.example"),
    ("email", "  Ana.Lima+blog@Ana.EXAMPLE ", "Ana.Lima+blog@ana.example"),
    ("email", "mailto:ana@ana.example?subject=hi", "ana@ana.example"),
    ("email", "zoé@exemple.fr", "zoé@exemple.fr"),
    ("email", "ana@café.example", "ana@xn--caf-dma.example"),
    ("matrix", "@ana:matrix.org", "@ana:matrix.org"),
    ("matrix", "@Ana.Lima:example.org:8448", "@ana.lima:example.org:8448"),
    ("matrix", "https://matrix.to/#/@ana:matrix.org", "@ana:matrix.org"),
    ("signal", "+33 6 12 34 56 78", "+33612345678"),
    ("signal", "0033 (6) 12-34-56-78", "+33612345678"),
    ("signal", "https://signal.me/#p/+33612345678", "+33612345678"),
    ("signal", "https://signal.me/#eu/abcDEF123_-", "https://signal.me/#eu/abcDEF123_-"),
    ("telegram", "@ana_lima", "ana_lima"),
    ("telegram", "https://t.me/ana_lima", "ana_lima"),
    ("telegram", "t.me/analima", "analima"),
    ("xmpp", "ana@jabber.example", "ana@jabber.example"),
    ("xmpp", "xmpp:ana@jabber.example/phone?message", "ana@jabber.example"),
    ("whatsapp", "+1 (555) 010-9999", "+15550109999"),
    ("whatsapp", "https://wa.me/15550109999", "+15550109999"),
    ("fediverse", "@ana@mastodon.social", "@ana@mastodon.social"),
    ("fediverse", "ana@Mastodon.Social", "@ana@mastodon.social"),
    ("fediverse", "https://mastodon.social/@ana", "@ana@mastodon.social"),
    ("fediverse", "https://pleroma.example/users/ana_l", "@ana_l@pleroma.example"),
    ("bluesky", "@ana.bsky.social", "ana.bsky.social"),
    ("bluesky", "https://bsky.app/profile/ana.example", "ana.example"),
    ("bluesky", "did:plc:abcdefghijklmnopqrstuvwx", "did:plc:abcdefghijklmnopqrstuvwx"),
    ("contact", "https://ana.example/contact", "https://ana.example/contact"),
    ("webmention", "https://ana.example/wm?x=1", "https://ana.example/wm?x=1"),
]
INVALID = [
    ("email", "ana"),
    ("email", "ana@"),
    ("email", "@ana.example"),
    ("email", "ana@@ana.example"),
    ("email", "ana lima@ana.example"),
    ("email", "ana@localhost"),
    ("email", "ana@ana..example"),
    ("email", "ana@1.2.3.4"),
    ("email", "<script>@x.example"),
    ("email", "a" * 65 + "@ana.example"),
    ("matrix", "ana:matrix.org"),
    ("matrix", "@ana@matrix.org"),
    ("matrix", "@ana:"),
    ("matrix", "@ana:matrix.org:99999"),
    ("matrix", "@an a:matrix.org"),
    ("signal", "0612345678"),
    ("signal", "+0612345678"),
    ("signal", "+33 6"),
    ("signal", "+336123456789012345"),
    ("signal", "https://evil.example/#p/+33612345678"),
    ("telegram", "ana"),
    ("telegram", "1ana_lima"),
    ("telegram", "ana__lima"),
    ("telegram", "ana_lima_"),
    ("telegram", "https://t.me/+AbCdEfGh"),
    ("xmpp", "jabber.example"),
    ("xmpp", "an a@jabber.example"),
    ("whatsapp", "12345"),
    ("whatsapp", "https://wa.me/"),
    ("fediverse", "ana"),
    ("fediverse", "@ana"),
    ("fediverse", "https://mastodon.social/about"),
    ("fediverse", "https://mastodon.social/@ana/12345"),
    ("fediverse", "@a na@mastodon.social"),
    ("bluesky", "ana"),
    ("bluesky", "https://bsky.app/search"),
    ("contact", "javascript:alert(1)"),
    ("contact", "ana.example/contact"),
    ("webmention", "ftp://ana.example/"),
]


@pytest.mark.parametrize(("kind", "typed", "canonical"), VALID)
def test_valid_identifiers_become_canonical(kind, typed, canonical):
    assert parse_channel(kind, typed) == canonical
    assert parse_channel(kind, canonical) == canonical  # canonical values parse to themselves


@pytest.mark.parametrize(("kind", "typed"), INVALID)
def test_anything_else_is_refused_with_what_was_expected(kind, typed):
    with pytest.raises(InvalidChannelError) as refused:
        parse_channel(kind, typed)
    assert KINDS[kind].example in str(refused.value)


def test_every_kind_has_valid_and_invalid_cases():
    assert {kind for kind, _, _ in VALID} == set(KINDS) == {kind for kind, _ in INVALID}


def test_an_empty_value_or_an_unknown_kind_is_refused():
    with pytest.raises(InvalidChannelError, match="type the Email address"):
        parse_channel("email", "  ")
    with pytest.raises(InvalidChannelError, match="unknown kind"):
        parse_channel("pigeon", "rooftop")


@pytest.mark.parametrize(
    ("url", "found"),
    [
        ("mailto:ana@ana.example", ("email", "ana@ana.example")),
        ("MAILTO:Ana@Ana.Example", ("email", "Ana@ana.example")),
        ("mailto:noreply@ana.example", None),
        ("xmpp:ana@jabber.example", ("xmpp", "ana@jabber.example")),
        ("https://matrix.to/#/@ana:matrix.org", ("matrix", "@ana:matrix.org")),
        ("https://t.me/ana_lima", ("telegram", "ana_lima")),
        ("https://signal.me/#p/+33612345678", ("signal", "+33612345678")),
        ("https://wa.me/33612345678", ("whatsapp", "+33612345678")),
        ("https://bsky.app/profile/ana.bsky.social", ("bluesky", "ana.bsky.social")),
        ("https://mastodon.social/@ana", None),  # a fediverse profile only once fetched
        ("https://github.com/ana", None),
        ("https://t.me/+AbCdEf", None),
        ("javascript:alert(1)", None),
        ("mailto:", None),
    ],
)
def test_links_on_pages_are_classified(url, found):
    assert channel_from_url(url) == found


@pytest.mark.parametrize(
    "email", ["noreply@a.example", "No-Reply@a.example", "do-not-reply+x@a.example", "x@a.invalid"]
)
def test_no_reply_addresses_are_nobody(email):
    assert is_nobody(email)


def test_profiles_of_channels():
    assert profile_url("fediverse", "@ana@mastodon.social") == "https://mastodon.social/@ana"
    assert profile_url("bluesky", "ana.bsky.social") == "https://bsky.app/profile/ana.bsky.social"
    assert profile_url("email", "ana@ana.example") is None
    assert fediverse_handle("https://mastodon.social/@ana/") == "@ana@mastodon.social"
