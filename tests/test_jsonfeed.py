from datetime import UTC, datetime
from pathlib import Path

import pytest

from reader.errors import ParseError
from reader.jsonfeed import looks_like_json_feed, parse_json_feed
from reader.models import Enclosure, ParsedEntry, ParsedFeed
from reader.parse import parse_feed

DATA = Path(__file__).parent / "data" / "jsonfeed"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "feeds"
FEED_URL = "https://ana.example/blog/feed.json"
V11 = b'"version": "https://jsonfeed.org/version/1.1"'


def parse_file(name: str, url: str = FEED_URL) -> ParsedFeed:
    return parse_json_feed((DATA / name).read_bytes(), url)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_full_1_1_feed_resolves_relative_urls_and_maps_every_field():
    guest = {"author_name": "Guest", "author_url": "https://ana.example/guest/"}
    ana = {"author_name": "Ana", "author_email": "ana@ana.example"}
    assert parse_file("full_1_1.json") == ParsedFeed(
        url=FEED_URL,
        title="Ana's Notebook",
        site_url="https://ana.example/",
        author_name="Ana",
        author_email="ana@ana.example",
        entries=(
            ParsedEntry(
                guid="tag:ana.example,2024:1",
                title="First <post>",
                link="https://ana.example/2024/01/first",
                **guest,
                summary="Fish &amp; &lt;chips&gt;",
                content='<p>Hello <a href="/about">world</a></p>',
                published_at=utc(2024, 1, 2, 21, 0),
                updated_at=utc(2024, 1, 3, 1, 0, 0, 500000),
                enclosures=(
                    Enclosure("https://ana.example/blog/media/ep1.mp3", "audio/mpeg", 12345678),
                    Enclosure("https://cdn.example/ep1.ogg", "audio/ogg", 2048),
                    Enclosure("https://cdn.example/ep1.m4a", None, None),
                    Enclosure("https://cdn.example/ep1.flac", None, None),
                ),
                base_url="https://ana.example/2024/01/first",
            ),
            ParsedEntry(
                guid="2",
                link="https://elsewhere.example/linked",
                **ana,
                content="<p>A link post.</p>",
                published_at=utc(2024, 2, 1, 9, 30),
                base_url="https://elsewhere.example/linked",
            ),
            ParsedEntry(
                guid="3",
                title="Dates we cannot read",
                link="https://ana.example/2024/03/third",
                author_name="Legacy",
                base_url="https://ana.example/2024/03/third",
            ),
        ),
        warnings=(),
    )


def test_1_0_feed_reads_author_and_falls_back_to_the_feed_author():
    feed = parse_file("author_1_0.json", "https://old.example/feed.json")

    assert (feed.title, feed.site_url, feed.author_name) == ("Old Style", "https://old.example/", "Cleo")
    authors = [(e.guid, e.author_name, e.author_email, e.author_url) for e in feed.entries]
    assert authors == [
        ("a", "Dev", "dev@old.example", None),
        ("b", "Cleo", None, "https://old.example/about"),
        ("c", "Cleo", None, "https://old.example/about"),
    ]
    assert feed.entries[0].published_at == utc(2017, 5, 17, 15, 2, 12)


def test_content_text_becomes_escaped_paragraphs():
    entries = parse_file("content_text.json").entries

    assert entries[0].content == (
        "<p>First paragraph<br>\nstill first &amp; &lt;b&gt;not bold&lt;/b&gt;</p>\n"
        "<p>Second paragraph.</p>\n"
        "<p>Third</p>"
    )
    assert entries[1].content == "<p>Used because content_html is blank</p>"
    assert (entries[2].content, entries[2].summary) == (None, "Only a summary")


def test_bad_items_are_skipped_with_a_warning():
    feed = parse_file("bad_items.json")

    assert [e.guid for e in feed.entries] == ["good-1", "good-2"]
    assert feed.warnings == (
        "item 2 skipped: not an object",
        "item 3 skipped: not an object",
        "item 4 skipped: not an object",
        "item 5 skipped: not an object",
        "item 6 skipped: no id, url, title or content",
        "item 7 skipped: no id, url, title or content",
    )
    wrong_types = feed.entries[1]
    assert wrong_types.title is None
    assert wrong_types.published_at is None
    assert wrong_types.enclosures == ()
    assert wrong_types.author_name is None


def test_feed_whose_every_item_is_bad_is_a_parse_error():
    with pytest.raises(ParseError, match="all 4 items are invalid") as excinfo:
        parse_file("all_bad_items.json")
    assert excinfo.value.url == FEED_URL


def test_javascript_and_other_non_http_urls_are_dropped():
    feed = parse_file("javascript_urls.json")

    assert (feed.site_url, feed.author_name) == (None, "Mallory")
    scripted, no_id, external = feed.entries
    assert scripted.link is None
    assert (scripted.author_name, scripted.author_url) == ("Eve", None)
    assert scripted.enclosures == (Enclosure("https://safe.example/a.mp3", "audio/mpeg"),)
    assert (no_id.guid, no_id.link, no_id.title) == ("", None, "No id and a scripted url")
    assert (external.guid, external.link) == ("x3", "https://safe.example/linked")
    assert all(e.author_url is None for e in feed.entries)


def test_numeric_ids_become_strings_and_unusable_ids_fall_back_to_the_url():
    feed = parse_file("numeric_ids.json", "https://n.example/feed.json")

    assert [e.guid for e in feed.entries] == [
        "1",
        "0",
        "12345678901234567890",
        "7",
        "https://n.example/bool",
        "https://n.example/float",
        "https://n.example/blank",
        "",
    ]


def test_bom_is_stripped():
    content = b"\xef\xbb\xbf \n{" + V11 + b', "title": "BOM", "items": []}'

    assert looks_like_json_feed(content)
    assert parse_json_feed(content, FEED_URL) == ParsedFeed(url=FEED_URL, title="BOM")


def test_invalid_utf8_is_replaced_with_a_warning():
    feed = parse_json_feed(b"{" + V11 + b', "title": "caf\xe9", "items": []}', FEED_URL)

    assert feed.title == "caf\ufffd"
    assert feed.warnings == ("not valid utf-8: undecodable bytes replaced",)


def test_missing_items_is_an_empty_feed_with_a_warning():
    feed = parse_json_feed(b"{" + V11 + b', "title": "Soon"}', FEED_URL)

    assert (feed.title, feed.entries, feed.warnings) == ("Soon", (), ("no items list",))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"", "not valid JSON", id="empty"),
        pytest.param(b"<rss version='2.0'></rss>", "not valid JSON", id="xml"),
        pytest.param(b"{" + V11 + b", 'items': []}", "not valid JSON", id="single-quotes"),
        pytest.param(b"{" + V11 + b', "items": [' + b"[" * 100_000, "not valid JSON", id="deep-nesting"),
        pytest.param(b"{" + V11 + b', "items": [{"id": ' + b"9" * 5000 + b"}]}", "not valid JSON", id="huge-int"),
        pytest.param(b"[]", "top level is not an object", id="array"),
        pytest.param(b'"https://jsonfeed.org/version/1.1"', "top level is not an object", id="string"),
        pytest.param(b"null", "top level is not an object", id="null"),
        pytest.param(b'{"title": "x", "items": []}', "no version", id="no-version"),
        pytest.param(b'{"version": "1.1", "items": []}', "unknown json feed version '1.1'", id="bare-1.1"),
        pytest.param(b'{"version": "https://jsonfeed.org/version/2", "items": []}', "version", id="v2"),
        pytest.param(b'{"version": 1, "items": []}', "unknown json feed version '1'", id="number"),
        pytest.param(b"{" + V11 + b', "items": {}}', "items is not a list", id="items-object"),
        pytest.param(b"{" + V11 + b', "items": null}', "items is not a list", id="items-null"),
    ],
)
def test_not_a_json_feed_is_a_parse_error(content, message):
    with pytest.raises(ParseError, match=message) as excinfo:
        parse_json_feed(content, FEED_URL)
    assert excinfo.value.url == FEED_URL


def test_a_broken_json_feed_says_what_is_wrong_and_where():
    # Even without a version to recognise it by: a document that starts like JSON is read as JSON,
    # and its error is JSON's, not an XML parser's about a "{".
    for content in (b"{" + V11 + b', "items": [}', b'{"title": "Le carnet d\'Ana", "items": [1,]}'):
        with pytest.raises(ParseError, match=r"not valid JSON: Expecting value at line 1, column \d+"):
            parse_feed(content, FEED_URL)


def test_parse_error_keeps_the_json_error_as_cause():
    with pytest.raises(ParseError) as excinfo:
        parse_json_feed(b"{oops", FEED_URL)
    assert isinstance(excinfo.value.__cause__, ValueError)


LONG_ITEMS = b', "items": [' + b",".join([b'{"id": "%d"}' % i for i in range(500)]) + b"]"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b"{" + V11 + b"}", True, id="plain"),
        pytest.param(b"\xef\xbb\xbf\r\n\t {" + V11 + b"}", True, id="bom-and-whitespace"),
        pytest.param(b'{"version":"https:\\/\\/jsonfeed.org\\/version\\/1"}', True, id="escaped-slashes"),
        pytest.param(b'{"title": "t"' + LONG_ITEMS + b", " + V11 + b"}", True, id="version-last"),
        pytest.param(b'{"title": "t"' + LONG_ITEMS + b", " + V11 + LONG_ITEMS + b"}", False, id="version-buried"),
        pytest.param(b"[" + V11 + b"]", False, id="array"),
        pytest.param(b'{"title": "just some json"}', False, id="other-json"),
        pytest.param(b"<?xml version='1.0'?><rss><!-- jsonfeed.org/version --></rss>", False, id="xml"),
        pytest.param(b"", False, id="empty"),
    ],
)
def test_looks_like_json_feed(content, expected):
    assert looks_like_json_feed(content) is expected


def corpus_files() -> list:
    if not CORPUS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no corpus at {CORPUS}"), id="no-corpus")]
    paths = sorted(CORPUS.rglob("*.json"))
    return [pytest.param(path, id=str(path.relative_to(CORPUS))) for path in paths]


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_files())
def test_corpus_json_feed_parses_or_raises_parse_error(path):
    content = path.read_bytes()
    if not looks_like_json_feed(content):
        pytest.skip("not sniffed as a json feed")
    try:
        feed = parse_json_feed(content, "https://feeds.example/feed.json")
    except ParseError:
        return
    for entry in feed.entries:
        urls = [entry.link, entry.author_url, *(e.url for e in entry.enclosures)]
        assert all(url.startswith(("http://", "https://")) for url in urls if url is not None)
        dates = [d for d in (entry.published_at, entry.updated_at) if d is not None]
        assert all(d.utcoffset().total_seconds() == 0 for d in dates)
