"""The one place that knows the order: fetch → parse → store.

Per feed, an expected failure (``ReaderError``) becomes data — recorded on the
feed, logged once, returned as an ``UpdateResult`` — and the next feed goes on.
Anything else is a bug and propagates.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .config import Config
from .errors import FetchError, ParseError, ReaderError
from .fetch import FetchRequest, FetchSettings, fetch_all
from .models import EntryDerived, Feed, FetchResult, ParsedEntry, PreparedFeed, UpdateResult
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
    """Fetch and store ``feeds`` (default: ``select_feeds``), yielding one result per feed as each is done.

    Three stages overlap: the fetcher downloads in a background thread, parser
    processes parse, and this thread stores, in the order parses finish.
    """
    if feeds is None:
        feeds = select_feeds(store, now())
    by_url = {feed.url: feed for feed in feeds}
    requests = [FetchRequest(feed.url, feed.etag, feed.last_modified) for feed in feeds]
    with ParsePool(config.parse_workers) as pool:
        pending: deque[_Pending] = deque()
        for request, outcome in fetch(requests, fetch_settings(config)):
            pending.append(_begin(by_url[request.url], outcome, pool))
            # Keep a few parses in flight, and store each as soon as it is ready.
            while pending and (len(pending) > _PARSES_IN_FLIGHT or pending[0].is_ready()):
                yield _finish(store, config, pending.popleft(), now())
        while pending:
            yield _finish(store, config, pending.popleft(), now())


_PARSES_IN_FLIGHT = 8


@dataclass
class _Pending:
    feed: Feed
    outcome: FetchResult | ReaderError
    body_hash: str | None = None
    parsing: Future | None = None

    def is_ready(self) -> bool:
        return self.parsing is None or self.parsing.done()


def _begin(feed: Feed, outcome: object, pool: ParsePool) -> _Pending:
    if isinstance(outcome, ReaderError) or outcome.status == "not_modified":
        return _Pending(feed, outcome)
    body_hash = hashlib.sha256(outcome.content).hexdigest()
    if body_hash == feed.body_hash:  # no validators, or they changed while the body did not
        return _Pending(feed, outcome, body_hash)
    return _Pending(feed, outcome, body_hash, pool.submit(outcome.content, outcome.final_url, outcome.headers))


def _finish(store: Store, config: Config, item: _Pending, now: datetime) -> UpdateResult:
    feed, outcome = item.feed, item.outcome
    next_fetch_at = now + timedelta(minutes=config.update_interval)
    try:
        if isinstance(outcome, ReaderError):
            raise outcome
        if item.parsing is None:
            store.record_not_modified(feed.id, outcome, now, next_fetch_at)
            status = "not_modified" if outcome.status == "not_modified" else "unchanged"
            result = UpdateResult(feed.url, status)
        else:
            result = _store_parsed(store, feed, outcome, _parsed(item), item.body_hash, now, next_fetch_at)
    except ReaderError as exc:
        return _record_failure(store, feed, exc, now, next_fetch_at)
    log.info("updated feed=%s status=%s new=%d updated=%d", feed.url, result.status, result.new, result.updated)
    return result


def _parsed(item: _Pending) -> PreparedFeed:
    try:
        return item.parsing.result()
    except BrokenProcessPool as exc:
        # The worker died under this feed (memory, a crash in C code): that
        # feed's error; the pool is replaced for the others.
        raise ParseError(item.feed.url, "the parser process died") from exc


def _store_parsed(
    store: Store,
    feed: Feed,
    fetched: FetchResult,
    prepared: PreparedFeed,
    body_hash: str,
    now: datetime,
    next_fetch_at: datetime,
) -> UpdateResult:
    for warning in prepared.parsed.warnings:
        log.warning("degraded feed=%s warning=%s", feed.url, warning)
    url = feed.url
    if fetched.permanent_url and store.move_feed(feed.id, fetched.permanent_url):
        log.info("moved feed=%s to=%s", feed.url, fetched.permanent_url)
        url = fetched.permanent_url
    saved = store.save_update(feed.id, prepared, fetched, now, next_fetch_at, body_hash=body_hash)
    return UpdateResult(url, "ok", new=saved.new, updated=saved.updated)


def prepare_feed(content: bytes, url: str, headers: dict[str, str]) -> PreparedFeed:
    """Parse, and compute what storing needs: runs in a parser process.

    Plain text for search, the excerpt and the change digest cost as much as
    a third of the parse, so they are done here, off the thread that stores.
    """
    parsed = parse_feed(content, url, headers)
    return PreparedFeed(parsed, tuple(_derive(entry) for entry in parsed.entries))


def _derive(entry: ParsedEntry) -> EntryDerived:
    text = to_text(entry.content or entry.summary)
    # The excerpt prefers the summary; only its beginning is needed.
    lead = to_text(entry.summary[:4000]) if entry.summary and entry.content else text
    return EntryDerived(entry_digest(entry), text, excerpt(lead))


def entry_digest(entry: ParsedEntry) -> str:
    """What makes an entry 'changed' when it is seen again under the same guid."""
    digest = hashlib.sha1(usedforsecurity=False)
    for value in (
        entry.title,
        entry.link,
        entry.author_name,
        entry.author_email,
        entry.author_url,
        entry.summary,
        entry.content,
        entry.published_at,
        entry.updated_at,
        entry.comments_url,
        entry.comments_feed_url,
        entry.comment_count,
        entry.enclosures,
    ):
        digest.update(repr(value).encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()


class ParsePool:
    """Parses feeds in worker processes, or in this process when ``workers`` is 0.

    feedparser is pure Python and takes ~40 ms for a 50-entry feed; in worker
    processes it runs on the other cores while this one stores (figures in
    docs/design.md). The pool starts at the first parse, so a round where
    nothing changed costs no process. Workers come from a forkserver: forking
    this process directly would copy the fetcher's running thread.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc_info) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)

    def submit(self, content: bytes, url: str, headers: dict[str, str]) -> Future:
        if self.workers == 0:
            return _run_now(prepare_feed, content, url, headers)
        if self.executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["reader.update"])
            self.executor = ProcessPoolExecutor(self.workers, mp_context=context)
        try:
            future = self.executor.submit(prepare_feed, content, url, headers)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): start a fresh pool for the rest.
            self.executor = None
            return self.submit(content, url, headers)
        future.add_done_callback(self._notice_broken)
        return future

    def _notice_broken(self, future: Future) -> None:
        if isinstance(future.exception(), BrokenProcessPool):
            self.executor = None  # the next submit starts a fresh pool


def _run_now(function: Callable, *args) -> Future:
    future: Future = Future()
    try:
        future.set_result(function(*args))
    except ReaderError as exc:
        future.set_exception(exc)
    return future


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
