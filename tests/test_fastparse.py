"""The fast parse path (lxml, reader/xmlfeed.py) against feedparser's, field by field.

For every document of tests/data, of ../shared/corpus/feeds and of a generated benchmark corpus,
under several Content-Type headers: when the fast path takes a document, ``parse_feed``'s answer is
the one it gives with the fast path off (feedparser), warnings and errors included. A document the
fast path declines costs nothing here: feedparser reads it as before.
"""

import subprocess
import sys
from pathlib import Path

import feedparser
import pytest

from reader import xmlfeed
from reader.errors import ParseError
from reader.parse import _replace_bad_char_refs, parse_feed

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "corpus" / "feeds"
GENERATOR = SHARED / "bench" / "gen_corpus.py"
URL = "https://ana.example/feeds/carnet.xml"
# What servers say a feed is: nothing, the right type, RFC 3023's us-ascii default, a wrong one.
HEADERS = [{}, {"content-type": "application/rss+xml"}, {"content-type": "text/xml"}, {"content-type": "text/html"}]


def parsed(content: bytes, headers: dict, *, fast: bool) -> object:
    try:
        return parse_feed(content, URL, headers, fast=fast)
    except ParseError as exc:
        return ("ParseError", str(exc))


def takes(content: bytes, headers: dict) -> bool:
    try:
        xmlfeed.read_feed(_replace_bad_char_refs(content), URL, {"content-location": URL, **headers})
    except xmlfeed.Declined:
        return False
    return True


def check_same(content: bytes, headers_tried: list[dict] = HEADERS) -> int:
    """Assert both paths agree on ``content`` under each header; return how many times the fast path took it."""
    taken = 0
    for headers in headers_tried:
        if not takes(content, headers):
            continue
        taken += 1
        fast, reference = parsed(content, headers, fast=True), parsed(content, headers, fast=False)
        assert fast == reference, f"the fast path differs from feedparser with headers {headers}"
    return taken


def document_paths(folder: Path) -> list:
    return sorted(path for path in folder.rglob("*") if path.is_file() and path.suffix not in (".py", ".md", ".json"))


def corpus_params() -> list:
    if not CORPUS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no corpus at {CORPUS}"), id="no-corpus")]
    return [
        pytest.param(path, marks=pytest.mark.corpus, id=str(path.relative_to(CORPUS)))
        for path in document_paths(CORPUS)
    ]


@pytest.mark.parametrize("path", document_paths(DATA / "feeds") + document_paths(DATA / "fastparse"), ids=str)
def test_the_fast_path_agrees_with_feedparser_on_the_test_data(path):
    check_same(path.read_bytes())


@pytest.mark.parametrize("path", corpus_params())
def test_the_fast_path_agrees_with_feedparser_on_the_corpus(path):
    check_same(path.read_bytes())


@pytest.fixture(scope="module")
def bench_corpus(tmp_path_factory) -> list[Path]:
    """The first 60 feeds of the benchmark corpus (../shared/bench's generator: RSS 2.0 and Atom 1.0
    as blogs write them, HTML and XHTML content, French and other text)."""
    if not GENERATOR.is_file():
        pytest.skip(f"no corpus generator at {GENERATOR}")
    out = tmp_path_factory.mktemp("bench")
    subprocess.run([sys.executable, str(GENERATOR), "--n", "60", "--seed", "1", "--out", str(out)], check=True,
                   capture_output=True)  # fmt: skip
    return sorted((out / "feeds").glob("*.xml"))


def test_the_fast_path_agrees_with_feedparser_on_the_benchmark_corpus_and_takes_nearly_all_of_it(bench_corpus):
    # One header: the corpora above try them all; these documents are large (220 KB each).
    taken = sum(check_same(path.read_bytes(), [{"content-type": "application/xml"}]) for path in bench_corpus)
    # Not a test that passes by declining everything: the fast path is for documents like these.
    assert taken >= 0.9 * len(bench_corpus), f"the fast path took {taken} of {len(bench_corpus)}"


def test_the_quirk_documents_are_taken_under_every_header():
    # Written to hold what feedparser does oddly (an owner's email as the feed's author, "&amp;" in
    # an entry link, a guid standing for a link, xml:base, XHTML's wrapping <div>, cp1252 and
    # mojibake repairs, a title that looks like HTML): the comparison must run on them.
    for path in document_paths(DATA / "fastparse"):
        assert check_same(path.read_bytes()) == len(HEADERS), path.name


def test_a_document_the_fast_path_takes_never_reaches_feedparser(monkeypatch):
    content = (DATA / "fastparse" / "quirks_rss.xml").read_bytes()
    reference = parse_feed(content, URL, {}, fast=False)

    def refuse(*args, **kwargs):
        raise AssertionError("feedparser was asked")

    monkeypatch.setattr(feedparser, "parse", refuse)
    assert parse_feed(content, URL, {}) == reference


def test_a_document_the_fast_path_declines_goes_to_feedparser():
    rss1 = (
        b"<?xml version='1.0'?><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'"
        b" xmlns='http://purl.org/rss/1.0/'><channel rdf:about='https://a.example/'><title>A</title></channel>"
        b"<item rdf:about='https://a.example/1'><title>Un</title><link>https://a.example/1</link></item></rdf:RDF>"
    )
    with pytest.raises(xmlfeed.Declined):
        xmlfeed.read_feed(rss1, URL, {"content-location": URL})
    assert [entry.title for entry in parse_feed(rss1, URL).entries] == ["Un"]


@pytest.mark.parametrize(
    "namespace",
    [b"xmlns:r='http://purl.org/rss/1.0/'", b"xmlns:r='http://purl.org/rss/1.0&#x2F;'"],
)
def test_an_rss_1_namespace_is_found_however_it_is_declared(namespace):
    """The bytes are searched for the namespace (cheaper than asking every element); a declaration
    written with a character reference, or defaulted by a DTD after a long comment, is found too."""
    item = b"<channel><title>A</title><item><title>Un</title><link>https://a.example/1</link></item></channel>"
    plain = b"<?xml version='1.0'?><rss version='2.0' " + namespace + b">" + item + b"</rss>"
    defaulted = (
        b"<?xml version='1.0'?><!--" + b"x" * 5000 + b"--><!DOCTYPE rss [<!ATTLIST rss "
        + namespace.replace(b"=", b" CDATA ").replace(b"'", b'"') + b">]><rss version='2.0'>" + item + b"</rss>"
    )  # fmt: skip
    for document in (plain, defaulted):
        with pytest.raises(xmlfeed.Declined):
            xmlfeed.read_feed(document, URL, {"content-location": URL})
