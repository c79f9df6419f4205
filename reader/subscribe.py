"""From what a user typed (a feed URL or a web page) to a subscription.

Discovery order: the URL itself if it serves a feed; else the page's
``<link rel="alternate">`` feeds, the first non-comment one first; else the
paths blogs commonly use (``/feed``, ``/atom.xml`` …), tried one by one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from .config import Config
from .discover import PageSummary, candidate_urls, read_page, sniff_feed
from .errors import FetchError, InvalidFeedURLError
from .fetch import fetch_all
from .models import FetchResult, Subscription, UpdateResult
from .store import Store, UserStore
from .update import FetchAll, collect, update_feeds
from .urls import http_form, schemeless_url, stored_form, typed_http_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Discovery:
    url: str  # the feed chosen
    how: str  # how it was found, for the user
    alternatives: tuple[str, ...] = ()  # other feeds the page offered
    page_url: str | None = None  # the page read, when the URL given was a page
    note: str | None = None  # what was assumed on the way ("no scheme given: https did not connect, so http")
    # The chosen feed's response, kept so its first update need not fetch it again.
    fetched: FetchResult | None = field(default=None, repr=False, compare=False)


def normalize_input_url(text: str) -> str:
    """Accept "example.org/blog" as a user would type it (https, see ``discover_feed``)."""
    url = typed_http_url(text)
    if url is None:
        raise InvalidFeedURLError(text.strip(), "not an http(s) URL")
    return stored_form(url)


def discover_feed(url: str, config: Config, *, fetch: FetchAll = fetch_all, typed: str | None = None) -> Discovery:
    """Find the feed behind ``url``. Raises ``FetchError`` if nothing is found.

    Every fetch goes through the pipeline (``update.collect``), so pages are
    read with the fetcher's caps and under the parse time budget. Announced
    links are checked before one is chosen (a ``rel="feed"`` may point at an
    HTML page); common paths are tried all at once, and the first in order of
    likelihood that serves a feed wins.
    """
    [page] = collect([url], read_page, config, fetch=fetch)
    note = None
    if _scheme_was_assumed(typed) and isinstance(page.error, FetchError) and page.error.connect_failed:
        # Typed without a scheme and https did not connect: many small sites still serve only http.
        plain = http_form(url)
        [retry] = collect([plain], read_page, config, fetch=fetch)
        if retry.error is None:
            note = f"no scheme given: https did not connect ({page.error.message}), so http"
            url, page = plain, retry
    if page.error is not None:
        raise page.error
    response, summary = page.response, page.prepared or PageSummary(False)
    if summary.is_feed:
        return Discovery(stored_form(response.permanent_url or url), "the URL is a feed", fetched=response, note=note)
    links = [link.url for link in summary.feed_links]
    feeds = _serving_feeds(links[:MAX_ANNOUNCED], config, fetch)
    if feeds:
        others = tuple(stored_form(u) for u, _ in feeds[1:])
        return Discovery(stored_form(feeds[0][0]), "announced by the page", others, url, note, fetched=feeds[0][1])
    feeds = _serving_feeds(candidate_urls(response.final_url), config, fetch)
    if feeds:
        chosen, found = feeds[0]
        path = urlsplit(chosen).path
        return Discovery(stored_form(chosen), f"found at the common path {path}", (), url, note, fetched=found)
    if links:
        raise FetchError(url, "no feed found: the feeds the page announces do not answer with a feed")
    raise FetchError(url, "no feed found: the page announces none and no common feed path answered")


MAX_ANNOUNCED = 10


def _scheme_was_assumed(typed: str | None) -> bool:
    return typed is not None and schemeless_url(typed) is not None


def _serving_feeds(urls: list[str], config: Config, fetch: FetchAll) -> list[tuple[str, FetchResult]]:
    """The URLs (in the given order) that answer with a feed, with their response.

    Where a feed moved for good, its new URL.
    """
    return [
        (done.response.permanent_url or done.job.url, done.response)
        for done in collect(urls, sniff_feed, config, fetch=fetch)
        if done.error is None and done.prepared
    ]


def subscribe(
    store: UserStore,
    config: Config,
    text: str,
    *,
    group_path: tuple[str, ...] = (),
    title: str | None = None,
    fetch: FetchAll = fetch_all,
) -> tuple[Subscription, Discovery]:
    """Discover the feed behind ``text`` and subscribe to it."""
    url = normalize_input_url(text)
    found = discover_feed(url, config, fetch=fetch, typed=text)
    site_url = found.page_url
    sub = store.add_feed(found.url, title=title, site_url=site_url, group_path=group_path)
    log.info("subscribed feed=%s how=%s", found.url, found.how)
    return sub, found


def fetch_new_subscription(store: Store, config: Config, sub: Subscription, found: Discovery) -> UpdateResult:
    """Store a new feed's entries right away, from the response discovery already has.

    Without it, adding a feed would ask its server for the same document twice in a row.
    """
    if found.fetched is None or found.fetched.status != "ok":
        [result] = list(update_feeds(store, config, [sub.feed]))
        return result
    response = replace(found.fetched, url=sub.feed.url, permanent_url=None)

    def already_fetched(requests, settings):
        for request in requests:
            yield request, response

    [result] = list(update_feeds(store, config, [sub.feed], fetch=already_fetched))
    return result
