"""Looking for ways to reach people, over real-shaped pages served from 127.0.0.1.

Every host name below resolves to the test server (READER_RESOLVE), which
answers by Host header, so a home page, a Mastodon profile and "another site"
are different sites to Causerie, as they would be on the internet.
"""

from dataclasses import replace
from pathlib import Path

import pytest
from httpserver import Request, Response

from reader.models import FeedSource
from reader.reach import MAX_PROFILES, find_channels, find_channels_after_fetch
from reader.update import update_feeds

DATA = Path(__file__).parent / "data" / "people"
HOSTS = (
    "ana.example",
    "bo.example",
    "cy.example",
    "dee.example",
    "social.example",
    "elsewhere.example",
    "evil.example",
    "github.com",
    "micro.blog",
)


class Sites:
    """Pages by (host, path) on one test server."""

    def __init__(self, server) -> None:
        self.server = server
        self.pages: dict[tuple[str, str], Response] = {}

    def url(self, host: str, path: str = "/") -> str:
        return self.server.url(path, host=host)

    def page(self, host: str, path: str, body: bytes | str, **response) -> str:
        if isinstance(body, str):
            body = body.encode()
        response.setdefault("headers", {"content-type": "text/html; charset=utf-8"})
        self.pages[(host, path)] = Response(body=body, **response)
        self.server.route(path, self._answer)
        return self.url(host, path)

    def template(self, file: str, host: str, path: str = "/", **values) -> str:
        text = (DATA / file).read_text()
        values = {"base": self.url(host).rstrip("/"), "social": self.url("social.example").rstrip("/"), **values}
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        return self.page(host, path, text)

    def mastodon(self, user: str, backlink: str) -> str:
        return self.template(
            "mastodon_profile.html", "social.example", f"/@{user}", user=user, name=user.title(), handle=user,
            backlink=backlink,
        )  # fmt: skip

    def hits(self, host: str) -> int:
        return sum(1 for request in self.server.requests if request.host == host)

    def _answer(self, request: Request) -> Response:
        return self.pages.get((request.host, request.path.split("?")[0]), Response(404, b"not found"))


@pytest.fixture
def sites(feed_server) -> Sites:
    return Sites(feed_server)


@pytest.fixture
def config(config):
    return replace(config, resolve=tuple((host, "127.0.0.1") for host in HOSTS), fetch_timeout=5.0)


def person_with_home(store, sites, host: str, name: str = "Someone") -> int:
    return store.add_person(name, home_url=sites.url(host)).id


def channels_of(store, person_id) -> set[tuple[str, str, str, bool]]:
    return {(c.kind, c.value, c.source, c.is_verified) for c in store.list_channels(person_id)}


def social(sites, user: str) -> str:
    return f"@{user}@social.example"


# -- platforms ------------------------------------------------------------------------------


def test_a_wordpress_home_page(store, config, sites):
    home = sites.template("wordpress.html", "ana.example")
    sites.mastodon("ana", backlink=home)  # links back: verified
    ana = person_with_home(store, sites, "ana.example", "Ana")

    report = find_channels(store, config, ana)

    base = home.rstrip("/")
    assert channels_of(store, ana) == {
        ("email", "ana@ana.example", "home_page", False),  # the h-card's, not the publisher's in the footer
        ("telegram", "ana_lima", "home_page", False),
        ("fediverse", social(sites, "ana"), "profile", True),
        ("webmention", f"{base}/wp-json/webmention/1.0/endpoint", "home_page", False),
        ("contact", f"{base}/contact/", "home_page", False),
    }
    assert report.new == 5 and report.notes == ()
    assert store.get_person(ana).avatar_url == f"{base}/wp-content/uploads/ana.jpg"


def test_a_hugo_home_page_with_a_mastodon_profile_that_does_not_link_back(store, config, sites):
    sites.template("hugo.html", "bo.example")
    sites.mastodon("bo", backlink="https://someone-else.example/")
    bo = person_with_home(store, sites, "bo.example", "Bo")

    find_channels(store, config, bo)

    assert channels_of(store, bo) == {
        ("email", "bo@bo.example", "home_page", False),  # no h-card: the page's mailto
        ("signal", "+33612345678", "home_page", False),
        ("matrix", "@bo:matrix.example", "home_page", False),
        ("xmpp", "bo@jabber.example", "home_page", False),
        ("fediverse", social(sites, "bo"), "profile", False),  # claimed by the home page only
    }


def test_a_ghost_home_page_takes_only_links_marked_as_the_persons(store, config, sites):
    home = sites.template("ghost.html", "cy.example")
    sites.mastodon("cy", backlink=home)
    cy = person_with_home(store, sites, "cy.example", "Cy")

    find_channels(store, config, cy)

    # The Bluesky link has no rel="me": it could be anyone's.
    assert channels_of(store, cy) == {("fediverse", social(sites, "cy"), "profile", True)}


def test_a_micro_blog_home_page_with_a_profile_under_users(store, config, sites):
    home = sites.template("microblog.html", "dee.example")
    sites.template(
        "mastodon_profile.html", "social.example", "/users/dee", user="dee", name="Dee", handle="dee", backlink=home
    )
    dee = person_with_home(store, sites, "dee.example", "Dee")

    find_channels(store, config, dee)

    assert channels_of(store, dee) == {
        ("fediverse", social(sites, "dee"), "profile", True),
        ("webmention", "https://micro.blog/webmention", "home_page", False),
    }
    assert store.get_person(dee).avatar_url == "https://micro.blog/dee/avatar.jpg"


def test_the_webmention_endpoint_in_the_link_header_comes_first(store, config, sites):
    sites.page(
        "ana.example",
        "/",
        '<link rel="webmention" href="/from-html">',
        headers={"content-type": "text/html", "link": '<https://hub.example/wm?x=1>; rel="webmention other"'},
    )
    ana = person_with_home(store, sites, "ana.example")
    find_channels(store, config, ana)
    assert channels_of(store, ana) == {("webmention", "https://hub.example/wm?x=1", "home_page", False)}


# -- what must not be taken ---------------------------------------------------------------


def test_a_hostile_home_page_gives_nothing_dangerous(store, config, sites):
    sites.template("hostile.html", "evil.example")
    evil = person_with_home(store, sites, "evil.example")

    report = find_channels(store, config, evil)

    found = channels_of(store, evil)
    assert found <= {("email", "ok@evil.example", "home_page", False)}
    assert report.notes == ()
    assert store.get_person(evil).avatar_url is None


def test_private_channels_on_another_site_are_never_offered(store, config, sites):
    sites.page("ana.example", "/", b"", status=302, headers={"location": sites.url("elsewhere.example", "/spam")})
    sites.page(
        "elsewhere.example",
        "/spam",
        '<a rel="me" href="mailto:sales@elsewhere.example">x</a><a rel="me" href="https://t.me/spam_bot_here">t</a>'
        '<link rel="webmention" href="https://elsewhere.example/wm">',
    )
    ana = person_with_home(store, sites, "ana.example")

    report = find_channels(store, config, ana)

    assert channels_of(store, ana) == {("webmention", "https://elsewhere.example/wm", "home_page", False)}
    assert any("another site" in note for note in report.notes)


@pytest.mark.parametrize("status", [404, 500])
def test_a_broken_home_page_gives_no_channels_and_a_clear_note(store, config, sites, status):
    sites.page("ana.example", "/", b"oops", status=status)
    ana = person_with_home(store, sites, "ana.example")

    report = find_channels(store, config, ana)

    assert store.list_channels(ana) == []
    assert report.notes == (f"their home page {sites.url('ana.example')} could not be read: HTTP {status} "
                            f"{'Not Found' if status == 404 else 'Internal Server Error'}",)  # fmt: skip


def test_a_ten_megabyte_home_page_is_read_to_its_first_two(store, config, sites):
    filler = "<p>" + "Lorem ipsum dolor sit amet. " * 40 + "</p>\n"
    head = (
        f'<link rel="me" href="mailto:ana@ana.example"><link rel="webmention" href="{sites.url("ana.example", "/wm")}">'
    )
    tail = '<a rel="me" href="https://t.me/too_far_down">late</a>'
    body = head + filler * (10_000_000 // len(filler)) + tail
    assert len(body) > 9_900_000
    sites.page("ana.example", "/", body)
    ana = person_with_home(store, sites, "ana.example")

    report = find_channels(store, config, ana)

    assert {c.kind for c in store.list_channels(ana)} == {"email", "webmention"}
    assert report.notes == ()


def test_a_page_with_five_thousand_links_fetches_only_a_few_profiles(store, config, sites):
    links = "".join(f'<a rel="me" href="{sites.url("social.example", f"/@user{i}")}">{i}</a>' for i in range(5000))
    sites.page("ana.example", "/", f"<html><body>{links}</body></html>")
    ana = person_with_home(store, sites, "ana.example")

    find_channels(store, config, ana)

    assert sites.hits("social.example") == MAX_PROFILES
    assert store.list_channels(ana) == []  # the profiles are 404s


# -- from feeds, and when discovery runs --------------------------------------------------------


def rss_with_editor(editor: str, site: str) -> str:
    return (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>Le carnet</title>"
        f"<link>{site}</link><managingEditor>{editor}</managingEditor>"
        "<item><guid>1</guid><title>Un</title><author>noreply@ana.example</author></item></channel></rss>"
    )


def test_the_first_successful_fetch_looks_for_ways_to_reach_the_person(store, config, sites):
    feed = sites.page(
        "ana.example",
        "/feed.xml",
        rss_with_editor("ana@ana.example (Ana Lima)", sites.url("ana.example")),
        headers={"content-type": "application/rss+xml"},
    )
    sites.template("wordpress.html", "ana.example")
    store.add_feeds([FeedSource(feed, "Ana")])
    feeds = store.list_feeds_to_fetch(store_now())

    results = list(update_feeds(store, config, feeds))
    reports = find_channels_after_fetch(store, config, feeds, results)

    [report] = reports
    person = store.get_subscription(feed).person_id
    assert report.person_id == person
    kinds = {(c.kind, c.value, c.source) for c in store.list_channels(person)}
    assert ("email", "ana@ana.example", "feed") in kinds  # the feed's managingEditor; never its noreply author
    assert not any(value.startswith("noreply") for _, value, _ in kinds)
    assert ("telegram", "ana_lima", "home_page") in kinds  # the feed's site, read as their home page

    again = list(update_feeds(store, config, store.list_feeds_to_fetch(store_now())))
    assert find_channels_after_fetch(store, config, store.list_feeds_to_fetch(store_now()), again) == []


def test_a_removed_channel_is_not_found_again_and_verification_is_kept(store, config, sites):
    home = sites.template("wordpress.html", "ana.example")
    sites.mastodon("ana", backlink=home)
    ana = person_with_home(store, sites, "ana.example")
    find_channels(store, config, ana)
    [telegram] = [c for c in store.list_channels(ana) if c.kind == "telegram"]

    store.remove_channel(telegram.id)
    report = find_channels(store, config, ana)

    assert report.new == 0
    assert "telegram" not in {c.kind for c in store.list_channels(ana)}
    assert [c.is_verified for c in store.list_channels(ana) if c.kind == "fediverse"] == [True]


def store_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)
