"""read_opml / write_opml: real exporters' shapes, hostile files, the round trip and the shared corpus."""

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from defusedxml import ElementTree

from reader.errors import OPMLError
from reader.models import Feed, FeedSource, Subscription
from reader.opml import MAX_DEPTH, MAX_OPML_BYTES, MAX_OUTLINES, OPMLImport, read_opml, write_opml
from reader.urls import site_key

DATA = Path(__file__).parent / "data" / "opml"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "opml"
CREATED_AT = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def read_file(name: str) -> OPMLImport:
    return read_opml((DATA / name).read_bytes())


def opml(body: str, version: str = "2.0") -> bytes:
    return f'<?xml version="1.0"?><opml version="{version}"><head/><body>{body}</body></opml>'.encode()


def nested_folders(names: list[str], inner: str) -> str:
    return "".join(f'<outline text="{name}">' for name in names) + inner + "</outline>" * len(names)


def source(url, title=None, site_url=None, group_path=()) -> FeedSource:
    """A source as read from a file that does not name people: feeds of one site are one person's."""
    return FeedSource(url, title, site_url, group_path, person_key=f"site:{site_key(site_url)}" if site_url else None)


# --- reading -------------------------------------------------------------------------------------------------------


def test_opml_2_0_nested_folders_become_group_paths():
    assert read_file("opml2_nested.opml") == OPMLImport(
        sources=(
            source("https://top.example/feed.xml", "Top", "https://top.example/", ()),
            source("https://bo.example/feed/", "Bo's notebook", "https://bo.example/", ("Friends",)),
            # title="" falls back to text; a javascript: htmlUrl is no site URL.
            source("http://cy.example/rss", "Cy", None, ("Friends", "Poets")),
            source("https://dee.example/atom.xml", "Dee", None, ("Tech",)),
        ),
        title="Ana's subscriptions",
        folders=(("Friends",), ("Friends", "Poets"), ("Tech",)),
    )


def test_opml_1_0_in_latin_1_reads_titles_and_site_urls():
    assert read_file("opml1_flat.opml") == OPMLImport(
        sources=(
            source("http://cafe.example/rss.xml", "Café Scripting", "http://cafe.example/"),
            source("http://dave.example/index.xml", "Dave's Log", "http://dave.example/"),
        ),
        title="mySubscriptions",
    )


@pytest.mark.parametrize(
    ("attributes", "title"),
    [
        ('title="The title" text="The text"', "The title"),
        ('text="Only text"', "Only text"),
        ('title="  " text="Blank title"', "Blank title"),
        ("", None),
    ],
)
def test_title_comes_from_title_else_text(attributes, title):
    result = read_opml(opml(f'<outline {attributes} xmlUrl="https://a.example/feed"/>'))
    assert [source.title for source in result.sources] == [title]


def test_odd_exporters_attribute_case_url_form_and_feed_scheme_are_understood():
    result = read_file("odd_exporters.opml")
    assert result.sources == (
        source("https://lower.example/feed", "Lower case", "https://lower.example/"),
        source("https://upper.example/feed", "Upper case", "https://upper.example/"),
        source("https://url-form.example/rss", "Url attribute"),
        source("http://feed-scheme.example/rss", "Feed scheme"),
        source("https://feed-https.example/atom", "Feed scheme with https"),
    )
    assert result.title == "Odd"


def test_outlines_without_feed_url_and_non_http_urls_are_reported_as_skipped():
    assert read_file("odd_exporters.opml").skipped == (
        "Just a link: no xmlUrl, not a feed",
        "A note, not a feed: no xmlUrl, not a feed",
        "Script: 'javascript:alert(1)' is not an http(s) URL",
        "Local file: 'file:///etc/passwd' is not an http(s) URL",
        "Shell pipe: '|~/fetch_tweets.py' is not an http(s) URL",
    )


def test_duplicate_urls_differing_in_case_or_trailing_slash_are_merged_and_counted():
    result = read_file("duplicates.opml")
    assert result.sources == (
        source("https://ana.example/feed", "Ana", None, ("News",)),
        source("https://bo.example/feed", "Bo", None, ("Elsewhere",)),
    )
    assert result.duplicates == 2
    assert result.skipped == ()


def test_feed_scheme_and_http_spelling_of_one_url_count_as_duplicates():
    result = read_opml(
        opml('<outline xmlUrl="feed://a.example/rss"/><outline xmlUrl="http://a.example/rss/"/>', version="1.0")
    )
    assert [source.url for source in result.sources] == ["http://a.example/rss"]
    assert result.duplicates == 1


def test_folders_deeper_than_max_depth_keep_their_feeds_in_the_deepest_allowed_folder():
    names = [f"level{i}" for i in range(1, MAX_DEPTH + 4)]
    feeds = "".join(
        f'<outline text="{name} feed" xmlUrl="https://{name}.example/feed"/><outline text="{name}">' for name in names
    )
    deepest = '<outline text="deepest feed" xmlUrl="https://deepest.example/feed"/>'
    result = read_opml(opml(feeds + deepest + "</outline>" * len(names)))
    assert len(result.sources) == len(names) + 1
    paths = [source.group_path for source in result.sources]
    assert paths[:3] == [(), ("level1",), ("level1", "level2")]
    assert paths[-4:] == [tuple(names[:MAX_DEPTH])] * 4
    assert max(len(path) for path in result.folders) == MAX_DEPTH


def test_bare_ampersand_is_repaired_with_a_note():
    result = read_file("bare_ampersand.opml")
    assert result.sources == (
        source(
            "https://money.example/rss?a=1&b=2",
            "Money & Markets",
            "https://money.example/",
            ("Business & Economy",),
        ),
    )
    assert result.title == "Business & Economy"
    assert result.skipped == ("repaired unescaped '&' characters",)


def test_a_file_without_feeds_imports_as_empty():
    assert read_opml(opml("")) == OPMLImport(sources=())


# --- refusing a whole file -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("malformed.opml", r"^not a well-formed XML document: .*line 5"),
        ("billion_laughs.opml", r"^OPML file uses XML entities or DTD features that are not allowed"),
        ("external_entity.opml", r"^OPML file uses XML entities or DTD features that are not allowed"),
        ("not_opml.xml", r"^not an OPML file \(root element is <rss>\)$"),
        ("no_body.opml", r"^OPML file has no <body>$"),
    ],
)
def test_unusable_file_raises_opml_error_with_a_clear_message(name, message):
    with pytest.raises(OPMLError, match=message):
        read_file(name)


def test_file_over_the_size_cap_raises_opml_error_before_parsing():
    data = opml('<outline xmlUrl="https://a.example/feed"/>')
    data += b" " * (MAX_OPML_BYTES + 1 - len(data))
    with pytest.raises(
        OPMLError, match=rf"^OPML file too large \({MAX_OPML_BYTES + 1} bytes, limit {MAX_OPML_BYTES}\)$"
    ):
        read_opml(data)


def test_file_at_the_size_cap_is_read():
    data = opml('<outline xmlUrl="https://a.example/feed"/>')
    data += b" " * (MAX_OPML_BYTES - len(data))
    assert len(read_opml(data).sources) == 1


def test_file_with_too_many_outlines_raises_opml_error():
    with pytest.raises(OPMLError, match=rf"more than {MAX_OUTLINES} outlines"):
        read_opml(opml('<outline text="note"/>' * (MAX_OUTLINES + 1)))


def test_hostile_nesting_raises_opml_error_not_recursion_error():
    names = ["f"] * 1500
    with pytest.raises(OPMLError, match="nested more than"):
        read_opml(opml(nested_folders(names, '<outline xmlUrl="https://deep.example/feed"/>')))


# --- writing -------------------------------------------------------------------------------------------------------


def make_feed(url: str, *, title: str | None = None, site_url: str | None = None, feed_id: int = 1) -> Feed:
    return Feed(
        id=feed_id,
        url=url,
        title=title,
        site_url=site_url,
        etag=None,
        last_modified=None,
        body_hash=None,
        status="ok",
        http_status=200,
        last_error=None,
        error_count=0,
        last_fetched_at=CREATED_AT,
        last_success_at=CREATED_AT,
        next_fetch_at=None,
        wait_until=None,
        created_at=CREATED_AT,
    )


def make_subscription(
    url: str,
    *,
    title: str | None = None,
    feed_title: str | None = None,
    site_url: str | None = None,
    group_path: tuple[str, ...] = (),
    feed_id: int = 1,
) -> Subscription:
    return Subscription(
        feed=make_feed(url, title=feed_title, site_url=site_url, feed_id=feed_id),
        user_id=1,
        person_id=feed_id,
        person_name=f"person {feed_id}",
        title=title,
        group_id=None,
        group_path=group_path,
    )


SUBSCRIPTIONS = [
    make_subscription("https://ana.example/feed", title="Ana", feed_title="Ana's blog", feed_id=1),
    make_subscription("https://bo.example/rss", feed_title="Bo", site_url="https://bo.example/", feed_id=2),
    make_subscription("http://cy.example/atom.xml", group_path=("Friends",), feed_id=3),
    make_subscription(
        "https://dee.example/feed/",
        feed_title="Dee",
        site_url="https://dee.example/",
        group_path=("Friends", "Poets"),
        feed_id=4,
    ),
    make_subscription("https://eve.example/feed?format=rss", title="Eve", group_path=("Tech",), feed_id=5),
]


def as_sources(subscriptions: list[Subscription]) -> set[FeedSource]:
    return {
        FeedSource(
            s.feed.url,
            s.display_title,
            s.feed.site_url,
            s.group_path,
            person_key=f"person:{s.person_id}",
            person_name=s.person_name,
        )
        for s in subscriptions
    }


def test_write_then_read_gives_the_same_urls_titles_site_urls_and_groups():
    result = read_opml(write_opml(SUBSCRIPTIONS))
    assert set(result.sources) == as_sources(SUBSCRIPTIONS)
    assert len(result.sources) == len(SUBSCRIPTIONS)
    assert result.skipped == ()
    assert result.duplicates == 0
    assert result.title == "Causerie subscriptions"


def test_written_file_is_opml_2_0_with_head_and_utf_8_declaration():
    data = write_opml(SUBSCRIPTIONS, title="Ana's feeds")
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ElementTree.fromstring(data)
    assert root.tag == "opml"
    assert root.get("version") == "2.0"
    assert root.findtext("head/title") == "Ana's feeds"
    assert parsedate_to_datetime(root.findtext("head/dateCreated")).tzinfo is not None
    feed = root.find("body/outline[@xmlUrl='https://bo.example/rss']")
    assert feed.attrib == {
        "type": "rss",
        "text": "Bo",
        "title": "Bo",
        "xmlUrl": "https://bo.example/rss",
        "htmlUrl": "https://bo.example/",
        "{urn:causerie:opml}person": "person 2",
        "{urn:causerie:opml}personKey": "2",
    }


def test_writing_escapes_ampersands_angle_brackets_and_quotes_in_titles():
    title = """Q&A <weekly> "quoted" 'single'"""
    group = "R&D <lab>"
    subscriptions = [make_subscription("https://qa.example/feed?a=1&b=2", title=title, group_path=(group,))]
    data = write_opml(subscriptions)
    assert b"Q&amp;A &lt;weekly&gt; &quot;quoted&quot; 'single'" in data
    assert b"R&amp;D &lt;lab&gt;" in data
    assert b"?a=1&amp;b=2" in data
    assert b"<weekly>" not in data
    assert read_opml(data).sources == (
        FeedSource("https://qa.example/feed?a=1&b=2", title, None, (group,), "person:1", "person 1"),
    )


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x0b", "\x1b", "\ud800", "\ufffe"])
def test_writing_drops_characters_xml_cannot_hold_so_the_file_reads_back(bad):
    subscriptions = [make_subscription("https://ctl.example/feed", title=f"Bell{bad} rings", group_path=(f"G{bad}",))]
    assert read_opml(write_opml(subscriptions)).sources == (
        FeedSource("https://ctl.example/feed", "Bell rings", None, ("G",), "person:1", "person 1"),
    )


def test_writing_nothing_gives_an_empty_body_that_reads_back():
    assert read_opml(write_opml([])) == OPMLImport(sources=(), title="Causerie subscriptions")


# --- corpus --------------------------------------------------------------------------------------------------------


def corpus_params() -> list:
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "SOURCES.md") if CORPUS.is_dir() else []
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no OPML corpus at {CORPUS}"))]
    return [pytest.param(path, id=str(path.relative_to(CORPUS))) for path in files]


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params())
def test_corpus_file_imports_unique_http_feeds_or_raises_opml_error(path):
    try:
        result = read_opml(path.read_bytes())
    except OPMLError as exc:
        assert str(exc)
        return
    urls = [source.url for source in result.sources]
    assert all(urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname for url in urls)
    assert len({url.rstrip("/").lower() for url in urls}) == len(urls)


def test_feed_addresses_written_without_a_scheme_are_taken_as_https_and_said_so():
    data = (
        b"<opml version='2.0'><body>"
        b"<outline text='Le carnet d&apos;Ana' xmlUrl='www.ana.example/feed'/>"
        b"<outline text='Bruno' xmlUrl='bruno.example/rss.xml'/>"
        b"<outline text='Pas un flux' xmlUrl='/relative/feed.xml'/>"
        b"</body></opml>"
    )
    result = read_opml(data)
    assert [source.url for source in result.sources] == [
        "https://www.ana.example/feed",
        "https://bruno.example/rss.xml",
    ]
    also = " (and as http if https does not connect)"
    assert result.notes == (
        f"Le carnet d'Ana: 'www.ana.example/feed' has no scheme, taken as https://www.ana.example/feed{also}",
        f"Bruno: 'bruno.example/rss.xml' has no scheme, taken as https://bruno.example/rss.xml{also}",
    )
    assert [source.scheme_assumed for source in result.sources] == [True, True]
    assert result.skipped == ("Pas un flux: '/relative/feed.xml' is not an http(s) URL",)


def test_one_feed_written_several_ways_is_one_subscription():
    data = (
        b"<opml version='2.0'><body>"
        b"<outline text='A' xmlUrl='https://ana.example/rss.xml#top'/>"
        b"<outline text='B' xmlUrl='https://ana.example/rss.xml?'/>"
        b"<outline text='C' xmlUrl='HTTPS://ANA.example:443/rss.xml'/>"
        b"</body></opml>"
    )
    result = read_opml(data)
    assert [source.url for source in result.sources] == ["https://ana.example/rss.xml"]
    assert result.duplicates == 2
