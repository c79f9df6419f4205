"""The one place that knows the order: fetch → parse → store.

Per feed, an expected failure (``ReaderError``) becomes data — recorded on the
feed, logged once, returned as an ``UpdateResult`` — and the next feed goes on.
Anything else is a bug and propagates.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta

from .config import Config
from .errors import FetchError, ReaderError
from .fetch import FetchRequest, FetchSettings, fetch_all
from .models import Feed, FetchResult, UpdateResult
from .parse import parse_feed
from .sanitize import excerpt, to_text
from .store import Store

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(minutes=15)
BACKOFF_MAX = timedelta(hours=24)  # errors slow polling down, but never stop it

FetchAll = Callable[[Iterable[FetchRequest], FetchSettings], Iterator[tuple[FetchRequest, object]]]


def utc_now() -> datetime:
    return datetime.now(UTC)


def fetch_settings(config: Config) -> FetchSettings:
    defaults = FetchSettings()
    return FetchSettings(
        timeout=config.fetch_timeout,
        connect_timeout=min(defaults.connect_timeout, config.fetch_timeout),
        max_bytes=config.max_feed_bytes,
        user_agent=config.user_agent or defaults.user_agent,
        workers=config.fetch_workers,
        per_host=config.fetch_per_host,
    )


def select_feeds(
    store: Store, now: datetime, *, due_only: bool = False, urls: Iterable[str] | None = None
) -> list[Feed]:
    """Which feeds an update should fetch.

    Without ``urls``, every followed feed that no server told to wait; with
    ``due_only``, only those whose next fetch time has come. Feeds named in
    ``urls`` are fetched whatever their state: a user asked for them.
    """
    if urls is None:
        return store.list_feeds_to_fetch(now, due_only=due_only)
    return [store.get_feed(url) for url in dict.fromkeys(urls)]


def update_feeds(
    store: Store,
    config: Config,
    feeds: list[Feed] | None = None,
    *,
    fetch: FetchAll = fetch_all,
    now: Callable[[], datetime] = utc_now,
) -> Iterator[UpdateResult]:
    """Fetch and store ``feeds`` (default: ``select_feeds``), yielding one result per feed as each is done."""
    if feeds is None:
        feeds = select_feeds(store, now())
    by_url = {feed.url: feed for feed in feeds}
    requests = [FetchRequest(feed.url, feed.etag, feed.last_modified) for feed in feeds]
    for request, outcome in fetch(requests, fetch_settings(config)):
        yield _update_one(store, config, by_url[request.url], outcome, now())


def _update_one(store: Store, config: Config, feed: Feed, outcome: object, now: datetime) -> UpdateResult:
    next_fetch_at = now + timedelta(minutes=config.update_interval)
    try:
        if isinstance(outcome, ReaderError):
            raise outcome
        result = _store_fetch(store, feed, outcome, now, next_fetch_at)
    except ReaderError as exc:
        return _record_failure(store, feed, exc, now, next_fetch_at)
    log.info("updated feed=%s status=%s new=%d updated=%d", feed.url, result.status, result.new, result.updated)
    return result


def _store_fetch(
    store: Store, feed: Feed, fetched: FetchResult, now: datetime, next_fetch_at: datetime
) -> UpdateResult:
    if fetched.status == "not_modified":
        store.record_not_modified(feed.id, fetched, now, next_fetch_at)
        return UpdateResult(feed.url, "not_modified")
    body_hash = hashlib.sha256(fetched.content).hexdigest()
    if body_hash == feed.body_hash:  # no validators, or they changed while the body did not
        store.record_not_modified(feed.id, fetched, now, next_fetch_at)
        return UpdateResult(feed.url, "unchanged")
    parsed = parse_feed(fetched.content, fetched.final_url, fetched.headers)
    for warning in parsed.warnings:
        log.warning("degraded feed=%s warning=%s", feed.url, warning)
    url = feed.url
    if fetched.permanent_url and store.move_feed(feed.id, fetched.permanent_url):
        log.info("moved feed=%s to=%s", feed.url, fetched.permanent_url)
        url = fetched.permanent_url
    saved = store.save_update(
        feed.id,
        parsed,
        fetched,
        now,
        next_fetch_at,
        body_hash=body_hash,
        text_of=to_text,
        excerpt_of=excerpt,
    )
    return UpdateResult(url, "ok", new=saved.new, updated=saved.updated)


def _record_failure(store: Store, feed: Feed, exc: ReaderError, now: datetime, next_fetch_at: datetime) -> UpdateResult:
    status = exc.status if isinstance(exc, FetchError) else None
    gone = status == 410
    wait_until = None
    if not gone:
        retry_after = exc.retry_after if isinstance(exc, FetchError) else None
        delay = timedelta(seconds=retry_after) if retry_after is not None else backoff(feed.error_count + 1)
        wait_until = now + delay
        next_fetch_at = max(next_fetch_at, wait_until)
    message = _message(exc, feed.url)
    store.record_error(
        feed.id, message, now, http_status=status, next_fetch_at=next_fetch_at, wait_until=wait_until, gone=gone
    )
    log.error("updated feed=%s status=%s error=%s", feed.url, "gone" if gone else "error", message)
    return UpdateResult(feed.url, "gone" if gone else "error", error=message)


def backoff(error_count: int) -> timedelta:
    """How long to leave a failing feed alone after its ``error_count``-th error in a row."""
    exponent = min(max(error_count - 1, 0), 16)
    return min(BACKOFF_BASE * (2**exponent), BACKOFF_MAX)


def _message(exc: ReaderError, url: str) -> str:
    """The error without the feed URL in front: it is shown next to the feed anyway."""
    text = str(exc)
    prefix = f"{url}: "
    return text[len(prefix) :] if text.startswith(prefix) else text
