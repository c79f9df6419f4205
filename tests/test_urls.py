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
