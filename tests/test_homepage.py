"""Reading home pages and profiles: the shared corpus of real pages, with the answers it ships."""

import json
import re
from pathlib import Path

import pytest

from reader.channels import channel_from_url
from reader.homepage import links_back, read_home_page, read_profile

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "people"

# webmention.rocks discovery tests (the corpus SOURCES.md, "Upstream expectations").
WEBMENTION_ROCKS = {
    "01": "https://webmention.rocks/test/1/webmention?head=true",
    "02": "https://webmention.rocks/test/2/webmention?head=true",
    "03": "https://webmention.rocks/test/3/webmention",
    "04": "https://webmention.rocks/test/4/webmention",
    "05": "https://webmention.rocks/test/5/webmention",
    "06": "https://webmention.rocks/test/6/webmention",
    "08": "https://webmention.rocks/test/8/webmention?head=true",
    "09": "https://webmention.rocks/test/9/webmention",
    "12": "https://webmention.rocks/test/12/webmention",
    "13": "https://webmention.rocks/test/13/webmention",
    "14": "https://webmention.rocks/test/14/webmention",
    "15": "https://webmention.rocks/test/15",
    "16": "https://webmention.rocks/test/16/webmention",
    "18": "https://webmention.rocks/test/18/webmention?head=true",
    "20": "https://webmention.rocks/test/20/webmention",
    "22": "https://webmention.rocks/test/22/webmention",
}


def http_file(path: Path) -> tuple[int, dict[str, str], bytes]:
    """A captured HTTP response: status, headers (lower-case names; repeated ones joined), body."""
    raw = path.read_bytes()
    blank = re.search(rb"\r?\n\r?\n", raw)
    head, body = (raw[: blank.start()], raw[blank.end() :]) if blank else (raw, b"")
    lines = head.decode("latin-1").splitlines()
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return status, headers, body


def corpus(pattern: str) -> list:
    files = sorted(CORPUS.glob(pattern)) if CORPUS.is_dir() else []
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no people corpus at {CORPUS}"))]
    return [pytest.param(path, id=str(path.relative_to(CORPUS))) for path in files]


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus("**/*.htm*"))
def test_every_corpus_page_reads_without_error_and_keeps_only_usable_links(path):
    page = read_home_page(path.read_bytes(), "http://example.com/", {"content-type": "text/html"})
    for link in page.rel_me:
        assert link.startswith(("http://", "https://", "mailto:", "xmpp:"))
    for email in (page.card.emails if page.card else ()) + page.mailto:
        assert email.lower().startswith("mailto:")
    assert page.webmention is None or page.webmention.startswith(("http://", "https://"))


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus("**/*.http"))
def test_every_captured_response_reads_without_error(path):
    _, headers, body = http_file(path)
    read_home_page(body, "http://example.com/", headers)
    read_profile(body, "http://example.com/", headers)


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus("php-webmention-endpoint-discovery/wmrocks-*.http"))
def test_webmention_rocks_endpoints(path):
    number = path.name.split("-")[1].removeprefix("test")
    page_url = f"https://webmention.rocks/test/{int(number)}"
    _, headers, body = http_file(path)
    assert read_home_page(body, page_url, headers).webmention == WEBMENTION_ROCKS[number]


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "expected"),
    [("base-element.http", "https://example.com/folder/endpoint"), ("no-endpoint.http", None)],
)
def test_webmention_endpoint_with_a_base_element_or_none(name, expected):
    path = CORPUS / "php-webmention-endpoint-discovery" / name
    if not path.exists():
        pytest.skip(f"no people corpus at {CORPUS}")
    _, headers, body = http_file(path)
    assert read_home_page(body, "https://example.com/", headers).webmention == expected


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "verifies"), [("rel_me_anchor.html", True), ("rel_me_link.html", True), ("rel_me_null.html", False)]
)
def test_pleroma_rel_me_link_back(name, verifies):
    """A profile verifies a home page when it links back with rel="me" (pleroma's rel_me_test)."""
    path = CORPUS / "pleroma" / name
    if not path.exists():
        pytest.skip(f"no people corpus at {CORPUS}")
    profile = read_profile(path.read_bytes(), f"http://example.com/rel_me/{name}", {})
    assert links_back(profile, ["https://social.example.org/users/lain"]) is verifies


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "card_name", "photo"),
    [
        ("author.example.com_about.http", "Author Full Name", "http://author.example.com/photo.jpg"),
        ("author.example.com_author-name-is-0.http", "0", "http://author.example.com/photo.jpg"),
    ],
)
def test_xray_author_pages_give_their_h_card(name, card_name, photo):
    path = CORPUS / "xray" / name
    if not path.exists():
        pytest.skip(f"no people corpus at {CORPUS}")
    _, headers, body = http_file(path)
    page = read_home_page(body, "http://author.example.com/" + name.split("_", 1)[1].removesuffix(".http"), headers)
    assert (page.card.name, page.card.photo) == (card_name, photo)


@pytest.mark.corpus
def test_real_home_pages_give_their_owners_channels():
    """Real captured pages (corpus REAL): the owner's card, rel=me profiles and messenger links."""
    if not CORPUS.is_dir():
        pytest.skip(f"no people corpus at {CORPUS}")
    _, headers, body = http_file(CORPUS / "xray" / "source.example.com_ascraeus.http")
    page = read_home_page(body, "https://ascraeus.org/", headers)
    assert page.card.name == "Daniel Goldsmith"
    assert "https://mastodon.social/@dgold" in page.rel_me
    assert channel_from_url(page.card.emails[0]) == ("email", "dgold@ascraeus.org")

    james = read_home_page((CORPUS / "indieweb-utils" / "index.html").read_bytes(), "https://jamesg.blog/", {})
    assert "https://indieweb.social/@capjamesg" in james.rel_me
    assert james.webmention == "https://webmention.jamesg.blog/endpoint"

    aaron = read_home_page(
        (CORPUS / "indieweb-utils" / "representative_page.html").read_bytes(), "https://aaronparecki.com/", {}
    )
    assert aaron.card.name == "Aaron Parecki" and "https://github.com/aaronpk" in aaron.rel_me


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus("wordpress-webmention/*.json"))
def test_wordpress_webmention_author_names(path):
    expected = json.loads(path.read_text())
    html = path.with_suffix(".html")
    page = read_home_page(html.read_bytes(), "http://example.com/webmention/source/placeholder", {})
    author = expected.get("author", {})
    # These are posts: their author's h-card is the only one, or one whose url is the author's.
    if page.card is not None and author.get("name"):
        assert page.card.name == author["name"]
