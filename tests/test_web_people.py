"""The people pages, mutes and settings through the test client."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from test_people import feed

from reader.models import FeedSource
from reader.store import LOCAL_USER, Store
from reader.update import update_feeds

NOW = datetime.now(UTC).replace(microsecond=0)
ANA = "https://ana.example/feed.xml"
ANA_NOTES = "https://ana.example/notes.xml"
BO = "https://bo.example/rss"
CLE = "https://cle.example/atom"


@pytest.fixture
def people(config, fetch):
    store = Store.open(config.db_path).for_user(LOCAL_USER)
    store.add_feeds(
        [
            FeedSource(ANA, "Ana", group_path=("Amis",)),
            FeedSource(ANA_NOTES, "Ana’s notes", group_path=("Amis",)),
            FeedSource(BO, "Bo & « Co »"),
            FeedSource(CLE, "Clé"),
        ]
    )
    fetch.responses = {
        ANA: feed(
            ("a1", "Poème du jour", NOW - timedelta(days=1)),
            ("a2", "Vieux poème", NOW - timedelta(days=200)),
            title="Ana",
        ),
        ANA_NOTES: feed(("n1", "Note brève", NOW - timedelta(days=3)), title="Ana’s notes"),
        BO: feed(("b1", "Élection : mon vote", NOW - timedelta(hours=5)), title="Bo & « Co »"),
        CLE: feed(title="Clé"),
    }
    list(update_feeds(store, config, fetch=fetch, now=lambda: NOW))
    yield store
    store.close()


def pid(store, url):
    return store.get_subscription(url).person_id


def test_people_page_shows_everyone_with_activity_and_no_score(client, people):
    html = client.get("/people").text
    names = re.findall(r'class="person-name"><a href="/people/\d+">([^<]+)</a>', html)
    assert names == ["Ana", "Ana’s notes", "Bo &amp; « Co »", "Clé"]  # by name, escaped
    assert html.count('class="activity"') == 4  # quiet Clé has a strip like everyone
    assert "No posts yet" in html and "1 in 90 days" in html
    bars = re.findall(r'class="activity-bars" d="([^"]*)"', html)
    assert bars[-1] == "" and bars[0].startswith("M")  # Clé: no bars; Ana: a bar this week

    latest = client.get("/people?order=latest").text
    names = re.findall(r'class="person-name"><a href="/people/\d+">([^<]+)</a>', latest)
    assert names == ["Bo &amp; « Co »", "Ana", "Ana’s notes", "Clé"]
    assert client.get("/people?order=score").status_code == 400


def test_people_page_filters_by_group_and_by_return_after_silence(client, people):
    [amis] = [g for g in people.list_groups() if g.path == ("Amis",)]
    html = client.get(f"/people?group={amis.id}").text
    assert "People in Amis" in html and "Bo &amp;" not in html and "Ana’s notes" in html
    returned = client.get("/people?returned=1").text
    assert re.findall(r'class="person-name"><a href="/people/\d+">([^<]+)</a>', returned) == ["Ana"]
    assert client.get("/people?group=9999").status_code == 404


# -- pages of people --------------------------------------------------------------

FRENCH = ["Zoé", "Émilie", "éric", "Eric", "Œdipe", "« Le Monde »", "Ángel", "zack"]
ROW = r'class="person-name"><a href="/people/(\d+)">'


@pytest.fixture
def crowd(config, fetch, monkeypatch):
    """Fourteen people, three a page: French names, twice each for some, and posts whose times tie."""
    import reader.web.people

    monkeypatch.setattr(reader.web.people, "PAGE_SIZE", 3)
    store = Store.open(config.db_path).for_user(LOCAL_USER)
    days = {"Zoé": (3, 200), "Émilie": (3, 200), "éric": (1,), "Eric": (1,), "« Le Monde »": (0.2,), "Œdipe": ()}
    urls = {name: f"https://{n}.example/feed" for n, name in enumerate(days)}
    store.add_feeds(
        [FeedSource(urls[name], name, group_path=("Amis",) if n % 2 else ()) for n, name in enumerate(days)]
    )
    fetch.responses = {
        urls[name]: feed(*[(f"p{d}", "Billet", NOW - timedelta(days=d)) for d in ago], title=name)
        for name, ago in days.items()
    }
    list(update_feeds(store, config, fetch=fetch, now=lambda: NOW))
    for name in FRENCH:
        store.add_person(name)  # no feed: never posted, and a namesake of someone who has
    yield store
    store.close()


def walk(client, url: str, rel: str = "next") -> list[list[int]]:
    """The ids on each page, following the page's ``rel`` link until there is none."""
    import html

    pages = []
    while url:
        page = client.get(url)
        assert page.status_code == 200, url
        pages.append([int(found) for found in re.findall(ROW, page.text)])
        link = re.search(rf'<a rel="{rel}"[^>]* href="([^"]+)"', page.text)
        url = html.unescape(link.group(1)) if link else None
    return pages


def in_order(store, ids, order="name") -> list[int]:
    from reader.collation import sort_key

    people = {p.id: p for p in store.list_people()}
    never = datetime.min.replace(tzinfo=UTC)

    def key(person_id):
        by_name = (sort_key(people[person_id].name), person_id)
        if order == "name":
            return by_name
        latest = store.latest_post_at(person_id) or never
        return (-latest.timestamp(), *by_name)

    return sorted(ids, key=key)


@pytest.mark.parametrize("order", ["name", "latest"])
def test_pages_of_people_show_everyone_once_in_order_both_ways(client, crowd, order):
    everyone = [p.id for p in crowd.list_people()]
    pages = walk(client, f"/people?order={order}")

    shown = [person for page in pages for person in page]
    assert sorted(shown) == sorted(everyone)  # everyone, and each once
    assert shown == in_order(crowd, everyone, order)  # French order, ties by time then name then id
    assert [len(page) for page in pages] == [3, 3, 3, 3, 2]

    last = client.get(f"/people?order={order}")
    for _ in pages[1:]:  # to the last page, then all the way back
        link = re.search(r'<a rel="next"[^>]* href="([^"]+)"', last.text).group(1)
        last = client.get(link.replace("&amp;", "&"))
    assert "14 people · 13–14 shown" in last.text
    back = walk(client, last.request.full_path, rel="prev")
    assert back == pages[::-1]


def test_names_come_in_french_order_with_ties_by_id(client, crowd):
    pages = walk(client, "/people")
    names = {p.id: p.name for p in crowd.list_people()}
    shown = [names[person] for page in pages for person in page]
    # éric and Eric share a key, and ties go by id: the people fetched (older) before those added by hand.
    assert shown == [
        *("Ángel", "Émilie", "Émilie", "éric", "Eric", "éric", "Eric"),
        *("« Le Monde »", "« Le Monde »", "Œdipe", "Œdipe", "zack", "Zoé", "Zoé"),
    ]
    sidebar = re.findall(r'<li><a href="/people/\d+"[^>]*>([^<]+)</a></li>', client.get("/").text)
    assert sidebar == shown


def test_the_filters_and_the_order_stay_from_page_to_page(client, crowd):
    [amis] = [g for g in crowd.list_groups() if g.path == ("Amis",)]
    in_group = {sub.person_id for sub in crowd.list_subscriptions() if sub.group_path == ("Amis",)}
    pages = walk(client, f"/people?order=latest&group={amis.id}")
    assert [p for page in pages for p in page] == in_order(crowd, in_group, "latest") and len(pages) == 1

    returned = walk(client, "/people?returned=1")
    names = {p.id: p.name for p in crowd.list_people()}
    assert [[names[p] for p in page] for page in returned] == [["Émilie", "Zoé"]]
    second = client.get("/people?order=latest").text
    next_link = re.search(r'<a rel="next"[^>]* href="([^"]+)"', second).group(1)
    assert "order=latest" in next_link and "after=" in next_link


@pytest.mark.parametrize("cursor", ["nonsense", "a~b", "~"])
def test_a_broken_place_in_the_list_is_a_bad_request(client, crowd, cursor):
    assert client.get("/people", query_string={"after": cursor}).status_code == 400
    assert client.get("/people", query_string={"before": cursor}).status_code == 400


def test_a_page_past_the_end_says_so(client, crowd):
    page = client.get("/people", query_string={"after": "zzzz~0"}).text
    assert "No one further along" in page and 'href="/people"' in page


def test_person_page_shows_their_posts_feeds_and_notes(client, people):
    ana = pid(people, ANA)
    people.update_person(ana, notes="Rencontrée à Lyon <b>en</b> 2024", home_url="https://ana.example/")
    html = client.get(f"/people/{ana}").text
    assert "Poème du jour" in html and "Note brève" not in html  # only this person's feeds
    assert "Rencontrée à Lyon &lt;b&gt;en&lt;/b&gt; 2024" in html
    assert 'href="https://ana.example/"' in html and "Not theirs?" in html


def test_editing_a_person_and_refusing_a_bad_address(client, people):
    ana = pid(people, ANA)
    response = client.post(f"/people/{ana}/edit", data={"name": "Ana Lima", "home_url": "ana.example", "notes": "x"})
    assert response.status_code == 303
    assert people.get_person(ana).name == "Ana Lima" and people.get_person(ana).home_url == "https://ana.example"
    page = client.post(f"/people/{ana}/edit", data={"home_url": "javascript:alert(1)"}, follow_redirects=True).text
    assert "Not saved" in page and people.get_person(ana).home_url == "https://ana.example"


def test_merge_move_and_split_through_the_person_page(client, people):
    ana, notes, bo = pid(people, ANA), pid(people, ANA_NOTES), pid(people, BO)
    client.post(f"/people/{ana}/merge", data={"other": notes})
    assert people.get_person(ana).feed_count == 2
    assert client.get(f"/people/{notes}").status_code == 404
    assert "Note brève" in client.get(f"/people/{ana}").text

    bo_feed = people.get_subscription(BO).feed.id
    client.post(f"/people/feeds/{bo_feed}/move", data={"person": ana})
    assert people.get_subscription(BO).person_id == ana and people.get_person(bo).feed_count == 0

    response = client.post(f"/people/feeds/{bo_feed}/split")
    new = people.get_subscription(BO).person_id
    assert response.status_code == 303 and response.location.endswith(f"/people/{new}") and new not in (ana, bo)


def test_deleting_a_person_asks_first(client, people):
    ana = pid(people, ANA)
    page = client.get(f"/people/{ana}/delete").text
    assert "Delete Ana?" in page and "You will be unsubscribed from" in page
    assert people.get_person(ana)  # asking changed nothing
    response = client.post(f"/people/{ana}/delete")
    assert response.status_code == 303 and response.location.endswith("/people")
    assert client.get(f"/people/{ana}").status_code == 404
    assert ANA not in [s.feed.url for s in people.list_subscriptions()]


def test_muting_from_the_timeline_hides_without_reordering(client, people):
    before = re.findall(r'class="open" href="/entries/\d+">([^<]+)<', client.get("/").text)
    bo = pid(people, BO)
    timeline = client.get("/").text
    assert f'action="/people/{bo}/mute"' in timeline  # the row's "More" menu
    client.post(f"/people/{bo}/mute", data={"muted": "1", "next": "/"})
    after = re.findall(r'class="open" href="/entries/\d+">([^<]+)<', client.get("/").text)
    assert after == [title for title in before if not title.startswith("Élection")]
    assert "Bo &amp; « Co »" in client.get("/muted").text

    client.post("/muted", data={"phrase": "poème"})
    shown = re.findall(r'class="open" href="/entries/\d+">([^<]+)<', client.get("/").text)
    assert shown == ["Note brève"]
    assert "Vieux" not in client.get("/search?q=poème").text
    assert "Vieux" in client.get("/search?q=poème&muted=1").text

    [mute] = people.list_mutes()
    client.post(f"/muted/{mute.id}/remove")
    client.post(f"/people/{bo}/mute", data={"muted": "0"})
    restored = re.findall(r'class="open" href="/entries/\d+">([^<]+)<', client.get("/").text)
    assert restored == before


def test_an_empty_mute_is_refused_with_a_message(client, people):
    page = client.post("/muted", data={"phrase": "   "}, follow_redirects=True).text
    assert "Not muted" in page and people.list_mutes() == []


def test_pictures_of_people_load_only_once_the_user_opts_in(client, people):
    ana = pid(people, ANA)
    people.update_person(ana, avatar_url="https://ana.example/me.jpg")
    assert '<img class="avatar"' not in client.get(f"/people/{ana}").text
    client.post("/settings", data={"show_avatars": "1", "fediverse_instance": "@moi@Mastodon.Example"})
    html = client.get(f"/people/{ana}").text
    assert re.search(r'<img class="avatar" src="https://ana.example/me.jpg"[^>]*referrerpolicy="no-referrer"', html)
    assert people.get_settings().fediverse_instance == "https://mastodon.example"


def test_a_bad_fediverse_server_is_refused(client, people):
    page = client.post("/settings", data={"fediverse_instance": "javascript:alert(1)"}, follow_redirects=True).text
    assert "Not saved" in page and people.get_settings().fediverse_instance is None


# -- ways to reach them ------------------------------------------------------------------


@pytest.fixture
def config(config):
    from dataclasses import replace

    return replace(config, resolve=(("ana.example", "127.0.0.1"),), fetch_timeout=5.0)


def test_adding_editing_preferring_and_removing_a_channel(client, people):
    ana = pid(people, ANA)
    page = client.post(f"/people/{ana}/channels", data={"kind": "matrix", "value": "ana@matrix"}, follow_redirects=True)
    assert "Not added: not a Matrix address" in page.text and "@ana:matrix.org" in page.text  # the example
    client.post(f"/people/{ana}/channels", data={"kind": "email", "value": "ana@café.example", "label": "perso"})
    client.post(f"/people/{ana}/channels", data={"kind": "signal", "value": "+33 6 12 34 56 78"})
    html = client.get(f"/people/{ana}").text
    assert "ana@café.example" in html and "(perso)" in html and "+33612345678" in html and "typed by you" in html

    email, signal = people.list_channels(ana)
    client.post(f"/people/{ana}/preferred", data={"channel": signal.id})
    assert people.get_person(ana).preferred_channel_id == signal.id
    client.post(f"/people/channels/{email.id}/edit", data={"value": "ana@ana.example", "label": ""})
    assert people.get_channel(email.id).value == "ana@ana.example"
    bad = client.post(f"/people/channels/{email.id}/edit", data={"value": "nope"}, follow_redirects=True)
    assert "Not saved" in bad.text and people.get_channel(email.id).value == "ana@ana.example"
    client.post(f"/people/channels/{signal.id}/remove")
    assert [c.kind for c in people.list_channels(ana)] == ["email"]
    assert people.get_person(ana).preferred_channel_id is None


def test_looking_for_ways_to_reach_someone_from_their_page(client, people, feed_server):
    ana = pid(people, ANA)
    home = feed_server.route(
        "/",
        body=b'<html><link rel="me" href="xmpp:ana@jabber.example"><a href="mailto:ana@ana.example">m</a></html>',
        headers={"content-type": "text/html"},
    )
    people.update_person(ana, home_url=home.replace("127.0.0.1", "ana.example"))

    page = client.post(f"/people/{ana}/discover", follow_redirects=True).text

    assert "Found 2 new ways to reach them." in page
    assert {(c.kind, c.value) for c in people.list_channels(ana)} == {
        ("xmpp", "ana@jabber.example"),
        ("email", "ana@ana.example"),
    }
    again = client.post(f"/people/{ana}/discover", follow_redirects=True).text
    assert "Nothing new" in again


def test_a_home_page_that_cannot_be_read_is_a_note_not_an_error_page(client, people, feed_server):
    ana = pid(people, ANA)
    feed_server.route("/gone", status=410, body=b"gone")
    people.update_person(ana, home_url=feed_server.url("/gone", host="ana.example"))
    response = client.post(f"/people/{ana}/discover", follow_redirects=True)
    assert response.status_code == 200
    assert "could not be read: HTTP 410" in response.text and people.list_channels(ana) == []
