"""Keeps feeds.opml, the starter subscription list shipped at the repo root, well-formed and tidy."""

from pathlib import Path
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

import pytest
from defusedxml import ElementTree

OPML_PATH = Path(__file__).parent.parent / "feeds.opml"

MIN_FEEDS = 20
MAX_FEEDS = 40
MIN_FOLDERS = 3


@pytest.fixture(scope="module")
def root() -> Element:
    return ElementTree.parse(OPML_PATH).getroot()


def body_of(root: Element) -> Element:
    body = root.find("body")
    assert body is not None, "feeds.opml has no <body>"
    return body


def feed_outlines(root: Element) -> list[Element]:
    """Every outline that subscribes to a feed, wherever it sits in the tree."""
    return [outline for outline in body_of(root).iter("outline") if outline.get("xmlUrl") is not None]


def is_http_url(value: str | None) -> bool:
    if not value:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def normalised(url: str) -> str:
    return url.strip().lower().rstrip("/")


def test_starter_list_is_opml_2_0(root: Element) -> None:
    assert root.tag == "opml"
    assert root.get("version") == "2.0"


def test_starter_list_head_has_title_and_creation_date(root: Element) -> None:
    head = root.find("head")
    assert head is not None
    assert (head.findtext("title") or "").strip() == "Causerie starter subscriptions"
    assert (head.findtext("dateCreated") or "").strip()


def test_starter_list_holds_between_20_and_40_feeds(root: Element) -> None:
    assert MIN_FEEDS <= len(feed_outlines(root)) <= MAX_FEEDS


def test_every_starter_feed_has_text_and_title(root: Element) -> None:
    unnamed = [
        outline.get("xmlUrl")
        for outline in feed_outlines(root)
        if not (outline.get("text") or "").strip() or not (outline.get("title") or "").strip()
    ]
    assert unnamed == []


def test_every_starter_feed_has_http_feed_url(root: Element) -> None:
    bad = [outline.get("xmlUrl") for outline in feed_outlines(root) if not is_http_url(outline.get("xmlUrl"))]
    assert bad == []


def test_every_starter_feed_has_http_site_url(root: Element) -> None:
    bad = [outline.get("xmlUrl") for outline in feed_outlines(root) if not is_http_url(outline.get("htmlUrl"))]
    assert bad == []


def test_starter_feed_urls_are_unique(root: Element) -> None:
    seen: dict[str, str] = {}
    duplicates = []
    for outline in feed_outlines(root):
        url = outline.get("xmlUrl") or ""
        key = normalised(url)
        if key in seen:
            duplicates.append((seen[key], url))
        seen[key] = url
    assert duplicates == []


def test_every_starter_feed_sits_inside_a_folder(root: Element) -> None:
    body = body_of(root)
    top_level_feeds = [outline.get("xmlUrl") for outline in body.findall("outline") if outline.get("xmlUrl")]
    assert top_level_feeds == []
    for folder in body.findall("outline"):
        assert (folder.get("text") or "").strip(), "a folder outline has no text"


def test_starter_list_has_at_least_three_folders(root: Element) -> None:
    folders = [
        folder
        for folder in body_of(root).findall("outline")
        if folder.get("xmlUrl") is None and any(child.get("xmlUrl") for child in folder.iter("outline"))
    ]
    assert len(folders) >= MIN_FOLDERS
