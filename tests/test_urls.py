"""Addresses as people type them."""

import pytest

from reader.urls import typed_http_url


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
