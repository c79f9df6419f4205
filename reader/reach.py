"""Looking for ways to reach people: their feeds' author fields, their home page, and their profiles.

Runs when a feed is added, after a feed's first successful fetch, and when
the user asks. Every page is fetched through the pipeline (``update.collect``),
so with the fetcher's caps and under the parse time budget; the number of
pages per person is bounded (one home page per known site, at most
``MAX_PROFILES`` profiles). A page that cannot be read gives no channels and
a note saying why, never an error.

Trust (the Mastodon model): a ``rel="me"`` profile that links back to the
person's home page is verified. Channels come only from the person's own
places — their feeds and their home page (the site the feed names, or the
page the user gave) — never from a page elsewhere: a home page that
redirects to another site is read for public links at most, and private
channels found there are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from .channels import KINDS, channel_from_url, channel_or_none, fediverse_handle, is_nobody
from .config import Config
from .fetch import fetch_all
from .homepage import HomePage, Profile, links_back, read_home_page, read_profile
from .models import Feed, FoundChannel, ReachSources, UpdateResult
from .store import Store, UserStore
from .update import FetchAll, ParsePool, collect
from .urls import http_url, site_key

log = logging.getLogger(__name__)

MAX_HOME_PAGES = 2  # per person: their home page and one more site of theirs
MAX_PROFILES = 4  # rel="me" profiles fetched per person to check for a link back


@dataclass(frozen=True)
class ReachReport:
    person_id: int
    new: int = 0  # channels not known before
    found: tuple[FoundChannel, ...] = ()
    notes: tuple[str, ...] = ()  # what could not be read, for the user


@dataclass
class _Person:
    """One person being looked into: what is known, and what the pages said."""

    user_id: int
    person_id: int
    sources: ReachSources
    found: dict[tuple[str, str], FoundChannel] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    photo: str | None = None
    profiles: list[str] = field(default_factory=list)  # rel="me" links to check
    home_pages: list[str] = field(default_factory=list)  # as read, after redirects

    def add(self, channel: FoundChannel) -> None:
        key = (channel.kind, channel.value)
        old = self.found.get(key)
        if old is None or (channel.is_verified and not old.is_verified):
            self.found[key] = channel


def find_channels(store: UserStore, config: Config, person_id: int, *, fetch: FetchAll = fetch_all) -> ReachReport:
    """Look for ways to reach one person now (the "look for ways to reach them" button)."""
    [report] = _run(store, config, [(store.user_id, person_id)], fetch)
    return report


def find_channels_after_fetch(
    store: Store, config: Config, feeds: Iterable[Feed], results: Iterable[UpdateResult], *, fetch: FetchAll = fetch_all
) -> list[ReachReport]:
    """After an update: look into the people of every feed whose first successful fetch this was."""
    first = {feed.url for feed in feeds if feed.last_success_at is None}
    done = [result.url for result in results if result.status == "ok" and result.url in first]
    if not done:
        return []
    return _run(store, config, store.people_following(done), fetch)


def _run(store: Store, config: Config, people: list[tuple[int, int]], fetch: FetchAll) -> list[ReachReport]:
    now = datetime.now(UTC)
    looked = [_Person(user, person, store.for_user(user).reach_sources(person)) for user, person in people]
    for person in looked:
        _from_feeds(person)
    with ParsePool(config.parse_workers, config.parse_time_budget) as pool:  # one for both rounds of pages
        _read_home_pages(looked, config, fetch, pool)
        _check_profiles(looked, config, fetch, pool)
    reports = []
    for person in looked:
        user_store = store.for_user(person.user_id)
        new = user_store.record_found_channels(person.person_id, person.found.values(), now)
        if person.photo and not user_store.get_person(person.person_id).avatar_url:
            user_store.update_person(person.person_id, avatar_url=person.photo)
        log.info(
            "reached person=%d new=%d found=%d notes=%d", person.person_id, new, len(person.found), len(person.notes)
        )
        reports.append(ReachReport(person.person_id, new, tuple(person.found.values()), tuple(person.notes)))
    return reports


def _from_feeds(person: _Person) -> None:
    """The feeds are the person's own: their author addresses are ways to reach them."""
    for email in person.sources.feed_emails:
        value = channel_or_none("email", email)
        if value and not is_nobody(value):
            person.add(FoundChannel("email", value, "feed"))
    for url in person.sources.feed_author_urls:
        link = channel_from_url(url)
        if link:
            person.add(FoundChannel(*link, "feed", url))
        elif http_url(url):
            person.profiles.append(url)  # maybe their fediverse profile: the fetch will tell


def _read_home_pages(people: list[_Person], config: Config, fetch: FetchAll, pool: ParsePool) -> None:
    wanted: dict[str, list[_Person]] = {}
    for person in people:
        for url in person.sources.home_urls[:MAX_HOME_PAGES]:
            wanted.setdefault(url, []).append(person)
    if not wanted:
        return
    for done in collect(list(wanted), read_home_page, config, fetch=fetch, pool=pool):
        for person in wanted[done.job.url]:
            if done.error is not None:
                person.notes.append(
                    f"their home page {done.job.url} could not be read: {done.error.message or done.error}"
                )
            elif done.prepared is not None:
                _from_home_page(person, done.job.url, done.prepared)


def _from_home_page(person: _Person, asked: str, page: HomePage) -> None:
    own = _host(page.url) == _host(asked)
    if not own:
        person.notes.append(f"{asked} sent us to {page.url}, another site: only public links were kept")
    person.home_pages.append(page.url)
    card = page.card
    links = list(page.rel_me) + (list(card.urls) if card else [])
    emails = list(card.emails) if card and card.emails else list(page.mailto)
    for url in links + emails:
        link = channel_from_url(url)
        if link and (own or not KINDS[link[0]].is_private):
            person.add(FoundChannel(*link, "home_page", page.url))
    for url in page.rel_me:
        elsewhere = url.startswith("http") and site_key(url) != site_key(page.url) and channel_from_url(url) is None
        if elsewhere and url not in person.profiles:
            person.profiles.append(url)
    if page.webmention:
        person.add(FoundChannel("webmention", page.webmention, "home_page", page.url))
    if page.contact and own:
        person.add(FoundChannel("contact", page.contact, "home_page", page.url))
    if own and card and card.photo:
        person.photo = card.photo


def _check_profiles(people: list[_Person], config: Config, fetch: FetchAll, pool: ParsePool) -> None:
    """Fetch each rel="me" profile: a fediverse account is a channel, verified if it links back."""
    wanted: dict[str, list[_Person]] = {}
    for person in people:
        homes = {site_key(url) for url in person.home_pages + list(person.sources.home_urls)}
        candidates = [url for url in person.profiles if site_key(url) not in homes]
        # Addresses shaped like fediverse profiles first: only so many are fetched.
        candidates.sort(key=lambda url: fediverse_handle(url) is None)
        for url in candidates[:MAX_PROFILES]:
            wanted.setdefault(url, []).append(person)
    if not wanted:
        return
    for done in collect(list(wanted), read_profile, config, fetch=fetch, pool=pool):
        profile: Profile | None = done.prepared if done.error is None else None
        if profile is None or not profile.is_activitypub:
            continue
        handle = fediverse_handle(done.job.url) or fediverse_handle(profile.url)
        if handle is None:
            continue
        for person in wanted[done.job.url]:
            homes = person.home_pages + list(person.sources.home_urls)
            verified = links_back(profile, homes)
            person.add(FoundChannel("fediverse", handle, "profile", done.job.url, is_verified=verified))


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower().removeprefix("www.")
    except ValueError:
        return ""
