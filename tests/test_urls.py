"""Addresses as people type them."""

import pytest

from reader.urls import feed_url, schemeless_url, typed_http_url


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("example.org/blog", "https://example.org/blog"),
        ("  http://example.org/feed  ", "http://example.org/feed"),
        ("example.org:8080/feed", "https://example.org:8080/feed"),
        ("feed://example.org/rss", "http://example.org/rss"),
        ("feed:https://example.org/rss", "https://example.org/rss"),
        ("//example.org/a", "https://example.org/a"),
        ("café.example/é", "https://café.example/é"),
        ("javascript:alert(1)", None),
        ("mailto:ana@example.org", None),
        ("file:///etc/passwd", None),
        ("data:text/html,x", None),
        ("ftp://example.org/", None),
        ("", None),
        ("https://", None),
    ],
)
def test_typed_addresses(typed, expected):
    assert typed_http_url(typed) == expected


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://ana.example/rss.xml#top", "https://ana.example/rss.xml"),
        ("https://ana.example/rss.xml?", "https://ana.example/rss.xml"),
        ("HTTPS://Ana.Example:443/rss.xml", "https://ana.example/rss.xml"),
        ("http://ana.example:80", "http://ana.example/"),
        (
            "http://ana.example:8080/Carnet/Flux.XML?lang=fr&amp=1#x",
            "http://ana.example:8080/Carnet/Flux.XML?lang=fr&amp=1",
        ),
        ("https://user:p%40ss@Ana.example/feed", "https://user:p%40ss@ana.example/feed"),
        ("https://[2001:DB8::1]:443/feed", "https://[2001:db8::1]/feed"),
        ("javascript:alert(1)", None),
    ],
)
def test_a_feed_address_has_one_stored_form(given, stored):
    assert feed_url(given) == stored


@pytest.mark.parametrize(
    ("written", "taken"),
    [
        ("www.ana.example/feed", "https://www.ana.example/feed"),
        ("ana.example/rss.xml", "https://ana.example/rss.xml"),
        ("//ana.example/rss.xml", "https://ana.example/rss.xml"),
        ("ana.example:8080/flux", "https://ana.example:8080/flux"),
        ("/feed.xml", None),
        ("https://ana.example/", None),  # it has a scheme: nothing to assume
        ("mailto:ana@ana.example", None),
    ],
)
def test_an_address_without_a_scheme_is_taken_as_https(written, taken):
    assert schemeless_url(written) == taken


# Characters that matter to urllib's splitting and joining, and a few that do not.
_URL_PIECES = ["http", "https", "HTTP", "ftp", ":", "//", "/", "///", "?", "#", ";", "&", "=", "@", "[", "]", "..",
               ".", "-", "%20", " ", "\t", "\\", "é", "a", "b", "example.org", ":8080", ":443", "x.y"]  # fmt: skip
_BASES = ["", "https://ana.example/blog/", "http://ana.example/a;p?q#f", "ftp://files.example/", "relative/"]


def test_a_plain_url_is_what_resolving_it_gives():
    """``is_plain_url`` lets http_url and the fast parse path skip urljoin and urlsplit: over many
    generated addresses, wherever it says yes, urllib's answer is the address itself."""
    from urllib.parse import urljoin

    from feedparser.urls import _urljoin

    from reader.urls import _resolved_http_url, is_plain_url

    random = __import__("random").Random(8)
    plain = 0
    for _ in range(40_000):
        value = "".join(random.choice(_URL_PIECES) for _ in range(random.randint(1, 9)))
        if random.random() < 0.5:
            value = random.choice(["http://", "https://"]) + value
        if not is_plain_url(value):
            continue
        plain += 1
        for base in _BASES:
            assert _resolved_http_url(value, base or None) == value, (value, base)
            assert urljoin(base, value) == value == _urljoin(base, value), (value, base)
    assert plain > 2_000  # the generator does reach the fast path


@pytest.mark.parametrize(
    "value",
    ["https://a.example/x?", "https://a.example/x#", "https://a.example/x?#f", "https://a.example/x;p",
     "https://a.example/ x", "https://a.example/é", "HTTPS://a.example/", "https://user@a.example/",
     "https:///a.example", "https://[::1]/", "https://a.example\\x"],
)  # fmt: skip
def test_urls_that_urllib_may_change_are_not_plain(value):
    from reader.urls import is_plain_url

    assert not is_plain_url(value)
