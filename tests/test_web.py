"""Every route through Flask's test client: status, content, escaping, POST-redirect-GET."""

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakes import rss

from reader.models import FeedSource
from reader.store import LOCAL_USER, Store
from reader.update import update_feeds
from reader.web.pages import format_cursor

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
ADA = "https://ada.example/feed.xml"
BEA = "https://bea.example/rss"
HOSTILE = "https://evil.example/atom"

HOSTILE_FEED = """<feed xmlns="http://www.w3.org/2005/Atom"><title>Evil</title><id>urn:evil</id>
<updated>2025-01-01T00:00:00Z</updated>
<entry><id>urn:evil:1</id><title type="text">&lt;script&gt;alert(1)&lt;/script&gt; title</title>
<updated>2025-01-02T00:00:00Z</updated><link href="javascript:alert(1)"/>
<content type="html">&lt;p onclick="x()"&gt;Hi&lt;script&gt;alert(2)&lt;/script&gt;
&lt;a href="javascript:alert(3)"&gt;j&lt;/a&gt;&lt;iframe src="https://evil.example/"&gt;&lt;/iframe&gt;
&lt;img src="/pic.png" onerror="alert(4)"&gt;&lt;a href="/about"&gt;about&lt;/a&gt;&lt;/p&gt;</content>
</entry></feed>"""


@pytest.fixture
def filled(config, fetch):
    """A database with three people's feeds, fetched through the real pipeline."""
    store = Store.open(config.db_path).for_user(LOCAL_USER)
    store.add_feeds(
        [
            FeedSource(ADA, "Ada", group_path=("Friends", "Poets")),
            FeedSource(BEA, "Bea", group_path=("Friends",)),
            FeedSource(HOSTILE, "Evil"),
        ]
    )
    fetch.responses[ADA] = rss(*[(f"a{i}", f"Ada post {i}") for i in range(60)], title="Ada")
    fetch.responses[BEA] = rss(("b1", "Herons at dawn"), ("b2", "Egrets"), title="Bea")
    fetch.responses[HOSTILE] = HOSTILE_FEED
    list(update_feeds(store, config, fetch=fetch, now=lambda: T0))
    yield store
    store.close()


def entry_id(store, title):
    return next(i.entry.id for i in store.list_timeline(limit=500) if i.entry.title == title)


def state(store, eid):
    row = store.db.execute("SELECT is_read, is_saved FROM entry_states WHERE entry_id = ?", [eid]).fetchone()
    return tuple(row) if row else (0, 0)


def test_timeline_lists_posts_newest_first_with_people(client, filled):
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert "Ada post 0" in html and "Herons at dawn" in html
    assert html.count('<li class="item') == 50  # one page
    assert 'rel="next"' in html and "before=" in html


def test_keyset_pagination_reaches_the_end_and_says_so(client, filled):
    html = client.get("/").text
    cursor = re.search(r'href="/\?before=([^"&]+)', html).group(1)
    page2 = client.get(f"/?before={cursor}").text
    assert "You are caught up" in page2
    titles = set(re.findall(r'class="open" href="/entries/\d+">([^<]+)<', html))
    titles2 = set(re.findall(r'class="open" href="/entries/\d+">([^<]+)<', page2))
    assert not titles & titles2 and len(titles | titles2) == 63


def test_a_bad_cursor_is_a_400_page_not_a_crash(client, filled):
    response = client.get("/?before=yesterday")
    assert response.status_code == 400 and "not a timeline position" in response.text


def test_person_and_group_pages_are_restricted_timelines(client, filled):
    people = {p.name: p.id for p in filled.list_people()}
    groups = {g.label: g.id for g in filled.list_groups()}
    bea = client.get(f"/people/{people['Bea']}").text
    assert "Herons at dawn" in bea and "Ada post" not in bea
    friends = client.get(f"/groups/{groups['Friends']}").text  # includes the nested Poets group
    assert "Herons at dawn" in friends and "Ada post 0" in friends and "Evil" not in friends.split("<aside")[0]
    poets = client.get(f"/groups/{groups['Friends / Poets']}").text
    assert "Ada post 0" in poets and "Herons" not in poets
    assert client.get("/people/9999").status_code == 404
    assert client.get("/groups/9999").status_code == 404


def test_entry_page_shows_sanitized_content_and_changes_nothing(client, filled):
    eid = entry_id(filled, "<script>alert(1)</script> title")
    response = client.get(f"/entries/{eid}")
    assert response.status_code == 200
    html = response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; title" in html  # the title is text
    content = html.split('<div class="content">')[1].split("</div>")[0]
    assert "<script" not in content and "onclick" not in content and "onerror" not in content
    assert "javascript:" not in content and "<iframe" not in content
    assert 'href="https://evil.example/about"' in content  # relative URL resolved
    assert 'referrerpolicy="no-referrer"' in content
    assert state(filled, eid) == (0, 0)  # a GET never marks read
    assert filled.get_entry_content(eid).content_html is not None  # the sanitized cache was filled


def test_entry_page_links_neighbours_in_timeline_order(client, filled):
    items = filled.list_timeline(limit=3)
    html = client.get(f"/entries/{items[1].entry.id}").text
    assert f'id="newer" href="/entries/{items[0].entry.id}"' in html
    assert f'id="older" href="/entries/{items[2].entry.id}"' in html


def test_missing_entry_is_404(client, filled):
    assert client.get("/entries/999999").status_code == 404


def test_mark_read_and_unread_are_posts_that_redirect(client, filled):
    eid = entry_id(filled, "Egrets")
    response = client.post(f"/entries/{eid}/read", data={"read": "1", "next": "/people/1"})
    assert response.status_code == 303 and response.headers["Location"] == "/people/1"
    assert state(filled, eid)[0] == 1
    client.post(f"/entries/{eid}/read", data={"read": "0"})
    assert state(filled, eid)[0] == 0
    # The page's script gets a 204 instead of a redirect.
    scripted = client.post(f"/entries/{eid}/read", data={"read": "1"}, headers={"X-Requested-With": "causerie"})
    assert scripted.status_code == 204


def test_a_redirect_target_on_another_host_is_ignored(client, filled):
    eid = entry_id(filled, "Egrets")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post(f"/entries/{eid}/read", data={"read": "1", "next": target})
        assert response.headers["Location"] == f"/entries/{eid}"


def test_save_for_later_shows_on_the_saved_page(client, filled):
    eid = entry_id(filled, "Egrets")
    assert "Nothing saved" in client.get("/saved").text
    client.post(f"/entries/{eid}/save", data={"saved": "1"})
    assert "Egrets" in client.get("/saved").text
    client.post(f"/entries/{eid}/save", data={"saved": "0"})
    assert "Egrets" not in client.get("/saved").text


def test_unread_filter_and_caught_up_state(client, filled):
    response = client.post("/mark-read", data={})
    assert response.status_code == 303
    html = client.get("/?unread=1").text
    assert "You are caught up" in html and '<li class="item' not in html


def test_mark_read_up_to_a_point_leaves_newer_posts_unread(client, filled):
    items = filled.list_timeline(limit=10)
    client.post("/mark-read", data={"up_to": format_cursor(items[5].position)})
    assert [i.is_read for i in filled.list_timeline(limit=10)] == [False] * 5 + [True] * 5


def test_mark_read_for_one_person(client, filled):
    bea = next(p.id for p in filled.list_people() if p.name == "Bea")
    client.post("/mark-read", data={"person": bea})
    unread = {i.person_name for i in filled.list_timeline(limit=500, unread_only=True)}
    assert "Bea" not in unread and "Ada" in unread


def test_search_highlights_matches_and_escapes_everything_else(client, filled):
    html = client.get("/search?q=herons").text
    assert "<mark>Herons</mark> at dawn" in html
    evil = client.get("/search?q=alert").text
    assert "<script>alert" not in evil and "&lt;script&gt;" in evil


@pytest.mark.parametrize(
    "query", ['"', "AND", "OR NOT", "*", "title:x", "NEAR(a b)", "a AND (", "'; DROP TABLE entries; --", "ü\x00", "^"]
)
def test_any_search_query_gives_a_page(client, filled, query):
    response = client.get("/search", query_string={"q": query})
    assert response.status_code == 200


def test_subscriptions_page_shows_feed_health(client, filled, fetch):
    html = client.get("/subscriptions/").text
    assert "3 feeds" in html and "Friends / Poets" in html
    assert "ok" in html and "Posts/week" in html


def test_subscriptions_rename_move_and_unsubscribe(client, filled):
    feed = filled.get_feed(BEA)
    client.post(f"/subscriptions/{feed.id}/rename", data={"title": "Bea's birds", "person": "Beatrice"})
    sub = filled.get_subscription(BEA)
    assert (sub.title, sub.person_name) == ("Bea's birds", "Beatrice")
    client.post(f"/subscriptions/{feed.id}/move", data={"group": "Nature/Birds"})
    assert filled.get_subscription(BEA).group_path == ("Nature", "Birds")
    response = client.post(f"/subscriptions/{feed.id}/remove")
    assert response.status_code == 303
    assert BEA not in [s.feed.url for s in filled.list_subscriptions()]


def test_refresh_now_fetches_one_feed(client, filled, feed_server):
    url = feed_server.route("/cy.xml", body=rss(("c1", "Cranes"), title="Cy").encode())
    filled.add_feed(url, title="Cy")
    feed = filled.get_feed(url)

    response = client.post(f"/subscriptions/{feed.id}/refresh", follow_redirects=True)

    assert "Cy: 1 new, 0 updated" in response.text
    assert "Cranes" in client.get("/").text
    assert len(feed_server.requests_to("/cy.xml")) == 1


def test_opml_upload_imports_and_a_bad_file_imports_nothing(client, filled):
    good = b"<opml version='2.0'><body><outline text='Cy' xmlUrl='https://cy.example/feed'/></body></opml>"
    response = client.post(
        "/subscriptions/import", data={"opml": (__import__("io").BytesIO(good), "subs.opml")}, follow_redirects=True
    )
    assert "Imported 1 feeds" in response.text
    bad = b"<opml><body><outline xmlUrl='https://dee.example/feed'>"
    response = client.post(
        "/subscriptions/import", data={"opml": (__import__("io").BytesIO(bad), "bad.opml")}, follow_redirects=True
    )
    assert "Nothing imported" in response.text
    assert "https://dee.example/feed" not in [s.feed.url for s in filled.list_subscriptions()]


def test_opml_export_downloads_every_subscription(client, filled):
    response = client.get("/subscriptions/export.opml")
    assert response.status_code == 200 and response.mimetype == "text/x-opml"
    assert "attachment" in response.headers["Content-Disposition"]
    assert ADA.encode() in response.data and b'text="Poets"' in response.data


def test_add_with_an_invalid_url_flashes_an_error(client, filled):
    response = client.post("/subscriptions/add", data={"url": "javascript:alert(1)"}, follow_redirects=True)
    assert "Could not subscribe" in response.text


def test_every_page_sends_security_headers(client, filled):
    for path in ("/", "/search?q=x", "/subscriptions/", "/help", "/entries/999999"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


def test_cross_site_posts_are_refused(client, filled):
    eid = entry_id(filled, "Egrets")
    response = client.post(f"/entries/{eid}/read", data={"read": "1"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    response = client.post(f"/entries/{eid}/read", data={"read": "1"}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert state(filled, eid) == (0, 0)


USER_TABLES = (
    "users",
    "people",
    "groups",
    "subscriptions",
    "entry_states",
    "channels",
    "mutes",
    "conversations",
    "watches",
)


def user_state(store) -> dict:
    return {
        table: [tuple(row) for row in store.db.execute(f"SELECT * FROM {table} ORDER BY 1")] for table in USER_TABLES
    }


def test_no_get_changes_user_state(app, client, filled):
    """Every route of the app, asked with GET and state-changing-looking parameters, leaves what users own as it was."""
    eid = entry_id(filled, "Egrets")
    sub = filled.get_subscription(BEA)
    channel = filled.add_channel(sub.person_id, "email", "bea@bea.example")
    ids = {"entry_id": eid, "person_id": sub.person_id, "feed_id": sub.feed.id, "group_id": sub.group_id, "mute_id": 1}
    ids["channel_id"] = channel.id
    ids["conversation_id"] = filled.record_conversation(eid, "email", "bea@bea.example").id
    filled.watch_thread(eid)
    filled.add_mute("heron")
    before = user_state(filled)
    visited = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.build({name: ids[name] for name in rule.arguments}, append_unknown=False)[1]
        response = client.get(path + "?read=1&saved=1&muted=1&phrase=x&other=1&person=1&name=x&delete=1")
        assert response.status_code in (200, 405), path
        visited += 1
    assert visited > 25
    assert user_state(filled) == before


def test_safe_filter_is_only_used_on_sanitized_html_fields():
    for template in (ROOT / "templates").glob("*.html"):
        for expression in re.findall(r"\{\{([^}]*)\|\s*safe", template.read_text()):
            assert expression.strip().endswith("_html"), f"{template.name}: |safe on {expression.strip()}"


def test_static_files_are_served(client):
    for path in ("/static/style.css", "/static/app.js"):
        with client.get(path) as response:
            assert response.status_code == 200


def test_people_page_lists_everyone(client, filled):
    html = client.get("/people").text
    assert all(name in html for name in ("Ada", "Bea", "Evil"))


def test_add_discovers_subscribes_and_fetches(client, filled, feed_server):
    feed_server.route("/dee/feed.xml", body=rss(("d1", "Dee's first"), title="Dee").encode())
    page = feed_server.route(
        "/dee/",
        body=b"<html><head><link rel='alternate' type='application/rss+xml' href='feed.xml'></head></html>",
        headers={"Content-Type": "text/html"},
    )

    response = client.post("/subscriptions/add", data={"url": page, "group": "New/People"}, follow_redirects=True)

    assert "Subscribed to" in response.text and "1 entry fetched" in response.text
    assert "Dee&#39;s first" in client.get("/").text
    assert filled.get_subscription(feed_server.url("/dee/feed.xml")).group_path == ("New", "People")


# -- connections kept between requests (pages.Connections) ---------------------------------------


def test_a_thread_keeps_its_connection_from_one_request_to_the_next(app, client):
    import sqlite3

    from reader.web.pages import request_store

    seen = []

    @app.get("/test-connection")
    def connection():
        seen.append(request_store().db.conn)
        return "ok"

    client.get("/test-connection")
    client.get("/test-connection")
    assert seen[0] is seen[1]

    app.extensions["causerie.connections"].close()  # the app is done with them
    with pytest.raises(sqlite3.ProgrammingError):
        seen[0].execute("SELECT 1")
    client.get("/test-connection")  # a request after that opens a new one
    assert seen[2] is not seen[0] and seen[2].execute("SELECT 1").fetchone() == (1,)


def test_a_transaction_a_failed_request_left_open_is_rolled_back(app, client, filled):
    from reader.web.pages import request_store

    @app.get("/test-half-done")
    def half_done():
        conn = request_store().db.conn
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE feeds SET title = 'à moitié'")
        raise RuntimeError("the request fails with the write lock held")

    assert client.get("/test-half-done").status_code == 500
    # Another connection writes at once: the lock went with the rollback, and nothing half-done stayed.
    eid = entry_id(filled, "Herons at dawn")
    filled.db.conn.execute("PRAGMA busy_timeout = 100")
    filled.mark_read(eid, True)
    assert state(filled, eid)[0] == 1
    assert "à moitié" not in {row[0] for row in filled.db.execute("SELECT title FROM feeds")}
    assert client.get("/").status_code == 200


def test_a_thread_that_ends_closes_its_connection_and_lock_file(app):
    import os
    import sqlite3
    import threading

    connections = app.extensions["causerie.connections"]
    before = len(os.listdir("/proc/self/fd"))
    seen = []
    for _ in range(5):  # the development server makes a thread a request
        thread = threading.Thread(target=lambda: seen.append(connections.get().db.conn))
        thread.start()
        thread.join()

    assert len(os.listdir("/proc/self/fd")) == before
    for conn in seen:
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")
