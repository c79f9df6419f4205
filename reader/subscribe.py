"""From what a user typed (a feed URL or a web page) to a subscription.

Discovery order: the URL itself if it serves a feed; else the page's
``<link rel="alternate">`` feeds, the first non-comment one first; else the
paths blogs commonly use (``/feed``, ``/atom.xml`` …), tried one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from .config import Config
from .discover import candidate_urls, find_feed_links, looks_like_feed
from .errors import FetchError, InvalidFeedURLError
from .fetch import fetch_feed
from .models import FetchResult, Subscription
from .store import DEFAULT_USER, Store
from .update import fetch_settings
from .urls import http_url

log = logging.getLogger(__name__)

FetchOne = Callable[..., FetchResult]


@dataclass(frozen=True)
class Discovery:
    url: str  # the feed chosen
    how: str  # how it was found, for the user
    alternatives: tuple[str, ...] = ()  # other feeds the page offered


def normalize_input_url(text: str) -> str:
    """Accept "example.org/blog" as a user would type it."""
    text = text.strip()
    if "://" not in text and not text.lower().startswith(("feed:", "javascript:", "data:", "file:")):
        text = "https://" + text
    if text.lower().startswith("feed://"):
        text = "http://" + text[7:]
    url = http_url(text)
    if url is None:
        raise InvalidFeedURLError(text, "not an http(s) URL")
    return url


def discover_feed(url: str, config: Config, *, fetch: FetchOne = fetch_feed) -> Discovery:
    """Find the feed behind ``url``. Raises ``FetchError`` if nothing is found."""
    settings = fetch_settings(config)
    page = fetch(url, settings=settings)
    if looks_like_feed(page.content, page.headers.get("content-type")):
        return Discovery(page.permanent_url or url, "the URL is a feed")
    links = find_feed_links(page.content, page.final_url, page.headers.get("content-type"))
    if links:
        others = tuple(link.url for link in links[1:])
        return Discovery(links[0].url, "announced by the page", others)
    for candidate in candidate_urls(page.final_url):
        try:
            found = fetch(candidate, settings=settings)
        except (FetchError, InvalidFeedURLError):
            continue
        if looks_like_feed(found.content, found.headers.get("content-type")):
            return Discovery(found.permanent_url or candidate, f"found at the common path {candidate}")
    raise FetchError(url, "no feed found: the page announces none and no common feed path answered")


def subscribe(
    store: Store,
    config: Config,
    text: str,
    *,
    group_path: tuple[str, ...] = (),
    title: str | None = None,
    fetch: FetchOne = fetch_feed,
    user_id: int = DEFAULT_USER,
) -> tuple[Subscription, Discovery]:
    """Discover the feed behind ``text`` and subscribe to it."""
    url = normalize_input_url(text)
    found = discover_feed(url, config, fetch=fetch)
    site_url = None if found.how == "the URL is a feed" else url
    sub = store.add_feed(found.url, title=title, site_url=site_url, group_path=group_path, user_id=user_id)
    log.info("subscribed feed=%s how=%s", found.url, found.how)
    return sub, found
