import codecs
import random
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from reader.discover import (
    COMMON_FEED_PATHS,
    MAX_SCAN_BYTES,
    FeedLink,
    candidate_urls,
    find_feed_links,
    looks_like_feed,
)

DATA = Path(__file__).parent / "data" / "discover"

RSS = "application/rss+xml"
ATOM = "application/atom+xml"


# Each page with the URL it was served from and the links expected from it, in order.
PAGES = {
    "wordpress.html": (
        "https://adelaide.example/2024/03/spring-notes/",
        [
            FeedLink("https://adelaide.example/feed/", "Adélaïde's Notebook » Feed", RSS),
            FeedLink("https://adelaide.example/comments/feed/", "Adélaïde's Notebook » Comments Feed", RSS),
            FeedLink(
                "https://adelaide.example/2024/03/spring-notes/feed/",
                "Adélaïde's Notebook » Spring notes Comments Feed",
                RSS,
            ),
        ],
    ),
    "blogger.html": (
        "https://birdsofthemarsh.blogspot.com/2023/11/first-frost.html",
        [
            FeedLink("https://birdsofthemarsh.blogspot.com/feeds/posts/default", "Birds of the Marsh - Atom", ATOM),
            FeedLink(
                "https://birdsofthemarsh.blogspot.com/feeds/posts/default?alt=rss", "Birds of the Marsh - RSS", RSS
            ),
            FeedLink(
                "https://birdsofthemarsh.blogspot.com/feeds/4188712290317740001/comments/default",
                "Birds of the Marsh - Atom",
                ATOM,
            ),
        ],
    ),
    "hugo.html": (
        "https://field.example/notes/posts/hello-again/",
        [
            FeedLink("https://field.example/notes/index.xml", "Field Notes", RSS),
            FeedLink("https://field.example/notes/tags/index.xml", "Tags", RSS),
        ],
    ),
    "jsonfeed.html": (
        "https://kit.micro.example/",
        [
            FeedLink("https://kit.micro.example/feed.xml", "Kit", RSS),
            FeedLink("https://kit.micro.example/feed.json", "Kit (JSON Feed)", "application/feed+json"),
            FeedLink("https://kit.micro.example/podcast.json", "Podcast (JSON Feed 1.0)", "application/json"),
        ],
    ),
    "no_links.html": ("https://pond.example/", []),
    "uppercase.html": (
        "http://www.rene.example/~rene/index.html",
        [FeedLink("http://www.rene.example/rss.xml", "René's Café Diary", RSS)],
    ),
    "rel_tokens.html": (
        "https://sam.example/",
        [
            FeedLink("https://sam.example/feed.atom", "Sam Example", ATOM),
            FeedLink("https://sam.example/notes/", None, None),
        ],
    ),
    "hostile.html": (
        "https://prizes.example/win/",
        [
            FeedLink("https://prizes.example/atom.xml", "Real", ATOM),
            FeedLink("https://prizes.example/after-bogus.xml", None, RSS),
        ],
    ),
}


@pytest.mark.parametrize("name", PAGES)
def test_find_feed_links_returns_the_feeds_a_page_advertises(name):
    page_url, expected = PAGES[name]
    assert find_feed_links((DATA / name).read_bytes(), page_url) == expected


def test_find_feed_links_ignores_rest_api_oembed_and_service_links():
    urls = [link.url for link in find_feed_links((DATA / "wordpress.html").read_bytes(), "https://x.example/")]
    assert not any("wp-json" in url or "blogger.com" in url for url in urls)


def test_find_feed_links_puts_comment_feeds_last_keeping_document_order():
    page = b"""<head>
    <link rel="alternate" type="application/rss+xml" title="Comments" href="/c1">
    <link rel="alternate" type="application/rss+xml" title="Posts" href="/posts">
    <link rel="alternate" type="application/rss+xml" href="/comments.xml">
    <link rel="alternate" type="application/atom+xml" title="Links" href="/links">
    </head>"""
    urls = [link.url for link in find_feed_links(page, "https://x.example/")]
    assert urls == [
        "https://x.example/posts",
        "https://x.example/links",
        "https://x.example/c1",
        "https://x.example/comments.xml",
    ]


def test_find_feed_links_resolves_links_before_base_against_base():
    page = b"""<link rel="alternate" type="application/rss+xml" href="feed.xml">
    <base href="https://cdn.example/blog/"><base href="https://ignored.example/">"""
    assert [link.url for link in find_feed_links(page, "https://x.example/a/b")] == [
        "https://cdn.example/blog/feed.xml"
    ]


def test_find_feed_links_accepts_xml_types_and_strips_type_parameters():
    page = b"""<link rel=alternate type="text/xml" href=/a.xml>
    <link rel=alternate type="application/xml" href=/b.xml>
    <link rel=alternate type="application/rss+xml; charset=utf-8" href=/c.xml>"""
    links = find_feed_links(page, "https://x.example/")
    assert [link.type for link in links] == ["text/xml", "application/xml", RSS]


def test_find_feed_links_dedupes_by_resolved_url_keeping_the_first():
    page = b"""<link rel="alternate" type="application/atom+xml" title="Atom" href="/feed">
    <a rel="feed" href="https://x.example/feed">feed</a>"""
    assert find_feed_links(page, "https://x.example/") == [FeedLink("https://x.example/feed", "Atom", ATOM)]


def test_find_feed_links_decodes_with_the_http_charset_before_meta():
    page = '<meta charset="utf-8"><link rel=alternate type=application/rss+xml title="Café" href=/f>'
    (link,) = find_feed_links(page.encode("latin-1"), "https://x.example/", "text/html; charset=ISO-8859-1")
    assert link.title == "Café"


def test_find_feed_links_replaces_undecodable_bytes_instead_of_failing():
    page = b'<link rel=alternate type=application/rss+xml title="Caf\xe9 \xff" href=/f>'
    (link,) = find_feed_links(page, "https://x.example/")
    assert link.title == "Caf\ufffd \ufffd"


@pytest.mark.parametrize("charset", ["idna", "base64", "rot13", "no-such-charset", "utf-8\x00"])
def test_find_feed_links_falls_back_to_utf8_on_unusable_charsets(charset):
    page = b'<link rel=alternate type=application/rss+xml href="/feed">'
    assert find_feed_links(page, "https://x.example/", f"text/html; charset={charset}") == [
        FeedLink("https://x.example/feed", None, RSS)
    ]


def test_find_feed_links_reads_a_utf16_page_with_bom():
    page = '<link rel=alternate type=application/rss+xml title="Ünïcode" href=/f>'
    (link,) = find_feed_links(codecs.BOM_UTF16_LE + page.encode("utf-16-le"), "https://x.example/")
    assert link.title == "Ünïcode"


def test_find_feed_links_drops_relative_links_when_page_url_is_not_http():
    page = b"""<link rel=alternate type=application/rss+xml href=/relative>
    <link rel=alternate type=application/rss+xml href=https://x.example/absolute>"""
    assert [link.url for link in find_feed_links(page, "file:///srv/page.html")] == ["https://x.example/absolute"]


def test_find_feed_links_stops_scanning_after_the_size_limit():
    link = b'<link rel="alternate" type="application/rss+xml" href="/late">'
    page = b"<p>" + b"x" * MAX_SCAN_BYTES + b"</p>" + link
    assert find_feed_links(page, "https://x.example/") == []
    assert len(find_feed_links(link + page, "https://x.example/")) == 1


@pytest.mark.parametrize(
    "page",
    [
        b"",
        b"<" * 100_000,
        b"<a " * 100_000,
        b"<!--" * 100_000,
        b"<![bogus[" * 1000,
        b'<link rel=alternate type=application/rss+xml href="' + b"x" * 100_000,
        b"\x00\xff\xfe" * 1000,
        b"<base href='http://[::1'><link rel=alternate type=application/rss+xml href=/f>",
    ],
    ids=["empty", "lt", "open-tags", "open-comments", "bogus-marked-sections", "open-quote", "binary", "bad-base"],
)
def test_find_feed_links_returns_a_list_for_hostile_input(page):
    assert isinstance(find_feed_links(page, "https://x.example/"), list)


def test_discovery_never_raises_on_random_markup():
    pieces = [
        b"<", b">", b"<!", b"<![", b"<!--", b"-->", b"<?", b"</", b"<a ", b"<link ", b"<base ", b"href=",
        b'"', b"'", b"rel=alternate ", b"rel=feed ", b"type=application/rss+xml ", b"&#", b"&#x110000;",
        b"\x00", b"\xff", codecs.BOM_UTF8, codecs.BOM_UTF16_BE, b"<script>", b"</script>", b"<!DOCTYPE", b"[",
        b"]]>", b"javascript:", b"http://", b"//", b"[::1", b"x", b" ", b"{", b"jsonfeed.org/version",
        b"<rss", b"<rdf:RDF", b"<meta charset=", b"utf-16", b"idna",
    ]  # fmt: skip
    rng = random.Random(20240501)
    for _ in range(3000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(40)))
        text = data.decode("latin-1")
        content_type = f"text/html; charset={text[:12]}"
        assert isinstance(find_feed_links(data, "https://x.example/a/", content_type), list)
        assert isinstance(find_feed_links(data, text[:30]), list)
        assert isinstance(looks_like_feed(data, content_type), bool)
        assert all(url.startswith(("http://", "https://")) for url in candidate_urls(text[:60]))


# ---------------------------------------------------------------- looks_like_feed

FEED_FILES = {
    "rss_bom_doctype.xml": True,
    "atom.xml": True,
    "rdf.xml": True,
    "feed.json": True,
    "wordpress.html": False,
    "page.xhtml": False,
    "sitemap.xml": False,
}


@pytest.mark.parametrize("name", FEED_FILES)
def test_looks_like_feed_recognises_feeds_by_their_root(name):
    assert looks_like_feed((DATA / name).read_bytes()) is FEED_FILES[name]


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("atom.xml", "text/html; charset=utf-8"), ("wordpress.html", "application/rss+xml")],
)
def test_looks_like_feed_does_not_trust_content_type(name, content_type):
    assert looks_like_feed((DATA / name).read_bytes(), content_type) is FEED_FILES[name]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_looks_like_feed_reads_utf16_and_utf32(encoding):
    feed = '<?xml version="1.0" encoding="UTF-16"?>\n<feed xmlns="http://www.w3.org/2005/Atom"/>'
    assert looks_like_feed(feed.encode(encoding))


@pytest.mark.parametrize(
    "content",
    [
        b'\n\n  <?xml version="1.0"?><rss version="2.0"/>',
        b'<rss:rss xmlns:rss="http://purl.org/rss/2.0/"/>',
        b'{"items": [], "title": "x", "version": "https:\\/\\/jsonfeed.org\\/version\\/1"}',
        b'{"items": [' + b'{"id": "1"},' * 2000 + b'{}], "version": "https://jsonfeed.org/version/1.1"}',
    ],
    ids=["leading-whitespace", "prefixed-root", "escaped-slashes", "version-after-4kb"],
)
def test_looks_like_feed_accepts_feed_variants(content):
    assert looks_like_feed(content)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"   ",
        b"<?xml version='1.0'?>",
        b"<!-- unterminated <rss>",
        b"<!DOCTYPE rss [ <!ENTITY x 'y'>",
        b'{"version": 1, "items": []}',
        b'<?xml version="1.0"?><opml version="2.0"/>',
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:foaf="http://xmlns.com/foaf/0.1/"/>',
        b"<!-- comment -->" * 300 + b"<rss/>",
        b"not xml <rss>",
    ],
    ids=[
        "empty",
        "blank",
        "declaration-only",
        "open-comment",
        "open-doctype",
        "plain-json",
        "opml",
        "foaf-rdf",
        "root-after-4kb",
        "text",
    ],
)
def test_looks_like_feed_rejects_non_feeds(content):
    assert not looks_like_feed(content)


# ---------------------------------------------------------------- candidate_urls


def test_candidate_urls_for_a_site_root_follow_common_feed_paths():
    assert candidate_urls("https://x.org/") == [f"https://x.org{path}" for path in COMMON_FEED_PATHS]
    assert candidate_urls("https://x.org") == candidate_urls("https://x.org/")


def test_candidate_urls_try_the_page_directory_before_the_root():
    urls = candidate_urls("https://x.org/blog/?page=2#top")
    n = len(COMMON_FEED_PATHS)
    assert urls[:n] == [f"https://x.org/blog/{path.lstrip('/')}" for path in COMMON_FEED_PATHS]
    assert urls[n:] == candidate_urls("https://x.org/")
    assert "https://x.org/blog/?feed=rss2" in urls


@pytest.mark.parametrize(
    ("page_url", "directory"),
    [
        ("https://x.org/blog", "https://x.org/blog/"),
        ("https://x.org/blog/post.html", "https://x.org/blog/"),
        ("https://x.org/~ann/", "https://x.org/~ann/"),
    ],
)
def test_candidate_urls_use_the_directory_of_a_page(page_url, directory):
    assert candidate_urls(page_url)[0] == directory + "feed"


def test_candidate_urls_for_a_file_at_the_root_are_root_only():
    assert candidate_urls("https://x.org/index.html") == candidate_urls("https://x.org/")


def test_candidate_urls_are_unique():
    urls = candidate_urls("https://x.org/feed/")
    assert len(urls) == len(set(urls))


@pytest.mark.parametrize("page_url", ["", "javascript:alert(1)", "ftp://x.org/", "/blog/", "http://[::1"])
def test_candidate_urls_are_empty_for_non_http_urls(page_url):
    assert candidate_urls(page_url) == []


def test_candidate_urls_stay_on_the_page_host():
    urls = candidate_urls("https://x.org//evil.example/blog/")
    assert {urlsplit(url).hostname for url in urls} == {"x.org"}
