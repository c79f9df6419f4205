"""The web UI in a real headless Chromium, against a real server on 127.0.0.1.

The database is filled through the real pipeline (a local feed server, fetch,
parse, store); the browser only ever talks to the app (anything else is
aborted, so the tests stay offline). Screenshots go to test-artifacts/ (not committed).

Skipped when Chromium or Playwright is missing, except in CI (CI=true), where
that is a failure: CI must not pass by skipping the browser.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

_IN_CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
CHROMIUM = shutil.which("chromium")

try:
    from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
except ImportError:
    if _IN_CI:
        pytest.fail("CI=true but playwright is not importable: pip install -e '.[test]'", pytrace=False)
    pytest.skip("playwright is not installed", allow_module_level=True)
if CHROMIUM is None:
    if _IN_CI:
        pytest.fail("CI=true but chromium is not on PATH: apt-get install chromium", pytrace=False)
    pytest.skip("chromium is not on PATH", allow_module_level=True)

import waitress  # noqa: E402  (after the skips: only needed when the browser runs)
from httpserver import FeedServer  # noqa: E402
from waitress import wasyncore  # noqa: E402

from reader.config import load_config  # noqa: E402
from reader.models import FeedSource  # noqa: E402
from reader.store import LOCAL_USER, Store  # noqa: E402
from reader.update import update_feeds  # noqa: E402
from reader.web import create_app  # noqa: E402

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
PWNED = "window.__pwned=1"
HOSTILE_TITLE = "<script>window.__pwned=1</script>"

# The timeline, newest first: (title, person). Feed dates interleave the people.
TIMELINE = [
    ("Winter light on the quay", "Bo Chen"),
    ("The lighthouse keeper's logbook", "Ana Lima"),
    (HOSTILE_TITLE, "Mallory"),
    ("Haiku for a Tuesday", "Bo Chen"),
    ("Tides and timetables", "Ana Lima"),
    ("On reading slowly", "Bo Chen"),
    ("Hello, harbour", "Ana Lima"),
]


# -- feeds, served by the local feed server ---------------------------------------


def _ana_rss(base: str) -> str:
    """RSS 2.0 with an author in managingEditor and a comments page per item."""
    items = [
        ("ana-3", "The lighthouse keeper's logbook", "Thu, 06 Mar 2025 09:00:00 GMT", _LONG_POST),
        ("ana-2", "Tides and timetables", "Mon, 03 Mar 2025 09:00:00 GMT", "<p>Ferries wait for no one.</p>"),
        ("ana-1", "Hello, harbour", "Sat, 01 Mar 2025 09:00:00 GMT", "<p>A first post from the harbour.</p>"),
    ]
    body = "".join(
        f"<item><guid isPermaLink='false'>{guid}</guid><title>{title}</title>"
        f"<link>{base}/ana/{guid}</link><comments>{base}/ana/{guid}#comments</comments>"
        f"<wfw:commentRss>{base}/ana/{guid}/comments.xml</wfw:commentRss>"
        f"<description><![CDATA[{html}]]></description><pubDate>{date}</pubDate></item>"
        for guid, title, date, html in items
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?>"
        "<rss version='2.0' xmlns:wfw='http://wellformedweb.org/CommentAPI/'><channel>"
        f"<title>Notes from the harbour</title><link>{base}/ana/</link>"
        f"<managingEditor>ana@example.org (Ana Lima)</managingEditor>{body}</channel></rss>"
    )


_COMMENTS = (
    "<?xml version='1.0' encoding='utf-8'?><rss version='2.0' xmlns:dc='http://purl.org/dc/elements/1.1/'>"
    "<channel><title>Comments on the logbook</title>"
    "<item><guid>k1</guid><dc:creator>Keeper's grandson</dc:creator><pubDate>Fri, 07 Mar 2025 10:00:00 GMT</pubDate>"
    "<description>&lt;p&gt;He kept &lt;em&gt;forty&lt;/em&gt; years of them.&lt;/p&gt;"
    "&lt;script&gt;window.__pwned=1&lt;/script&gt;</description></item>"
    "<item><guid>k2</guid><dc:creator>Zoé</dc:creator><pubDate>Sat, 08 Mar 2025 10:00:00 GMT</pubDate>"
    "<description>Magnifique, merci !</description></item>"
    "</channel></rss>"
)

_LONG_POST = (
    "<p>The keeper wrote every night: wind, visibility, ships seen. Forty years of the lighthouse"
    " in a dozen notebooks, and not one entry about himself.</p>"
    "<blockquote><p>Fog from the east. Lamp lit at 17:40. Nothing passed.</p></blockquote>"
    "<pre><code>17:40 lamp lit · 23:10 fog horn · 05:55 lamp out · a-very-long-line-that-must-scroll-"
    "inside-its-own-box-rather-than-widen-the-page-0123456789-0123456789-0123456789</code></pre>"
    "<p>More at https://example.org/a/very/long/address/that/has/no/spaces/and/should/wrap/nicely/on/phones</p>"
)


def _atom(base: str, *, slug: str, title: str, author: str, entries: list[tuple[str, str, str, str]]) -> str:
    body = "".join(
        f"<entry><id>tag:{slug}.example,2025:{guid}</id><title type='text'>{_xml(name)}</title>"
        f"<link href='{base}/{slug}/{guid}'/><updated>{date}</updated><published>{date}</published>"
        f"<content type='html'>{_xml(html)}</content></entry>"
        for guid, name, date, html in entries
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
        f"<id>tag:{slug}.example,2025:feed</id><title>{_xml(title)}</title>"
        f"<author><name>{_xml(author)}</name></author><updated>2025-03-07T09:00:00Z</updated>"
        f"<link href='{base}/{slug}/'/>{body}</feed>"
    )


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _bo_atom(base: str) -> str:
    return _atom(
        base,
        slug="bo",
        title="Bo's notebook",
        author="Bo Chen",
        entries=[
            ("3", "Winter light on the quay", "2025-03-07T09:00:00Z", "<p>Low sun, long shadows.</p>"),
            ("2", "Haiku for a Tuesday", "2025-03-04T09:00:00Z", "<p>gulls argue<br>over nothing</p>"),
            ("1", "On reading slowly", "2025-03-02T09:00:00Z", "<p>One chapter a day.</p>"),
        ],
    )


HOSTILE_HTML = (
    f"<p>Hello<script>{PWNED}</script> there.</p>"
    f'<p><img src=x onerror="{PWNED}" alt="broken on purpose"></p>'
    f'<p><a href="javascript:{PWNED}">a javascript: link</a></p>'
    f'<svg onload="{PWNED}"><circle r="4"></circle></svg>'
    f'<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>'
    f'<p onclick="{PWNED}">The end.</p>'
)


def _hostile_atom(base: str) -> str:
    return _atom(
        base,
        slug="mallory",
        title="Totally normal blog",
        author="Mallory",
        entries=[("1", HOSTILE_TITLE, "2025-03-05T09:00:00Z", HOSTILE_HTML)],
    )


# -- the running app ---------------------------------------------------------------


@dataclass
class Site:
    """The app on a real port, its database, and the feed server it fetched from."""

    url: str
    db_path: str
    feeds: FeedServer
    console: list[str] = field(default_factory=list)

    def open_store(self) -> Store:
        return Store.open(self.db_path).for_user(LOCAL_USER)

    def entry_id(self, title: str) -> int:
        store = self.open_store()
        try:
            [entry_id] = [i.entry.id for i in store.list_timeline(limit=1000) if i.entry.title == title]
        finally:
            store.close()
        return entry_id

    def item(self, entry_id: int):
        store = self.open_store()
        try:
            return store.get_timeline_item(entry_id)
        finally:
            store.close()

    def subscriptions(self) -> list:
        store = self.open_store()
        try:
            return store.list_subscriptions()
        finally:
            store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # Playwright turns the back/forward cache off by default; browsers people
        # use have it on, and it decides what "Back" shows (see the read test).
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, ignore_default_args=["--disable-back-forward-cache"]
        )
        yield browser
        browser.close()


@pytest.fixture
def site(tmp_path, feed_server) -> Iterator[Site]:
    base = feed_server.url("").rstrip("/")
    xml = {"content-type": "application/xml"}
    ana = feed_server.route("/ana/feed.xml", body=_ana_rss(base).encode(), headers=xml)
    # The comments of Ana's logbook post, slow to come (the page must not wait for them).
    feed_server.route("/ana/ana-3/comments.xml", body=_COMMENTS.encode(), headers=xml, delay=0.5)
    bo = feed_server.route("/bo/atom.xml", body=_bo_atom(base).encode(), headers=xml)
    mallory = feed_server.route("/mallory/atom.xml", body=_hostile_atom(base).encode(), headers=xml)

    config = load_config({}, db_path=str(tmp_path / "reader.sqlite"), parse_workers=0, allow_private_addresses=("all",))
    store = Store.open(config.db_path).for_user(LOCAL_USER)
    try:
        store.add_feeds(
            [FeedSource(ana), FeedSource(bo, group_path=("Friends", "Poets")), FeedSource(mallory)],
        )
        results = list(update_feeds(store, config))
    finally:
        store.close()
    assert sorted((r.url, r.error, r.new) for r in results) == sorted(
        [(ana, None, 3), (bo, None, 3), (mallory, None, 1)]
    )

    server = waitress.create_server(create_app(config), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.effective_port}", config.db_path, feed_server)
    finally:
        # Close every socket from the server's own loop (the only thread that may
        # touch its socket map); with the map empty, run() returns.
        server.task_dispatcher.shutdown()
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(timeout=5)
    assert not thread.is_alive(), "the app server did not stop"


@pytest.fixture
def page(browser, site) -> Iterator[Page]:
    """A fresh context and page; console errors and page errors land in ``site.console``."""
    context = browser.new_context(viewport=DESKTOP, base_url=site.url)
    # Offline: the browser may talk to the app, nothing else (feed images, links).
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(site.url) else route.abort())
    page = context.new_page()
    page.set_default_timeout(5_000)

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            site.console.append(f"{message.type}: {message.text} ({page.url})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: site.console.append(f"pageerror: {exc} ({page.url})"))
    try:
        yield page
    finally:
        context.close()


def _titles(page: Page) -> list[str]:
    return page.locator(".items > .item .title a").all_inner_texts()


def _post_to(path_end: str):
    return lambda r: r.request.method == "POST" and r.url.endswith(path_end)


def _has_class(name: str) -> re.Pattern:
    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")


# -- reading -----------------------------------------------------------------------


def test_timeline_lists_entries_newest_first_with_people_and_no_console_errors(page, site):
    response = page.goto("/")

    assert response.status == 200
    assert page.title() == "Timeline · Causerie"
    assert _titles(page) == [title for title, _ in TIMELINE]
    assert page.locator(".items > .item .person").all_inner_texts() == [person for _, person in TIMELINE]
    times = page.locator(".items > .item time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
    assert times == sorted(times, reverse=True)
    sidebar = page.locator(".sidebar")
    expect(sidebar.get_by_role("link", name="Ana Lima")).to_be_visible()
    expect(sidebar.get_by_role("link", name="Friends / Poets")).to_be_visible()
    assert site.console == []


def test_a_group_shows_the_entries_of_its_nested_feeds(page, site):
    page.goto("/")
    page.locator(".sidebar").get_by_role("link", name="Friends", exact=True).click()

    expect(page.locator("h1")).to_have_text("Friends")
    assert _titles(page) == [title for title, person in TIMELINE if person == "Bo Chen"]


def test_opening_an_entry_shows_its_content_and_the_page_marks_it_read(page, site):
    title = "The lighthouse keeper's logbook"
    entry_id = site.entry_id(title)
    page.goto("/")
    assert not site.item(entry_id).is_read

    with page.expect_response(_post_to(f"/entries/{entry_id}/read")) as posted:
        page.get_by_role("link", name=title).click()

    assert posted.value.status == 204  # the page script's POST, answered without a redirect
    expect(page.locator("h1")).to_have_text(title)
    expect(page.locator(".content blockquote")).to_contain_text("Lamp lit at 17:40")
    expect(page.locator("#read-form button")).to_have_text("Mark unread")
    # No channel is known for Ana yet: the post's comments page is the one-click reply.
    comments = page.get_by_role("link", name="Reply: Comments on the post")
    assert comments.get_attribute("href") == site.feeds.url("/ana/ana-3#comments")
    assert site.item(entry_id).is_read

    # Back may restore the timeline from the back/forward cache, as it was before
    # the entry was read ("load" does not fire then, so wait for the commit only).
    page.go_back(wait_until="commit")
    expect(page.locator(f'.item[data-entry-id="{entry_id}"]')).to_have_class(_has_class("is-read"))
    assert site.console == []


def test_entry_page_links_to_its_neighbours_in_timeline_order(page, site):
    page.goto(f"/entries/{site.entry_id('Tides and timetables')}")

    expect(page.locator("#newer")).to_contain_text("Haiku for a Tuesday")
    expect(page.locator("#older")).to_contain_text("On reading slowly")


# -- keyboard ----------------------------------------------------------------------


def test_j_and_k_move_the_selection_and_o_opens_the_selected_entry(page, site):
    page.goto("/")
    items = page.locator(".items > .item")
    selected = _has_class("is-selected")

    page.keyboard.press("j")
    expect(items.nth(0)).to_have_class(selected)
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(items.nth(2)).to_have_class(selected)
    expect(items.nth(0)).not_to_have_class(selected)
    page.keyboard.press("k")
    expect(items.nth(1)).to_have_class(selected)
    assert page.locator(".item.is-selected").count() == 1

    second_id = items.nth(1).get_attribute("data-entry-id")
    page.keyboard.press("o")
    page.wait_for_url(f"**/entries/{second_id}")
    expect(page.locator("h1")).to_have_text(TIMELINE[1][0])


def test_m_toggles_the_selected_entry_read_and_unread(page, site):
    page.goto("/")
    first = page.locator(".items > .item").first
    entry_id = int(first.get_attribute("data-entry-id"))
    page.keyboard.press("j")

    with page.expect_response(_post_to(f"/entries/{entry_id}/read")):
        page.keyboard.press("m")
    expect(first).to_have_class(_has_class("is-read"))
    assert site.item(entry_id).is_read

    with page.expect_response(_post_to(f"/entries/{entry_id}/read")):
        page.keyboard.press("m")
    expect(first).not_to_have_class(_has_class("is-read"))
    assert not site.item(entry_id).is_read


def test_s_saves_the_selected_entry_and_it_appears_on_saved(page, site):
    page.goto("/")
    page.keyboard.press("j")
    page.keyboard.press("j")
    second = page.locator(".items > .item").nth(1)
    entry_id = int(second.get_attribute("data-entry-id"))

    with page.expect_response(_post_to(f"/entries/{entry_id}/save")):
        page.keyboard.press("s")
    expect(second.locator(".saved-badge")).to_have_text("saved")
    assert site.item(entry_id).is_saved

    page.get_by_role("link", name="Saved", exact=True).click()
    expect(page.locator("h1")).to_have_text("Saved for later")
    assert _titles(page) == [TIMELINE[1][0]]


def test_slash_focuses_search_and_question_mark_opens_help_until_escape(page, site):
    page.goto("/")
    search = page.locator("#search-q")
    help_dialog = page.locator("#help")

    page.keyboard.press("/")
    expect(search).to_be_focused()
    expect(search).to_have_value("")  # the "/" itself is not typed into the box
    page.keyboard.press("Escape")
    expect(search).not_to_be_focused()

    page.keyboard.press("?")
    expect(help_dialog).to_be_visible()
    expect(help_dialog.get_by_role("dialog")).to_contain_text("next / previous post")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()


# -- search ------------------------------------------------------------------------


def test_search_finds_a_word_and_highlights_it(page, site):
    page.goto("/")
    page.locator("#search-q").fill("lighthouse")
    page.locator("#search-q").press("Enter")

    page.wait_for_url("**/search?q=lighthouse")
    assert _titles(page) == ["The lighthouse keeper's logbook"]
    marks = page.locator(".items mark").all_inner_texts()
    assert marks and {m.lower() for m in marks} == {"lighthouse"}
    expect(page.locator("#q")).to_have_value("lighthouse")
    assert site.console == []


@pytest.mark.parametrize("query", ['"', "NEAR(", "*", 'lighthouse" OR NEAR( * -'])
def test_search_with_query_syntax_characters_shows_a_normal_page(page, site, query):
    page.goto("/search")
    page.locator("#q").fill(query)
    with page.expect_response(lambda r: "/search?" in r.url) as answer:
        page.locator("#q").press("Enter")

    assert answer.value.status == 200
    expect(page.locator("h1")).to_have_text("Search")
    expect(page.locator("#q")).to_have_value(query)
    assert page.locator(".error-text").count() == 0
    assert _titles(page) or "Nothing matches" in page.locator("main").inner_text()


# -- subscriptions -----------------------------------------------------------------


def test_following_a_page_that_announces_its_feed_subscribes_and_fetches_it(page, site):
    feeds = site.feeds
    feed_url = feeds.url("/carol/feed.xml")
    feeds.route(
        "/carol/",
        body=(
            b"<!doctype html><html><head><title>Carol</title>"
            b'<link rel="alternate" type="application/rss+xml" title="Posts" href="/carol/feed.xml">'
            b"</head><body><h1>Carol's site</h1></body></html>"
        ),
        headers={"content-type": "text/html; charset=utf-8"},
    )
    feeds.route(
        "/carol/feed.xml",
        body=(
            "<?xml version='1.0'?><rss version='2.0'><channel><title>Carol Diaz</title>"
            f"<link>{feeds.url('/carol/')}</link>"
            "<item><guid>c1</guid><title>Gardens in March</title><pubDate>Sun, 02 Mar 2025 08:00:00 GMT</pubDate>"
            "<description>Seeds.</description></item>"
            "<item><guid>c2</guid><title>Gardens in April</title><pubDate>Tue, 01 Apr 2025 08:00:00 GMT</pubDate>"
            "<description>Shoots.</description></item></channel></rss>"
        ).encode(),
        headers={"content-type": "application/rss+xml"},
    )
    page.goto("/subscriptions/")

    page.locator("#add-url").fill(feeds.url("/carol/"))
    page.locator("#add-group").fill("Friends/Gardeners")
    page.get_by_role("button", name="Follow").click()

    # Following someone lands on their page: their posts, and the ways to reach them.
    expect(page.locator(".flash").first).to_have_text(
        f"Subscribed to {feed_url} (announced by the page); 2 entries fetched."
    )
    expect(page.locator("h1")).to_have_text("Carol Diaz")
    assert _titles(page) == ["Gardens in April", "Gardens in March"]
    page.goto("/subscriptions/")
    row = page.locator("table.health tbody tr", has_text="Carol Diaz")
    expect(row).to_contain_text("Friends / Gardeners")
    expect(row.locator(".status")).to_have_text("ok (200)")
    expect(page.locator("table.health caption")).to_have_text("4 feeds")
    assert feed_url in [s.feed.url for s in site.subscriptions()]
    assert site.console == []


def test_importing_an_opml_file_adds_its_feeds(page, site):
    opml = (
        "<?xml version='1.0'?><opml version='2.0'><head><title>from elsewhere</title></head><body>"
        "<outline text='Neighbours'>"
        f"<outline type='rss' text='Dora Evans' xmlUrl='{site.feeds.url('/dora/rss')}'/>"
        f"<outline type='rss' text='Eli Fox' xmlUrl='{site.feeds.url('/eli/atom')}'/>"
        "</outline></body></opml>"
    )
    page.goto("/subscriptions/")

    page.locator("#opml-file").set_input_files(
        files=[{"name": "subscriptions.opml", "mimeType": "text/x-opml", "buffer": opml.encode()}]
    )
    page.get_by_role("button", name="Import").click()

    expect(page.locator(".flash")).to_have_text("Imported 2 feeds (0 already followed).")
    expect(page.locator("table.health caption")).to_have_text("5 feeds")
    for name in ("Dora Evans", "Eli Fox"):
        expect(page.locator("table.health tbody tr", has_text=name)).to_contain_text("Neighbours")
    assert len(site.subscriptions()) == 5


def test_a_malformed_opml_upload_imports_nothing_and_says_so(page, site):
    page.goto("/subscriptions/")

    page.locator("#opml-file").set_input_files(DATA / "opml" / "malformed.opml")
    page.get_by_role("button", name="Import").click()

    expect(page.locator(".flash.flash-error")).to_contain_text("Nothing imported:")
    expect(page.locator("table.health caption")).to_have_text("3 feeds")
    assert len(site.subscriptions()) == 3


# -- people ------------------------------------------------------------------------


def test_the_people_page_goes_page_by_page_in_french_order_and_back(page, site, monkeypatch):
    import reader.web.people

    monkeypatch.setattr(reader.web.people, "PAGE_SIZE", 2)
    store = site.open_store()
    try:
        for name in ("Émilie", "zack", "éric", "Eric"):
            store.add_person(name)
    finally:
        store.close()

    def names_page_by_page(rel: str) -> list[list[str]]:
        pages = [page.locator(".person-name a").all_inner_texts()]
        while page.locator(f"a[rel={rel}]").count():
            with page.expect_navigation():
                page.locator(f"a[rel={rel}]").click()
            pages.append(page.locator(".person-name a").all_inner_texts())
        return pages

    page.goto("/people")
    forward = names_page_by_page("next")
    assert forward == [["Ana Lima", "Bo Chen"], ["Émilie", "éric"], ["Eric", "Mallory"], ["zack"]]
    expect(page.locator(".page-head .filters")).to_have_text("7 people · 7–7 shown")
    assert names_page_by_page("prev") == forward[::-1]
    assert site.console == []


# -- hostile feeds -----------------------------------------------------------------


def _assert_not_pwned(page: Page) -> None:
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_a_hostile_entry_runs_no_code_and_keeps_no_active_markup(page, site):
    entry_id = site.entry_id(HOSTILE_TITLE)

    page.goto(f"/entries/{entry_id}", wait_until="load")

    _assert_not_pwned(page)
    content = page.locator(".content")
    expect(content).to_contain_text("Hello there.")
    for selector in ("script", "iframe", "svg", "object", "embed", "[onerror]", "[onload]", "[onclick]", "[srcdoc]"):
        assert content.locator(selector).count() == 0, selector
    hrefs = content.locator("a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert all(href is None or href.startswith(("http://", "https://", "#")) for href in hrefs), hrefs
    # The title is text: shown literally, and no element inside the heading.
    expect(page.locator("h1")).to_have_text(HOSTILE_TITLE)
    assert page.locator("h1 *").count() == 0
    assert page.title() == f"{HOSTILE_TITLE} · Causerie"
    # The sanitizer left nothing for the Content-Security-Policy to block.
    assert not [m for m in site.console if "Content Security Policy" in m]


def test_a_hostile_entry_in_the_timeline_runs_no_code(page, site):
    page.goto("/", wait_until="load")

    _assert_not_pwned(page)
    link = page.locator(".items .title a", has_text="window.__pwned")
    expect(link).to_have_text(HOSTILE_TITLE)
    assert page.locator(".items script, .items iframe, .items svg, .items [onerror]").count() == 0
    assert site.console == []


# -- screenshots -------------------------------------------------------------------


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_pages_fit_the_window_and_are_saved_as_screenshots(page, site, viewport):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(viewport)
    pages = {
        "timeline": "/",
        "entry": f"/entries/{site.entry_id(TIMELINE[1][0])}",
        "search": "/search?q=lighthouse",
        "subscriptions": "/subscriptions/",
        "people": "/people",
        "person": f"/people/{site.item(site.entry_id(TIMELINE[1][0])).person_id}",
        "muted": "/muted",
        "settings": "/settings",
        "reply": f"/entries/{site.entry_id(TIMELINE[1][0])}/reply",
        "conversations": "/conversations",
    }
    too_wide = {}
    for name, path in pages.items():
        page.goto(path, wait_until="load")
        if name == "entry":  # its comments arrive a moment later
            expect(page.locator("#comments .comment")).to_have_count(2, timeout=15_000)
        page.screenshot(path=SCREENSHOTS / f"{name}-{viewport['width']}x{viewport['height']}.png", full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > viewport["width"]:
            too_wide[name] = width

    assert too_wide == {}, f"pages wider than the {viewport['width']} px window (they scroll sideways)"


# -- replying and conversations -------------------------------------------------------


def test_reply_offers_the_authors_channels_with_links_that_decode_back(page, site):
    from urllib.parse import unquote, urlsplit

    title = "The lighthouse keeper's logbook"
    entry_id = site.entry_id(title)
    store = site.open_store()
    try:
        person = site.item(entry_id).person_id
        email = store.add_channel(person, "email", "ana@example.org")
        store.add_channel(person, "fediverse", "@ana@harbour.example")
        store.add_channel(person, "signal", "+33 6 12 34 56 78")
        store.set_preferred_channel(person, email.id)
    finally:
        store.close()
    page.goto("/")
    row = page.locator(f'.item[data-entry-id="{entry_id}"]')

    default = row.locator("a.reply-default")
    expect(default).to_have_text("Reply: Email ana@example.org")
    href = default.get_attribute("href")
    fields = dict(part.split("=", 1) for part in urlsplit(href).query.split("&"))
    assert href.startswith("mailto:ana@example.org?")
    assert unquote(fields["subject"]) == f"Re: {title}"
    assert unquote(fields["body"]).endswith(f"> {title}\r\n> {site.feeds.url('/ana/ana-3')}\r\n")

    row.locator(".reply-menu summary").click()
    menu = row.locator(".reply-menu")
    expect(menu.get_by_role("link", name="Signal")).to_have_attribute("href", "https://signal.me/#p/+33612345678")
    expect(menu.get_by_role("link", name="Fediverse @ana@harbour.example")).to_have_attribute(
        "href", "https://harbour.example/@ana"
    )
    expect(menu.get_by_role("link", name="Comments on the post")).to_have_attribute(
        "href", site.feeds.url("/ana/ana-3#comments")
    )
    assert site.console == []


def test_a_post_shows_its_comments_once_fetched_without_waiting_for_them(page, site):
    entry_id = site.entry_id("The lighthouse keeper's logbook")
    response = page.goto(f"/entries/{entry_id}")
    assert response.status == 200
    comments = page.locator("#comments .comment")
    # The page script asks for the section again while the (slow) comment feed is fetched.
    expect(comments).to_have_count(2, timeout=15_000)
    expect(comments.first).to_contain_text("He kept forty years of them.")
    expect(comments.nth(1)).to_contain_text("Zoé")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#comments script").count() == 0
    assert site.console == []


def test_confirming_a_reply_puts_it_on_the_conversations_page(page, site):
    title = "Tides and timetables"
    entry_id = site.entry_id(title)
    store = site.open_store()
    try:
        store.add_channel(site.item(entry_id).person_id, "matrix", "@ana:harbour.example")
    finally:
        store.close()
    page.goto(f"/entries/{entry_id}")
    # Following the link opens the app elsewhere; this tab comes to the reply page.
    with page.context.expect_page() as opened:
        page.locator(".entry a.reply-default").click()
    opened.value.close()
    expect(page).to_have_url(re.compile(rf"/entries/{entry_id}/reply\?via=\d+$"))
    expect(page.get_by_role("heading", name="Did you write to them?")).to_be_visible()
    expect(page.get_by_label("Matrix @ana:harbour.example")).to_be_checked()

    page.locator("#reply-note").fill("Asked about the ferry times")
    page.get_by_role("button", name="Yes, I wrote to them").click()

    expect(page).to_have_url(re.compile(r"/conversations$"))
    logged = page.locator(".conversation").first
    expect(logged).to_contain_text(title)
    expect(logged).to_contain_text("Matrix @ana:harbour.example")
    expect(logged.locator("select")).to_have_value("waiting")
    assert logged.locator("input[name=note]").input_value() == "Asked about the ferry times"
    assert site.console == []


def test_a_form_whose_csrf_token_was_tampered_with_is_refused(page, site):
    page.goto("/muted")
    page.locator("#mute-phrase").fill("élection")
    page.evaluate("document.querySelector('form.inline-form input[name=csrf_token]').value = 'forged'")
    page.get_by_role("button", name="Mute").click()
    expect(page.locator("h1")).to_have_text("That request did not make sense")
    expect(page.locator(".error-text")).to_contain_text("reload the page")
    page.goto("/muted")  # with the page's own token it goes through
    page.locator("#mute-phrase").fill("élection")
    page.get_by_role("button", name="Mute").click()
    expect(page.locator(".mute-list")).to_contain_text("“élection”")
