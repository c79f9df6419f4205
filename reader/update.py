"""The one place that knows the order: fetch → prepare (parse) → finish (store).

``run`` is the pipeline every fetch goes through; a sink says how a document is
prepared and where the result goes. Feeds are one sink (``FeedSink``); pages
read for discovery are collected (``collect``). Per job, an expected failure
(``ReaderError``) becomes data — for a feed, recorded on it, logged once and
returned as an ``UpdateResult`` — and the next job goes on. Anything else is a
bug and propagates.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import random
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Generic, Protocol, TypeVar

from .budget import TIME_BUDGET, time_budget
from .config import Config
from .errors import FetchError, ParseError, ReaderError
from .fetch import FetchRequest, FetchSettings, fetch_all
from .models import CommentFeed, EntryDerived, Feed, FetchResult, ParsedEntry, PreparedFeed, UpdateResult
from .sanitize import excerpt, to_text
from .schedule import next_fetch_time, response_hint
from .store import Store
from .urls import http_form

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(minutes=15)
BACKOFF_MAX = timedelta(hours=24)  # errors slow polling down, but never stop it

FetchAll = Callable[[Iterable[FetchRequest], FetchSettings], Iterator[tuple[FetchRequest, object]]]
J = TypeVar("J")
R = TypeVar("R")


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
        resolve=config.resolve,
        allow_private=config.allow_private_addresses,
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


# -- the pipeline ----------------------------------------------------------------


class Fetchable(Protocol):
    """What the pipeline needs of a job: where to fetch, and what it knew last time."""

    url: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None


@dataclass(frozen=True)
class FetchJob:
    """A fetch with nothing known before: a page to discover from, a URL to try."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


@dataclass(frozen=True)
class Done(Generic[J]):
    """What came of one job, handed to its sink: an error, or a response and what ``prepare`` made of it.

    ``prepared`` is None when there was nothing to prepare: a 304, or a body
    identical to the one the job knew (``body_hash``).
    """

    job: J
    response: FetchResult | None = None
    error: ReaderError | None = None
    prepared: object = None
    body_hash: str | None = None


class Sink(Protocol[J, R]):
    """Where results go. ``prepare(content, url, headers)`` must be a module-level function:
    it runs in a parser process when there are any, always under the time budget."""

    prepare: Callable[[bytes, str, dict[str, str]], object]

    def finish(self, done: Done[J], now: datetime) -> R: ...

    def flush(self) -> None:
        """Store what ``finish`` kept back: called when the run ends, however it ends."""


def run(
    jobs: Iterable[J],
    sink: Sink[J, R],
    config: Config,
    *,
    fetch: FetchAll = fetch_all,
    now: Callable[[], datetime] = utc_now,
    pool: ParsePool | None = None,
) -> Iterator[R]:
    """Fetch every job, prepare what came back, and give each to ``sink.finish``; yield its results.

    Every fetch Causerie makes goes through here — feeds, comment feeds, pages
    read for discovery — so each has the fetcher's caps and politeness, and each
    document the parse time budget. Three stages overlap: the fetcher downloads
    in a background thread, parser processes (``config.parse_workers``) prepare,
    and this thread finishes results in the order their preparation ends.
    ``pool`` lets several runs share parser processes (discovery runs two in a row).
    """
    jobs = list(jobs)
    requests = [FetchRequest(job.url, job.etag, job.last_modified) for job in jobs]
    job_of = {id(request): job for request, job in zip(requests, jobs, strict=True)}
    own_pool = pool is None
    pool = pool or ParsePool(config.parse_workers, config.parse_time_budget)
    try:
        pending: deque[_Pending] = deque()
        for request, outcome in fetch(requests, fetch_settings(config)):
            pending.append(_begin(job_of[id(request)], outcome, pool, sink.prepare))
            # Keep a few preparations in flight, and finish each as soon as it is ready.
            while pending and (len(pending) > _PARSES_IN_FLIGHT or pending[0].is_ready()):
                yield sink.finish(pending.popleft().done(), now())
        while pending:
            yield sink.finish(pending.popleft().done(), now())
    finally:
        try:
            sink.flush()
        finally:
            if own_pool:
                pool.close()


_PARSES_IN_FLIGHT = 8


@dataclass
class _Pending:
    job: Fetchable
    outcome: FetchResult | ReaderError
    body_hash: str | None = None
    preparing: Future | None = None

    def is_ready(self) -> bool:
        return self.preparing is None or self.preparing.done()

    def done(self) -> Done:
        if isinstance(self.outcome, ReaderError):
            return Done(self.job, error=self.outcome)
        if self.preparing is None:
            return Done(self.job, self.outcome, body_hash=self.body_hash)
        try:
            prepared = self.preparing.result()
        except ReaderError as exc:
            return Done(self.job, self.outcome, error=exc, body_hash=self.body_hash)
        except BrokenProcessPool as exc:
            # The worker died under this document (memory, a crash in C code):
            # that job's error; the pool is replaced for the others.
            error = ParseError(self.job.url, "the parser process died")
            error.__cause__ = exc
            return Done(self.job, self.outcome, error=error, body_hash=self.body_hash)
        return Done(self.job, self.outcome, prepared=prepared, body_hash=self.body_hash)


def _begin(job: Fetchable, outcome: object, pool: ParsePool, prepare: Callable) -> _Pending:
    if isinstance(outcome, ReaderError) or outcome.status == "not_modified":
        return _Pending(job, outcome)
    body_hash = hashlib.sha256(outcome.content).hexdigest()
    if body_hash == job.body_hash:  # no validators, or they changed while the body did not
        return _Pending(job, outcome, body_hash)
    return _Pending(job, outcome, body_hash, pool.submit(prepare, outcome.content, outcome.final_url, outcome.headers))


def _prepare(function: Callable, budget: float, content: bytes, url: str, headers: dict[str, str]) -> object:
    """Run in a parser process, or in this process's main thread: where the budget holds."""
    with time_budget(budget, url):
        return function(content, url, headers)


def collect(
    urls: Iterable[str],
    prepare: Callable,
    config: Config,
    *,
    fetch: FetchAll = fetch_all,
    pool: ParsePool | None = None,
) -> list[Done]:
    """Fetch and prepare each URL once, and hand back what came of each, in the order given."""
    urls = list(dict.fromkeys(urls))
    results = run([FetchJob(url) for url in urls], _Collector(prepare), config, fetch=fetch, pool=pool)
    found = {done.job.url: done for done in results}
    return [found[url] for url in urls]


@dataclass(frozen=True)
class _Collector:
    prepare: Callable

    def finish(self, done: Done, now: datetime) -> Done:
        return done

    def flush(self) -> None:
        pass


# -- feeds ----------------------------------------------------------------------


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
    return run(feeds, FeedSink(store, config), config, fetch=fetch, now=now)


@dataclass(frozen=True)
class FeedSink:
    """Stores a feed's entries and fetch state; an error is recorded on the feed, which backs off.

    Feeds that brought nothing new (304, or the same body) are written in batches, so a round of
    1,000 304s commits 5 times rather than 1,000 (what that saves depends on the disk: little on
    this machine's: docs/design.md, "Storage"). If the process dies first, those feeds only
    keep their previous fetch state, and are asked again.
    """

    store: Store
    config: Config
    unchanged: list = field(default_factory=list)  # record_not_modified's rows, not yet written

    @property
    def prepare(self) -> Callable:
        return prepare_feed

    def finish(self, done: Done[Feed], now: datetime) -> UpdateResult:
        feed = done.job
        document_minutes = done.prepared.parsed.refresh_minutes if done.prepared else feed.refresh_hint_minutes
        next_fetch_at = next_fetch(self.config, done.response, now, document_minutes)
        try:
            if done.error is not None:
                raise done.error
            if done.prepared is None:
                self.unchanged.append((feed.id, done.response, now, next_fetch_at))
                if len(self.unchanged) >= _UNCHANGED_BATCH:
                    self.flush()
                status = "not_modified" if done.response.status == "not_modified" else "unchanged"
                result = UpdateResult(feed.url, status)
            else:
                result = _store_parsed(self.store, feed, done, now, next_fetch_at)
        except ReaderError as exc:
            if _may_try_http(feed, exc):
                return _try_http_next(self.store, feed, exc, now)
            return _record_failure(self.store, feed, exc, now, next_fetch_at)
        log.info("updated feed=%s status=%s new=%d updated=%d", feed.url, result.status, result.new, result.updated)
        return result

    def flush(self) -> None:
        if self.unchanged:
            self.store.record_not_modified(self.unchanged)
            self.unchanged.clear()


_UNCHANGED_BATCH = 200


def _may_try_http(feed: Feed, exc: ReaderError) -> bool:
    """An address given without a scheme was taken as https (opml.py); if https does not even
    connect, the site may serve http only, as many small ones still do."""
    return feed.scheme_assumed and isinstance(exc, FetchError) and exc.connect_failed and feed.url.startswith("https:")


def _try_http_next(store: Store, feed: Feed, exc: FetchError, now: datetime) -> UpdateResult:
    """Move the feed to its http address, due at once, and say why in its error."""
    plain = http_form(feed.url)
    if not store.move_feed(feed.id, plain, scheme_known=True):
        return _record_failure(store, feed, exc, now, now)  # already followed at http: nothing to try
    message = f"https did not connect ({_message(exc, feed.url)}); the address had no scheme, so {plain} is tried next"
    store.record_error(feed.id, message, now, http_status=None, next_fetch_at=now, wait_until=None)
    log.warning("updated feed=%s status=error error=%s", feed.url, message)
    return UpdateResult(plain, "error", error=message)


def _store_parsed(store: Store, feed: Feed, done: Done[Feed], now: datetime, next_fetch_at: datetime) -> UpdateResult:
    prepared, fetched = done.prepared, done.response
    for warning in prepared.parsed.warnings:
        log.warning("degraded feed=%s warning=%s", feed.url, warning)
    url = feed.url
    if fetched.permanent_url and store.move_feed(feed.id, fetched.permanent_url):
        log.info("moved feed=%s to=%s", feed.url, fetched.permanent_url)
        url = fetched.permanent_url
    saved = store.save_update(feed.id, prepared, fetched, now, next_fetch_at, body_hash=done.body_hash)
    return UpdateResult(url, "ok", new=saved.new, updated=saved.updated)


# -- comment feeds ---------------------------------------------------------------


def update_comment_feeds(
    store: Store,
    config: Config,
    comment_feeds: list[CommentFeed],
    *,
    fetch: FetchAll = fetch_all,
    now: Callable[[], datetime] = utc_now,
) -> Iterator[UpdateResult]:
    """Fetch and store comment feeds: the same fetcher, caps and parse time budget as feeds."""
    return run(comment_feeds, CommentSink(store, config), config, fetch=fetch, now=now)


@dataclass(frozen=True)
class CommentSink:
    """Stores a post's comments; an error is kept on the comment feed, and the post is never delayed."""

    store: Store
    config: Config

    @property
    def prepare(self) -> Callable:
        return prepare_feed

    def flush(self) -> None:
        pass

    def finish(self, done: Done[CommentFeed], now: datetime) -> UpdateResult:
        thread = done.job
        next_fetch_at = next_fetch(self.config, done.response, now)
        try:
            if done.error is not None:
                raise done.error
            if done.prepared is None:
                self.store.record_comments_not_modified(thread.id, done.response, now, next_fetch_at)
                return UpdateResult(thread.url, "not_modified")
            new = self.store.save_comments(
                thread.id, done.prepared, done.response, now, next_fetch_at, body_hash=done.body_hash
            )
        except ReaderError as exc:
            message = _message(exc, thread.url)
            wait = backoff(thread.error_count + 1)
            self.store.record_comments_error(thread.id, message, now, max(next_fetch_at, now + wait))
            log.warning("updated comments=%s status=error error=%s", thread.url, message)
            return UpdateResult(thread.url, "error", error=message)
        log.info("updated comments=%s status=ok new=%d", thread.url, new)
        return UpdateResult(thread.url, "ok", new=new)


def prepare_feed(content: bytes, url: str, headers: dict[str, str]) -> PreparedFeed:
    """Parse, and compute what storing needs: runs in a parser process.

    Plain text for search, the excerpt and the change digest cost as much as
    a third of the parse, so they are done here, off the thread that stores.
    """
    from .parse import parse_feed  # here: a round of 304s parses nothing, and its import is 90 ms

    parsed = parse_feed(content, url, headers)
    return PreparedFeed(parsed, tuple(derive(entry) for entry in parsed.entries))


def derive(entry: ParsedEntry) -> EntryDerived:
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

    def __init__(self, workers: int, budget: float = TIME_BUDGET) -> None:
        self.workers = workers
        self.budget = budget
        self.executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None

    def submit(self, function: Callable, content: bytes, url: str, headers: dict[str, str]) -> Future:
        """Run ``function(content, url, headers)`` under the time budget, in a worker if there are any."""
        if self.workers == 0:
            return _run_now(_prepare, function, self.budget, content, url, headers)
        if self.executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["reader.update", "reader.parse"])
            self.executor = ProcessPoolExecutor(self.workers, mp_context=context)
        try:
            future = self.executor.submit(_prepare, function, self.budget, content, url, headers)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): start a fresh pool for the rest.
            self.executor = None
            return self.submit(function, content, url, headers)
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


def next_fetch(
    config: Config, response: FetchResult | None, now: datetime, document_minutes: int | None = None
) -> datetime:
    """The interval, stretched by the server's and the feed's hints, bounded and spread (schedule.py)."""
    return next_fetch_time(
        now,
        timedelta(minutes=config.update_interval),
        response=response_hint(response.headers, now) if response is not None else None,
        document_minutes=document_minutes,
        spread=random.random(),
    )


def backoff(error_count: int) -> timedelta:
    """How long to leave a failing feed alone after its ``error_count``-th error in a row."""
    exponent = min(max(error_count - 1, 0), 16)
    return min(BACKOFF_BASE * (2**exponent), BACKOFF_MAX)


def _message(exc: ReaderError, url: str) -> str:
    """The error without the feed URL in front: it is shown next to the feed anyway."""
    text = str(exc)
    prefix = f"{url}: "
    return text[len(prefix) :] if text.startswith(prefix) else text
