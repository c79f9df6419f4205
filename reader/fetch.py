"""HTTP GET for feeds: polite, bounded, concurrent.

Everything network-facing lives here and only here: schemes, timeouts, the
body-size caps, redirects, conditional requests and the per-host limit. The
HTTP client (aiohttp) is used from this module only.

Fetches run on an asyncio loop in a background thread so that the caller can
parse and store one feed while the next ones are still downloading; results
come back in completion order through ``fetch_all``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import queue
import re
import socket
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import aiohttp
import aiohttp.abc
import yarl

from . import __version__
from .config import Config
from .errors import FeedError, FetchError, InvalidFeedURLError
from .models import FetchResult
from .urls import host_of, http_url

log = logging.getLogger(__name__)

# There is no public home for the project yet; server admins reading their logs
# get the project name and this address to look it up.
PROJECT_URL = "https://causerie.example/"
DEFAULT_USER_AGENT = f"Causerie/{__version__} (+{PROJECT_URL}; feed reader)"

_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.7, */*;q=0.5"
)
_REDIRECTS = (301, 302, 303, 307, 308)
_PERMANENT = (301, 308)
_MAX_RETRY_AFTER = 7 * 24 * 3600.0


@dataclass(frozen=True)
class FetchSettings:
    # The defaults of the settings are Config's (declared once, in config.py).
    timeout: float = Config.fetch_timeout  # one deadline per fetch: connect, headers, redirects and body
    connect_timeout: float = 10.0
    max_bytes: int = Config.max_feed_bytes  # cap on the body, compressed and decompressed alike
    max_redirects: int = 5
    user_agent: str = DEFAULT_USER_AGENT
    workers: int = Config.fetch_workers  # fetches in flight at once, all hosts together
    per_host: int = Config.fetch_per_host  # fetches in flight at once to one host
    # Host names answered from this table instead of DNS, like curl's --resolve:
    # (("ana.example", "127.0.0.1"), …). For split-horizon setups and the tests.
    resolve: tuple[tuple[str, str], ...] = ()
    # Private addresses that may be fetched anyway: ("all",), or "host:port" entries.
    # Empty (the default): none, whatever the URL's spelling (see address_refusal).
    allow_private: tuple[str, ...] = ()


@dataclass(frozen=True)
class FetchRequest:
    url: str
    etag: str | None = None
    last_modified: str | None = None


def fetch_feed(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    settings: FetchSettings | None = None,
) -> FetchResult:
    """Fetch one URL; raise ``FetchError`` (or ``InvalidFeedURLError``) on failure."""
    results = fetch_all([FetchRequest(url, etag, last_modified)], settings or FetchSettings())
    _, outcome = next(results)
    results.close()
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def fetch_all(
    requests: Iterable[FetchRequest], settings: FetchSettings
) -> Iterator[tuple[FetchRequest, FetchResult | FeedError]]:
    """Fetch every request concurrently; yield ``(request, result or error)`` as each completes.

    The error is a ``FetchError``, or ``InvalidFeedURLError`` for a URL that cannot be fetched at all.

    At most ``settings.workers`` responses are held at once (downloading or
    waiting for the caller), which bounds memory whatever the caller's pace.
    Closing the iterator early cancels what is still running.
    """
    requests = list(requests)
    if not requests:
        return
    done: queue.Queue = queue.Queue()
    runner = _Runner(requests, settings, done)
    runner.start()
    try:
        for _ in range(len(requests)):
            item = done.get()
            if isinstance(item, BaseException):  # a bug in the runner: do not hide it
                raise item
            runner.release_slot()
            yield item
    finally:
        runner.stop()


class _Runner(threading.Thread):
    """The background thread that owns the asyncio loop and the HTTP client."""

    def __init__(self, requests: list[FetchRequest], settings: FetchSettings, done: queue.Queue) -> None:
        super().__init__(name="causerie-fetch", daemon=True)
        self.requests = requests
        self.settings = settings
        self.done = done
        self.loop: asyncio.AbstractEventLoop | None = None
        self.fetches: asyncio.Future | None = None
        self.slots: asyncio.Semaphore | None = None
        self.ready = threading.Event()

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # surfaces in the caller's thread
            self.done.put(exc)
        finally:
            self.ready.set()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        # Name lookups run in the loop's default executor, which asyncio sizes to the CPUs
        # (6 threads on 2 cores): with 32 fetches in flight, six slow lookups (a resolver that
        # drops queries answers in 5 s) held up every other host, loopback addresses included.
        # One thread per fetch slot instead; threads start only as lookups need them.
        self.loop.set_default_executor(
            ThreadPoolExecutor(max_workers=self.settings.workers, thread_name_prefix="causerie-dns")
        )
        self.slots = asyncio.Semaphore(self.settings.workers)
        hosts: dict[str, asyncio.Semaphore] = {}
        async with _make_client(self.settings) as client:
            tasks = []
            for request in self.requests:
                host = hosts.setdefault(host_of(request.url), asyncio.Semaphore(self.settings.per_host))
                tasks.append(asyncio.create_task(self._one(client, request, host)))
            # stop() cancels the fetches, never this task: cancelling it used to
            # interrupt the client's close (the consumer calls stop() as soon as
            # the last result arrives, often while the client is still closing),
            # leaking its pooled sockets (ResourceWarning: unclosed transport).
            self.fetches = asyncio.gather(*tasks)
            self.ready.set()
            await self.fetches

    async def _one(self, client: aiohttp.ClientSession, request: FetchRequest, host: asyncio.Semaphore) -> None:
        # The host slot is taken first, so feeds queued behind a busy host
        # never hold one of the global slots while they wait.
        async with host:
            await self.slots.acquire()  # released by the consumer, see release_slot
            try:
                outcome: FetchResult | FeedError = await fetch_one(client, request, self.settings)
            except (FetchError, InvalidFeedURLError) as exc:
                outcome = exc
        self.done.put((request, outcome))

    def release_slot(self) -> None:
        self.ready.wait()
        if self.loop is not None and self.slots is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                self.loop.call_soon_threadsafe(self.slots.release)

    def stop(self) -> None:
        self.ready.wait()
        if self.is_alive() and self.loop is not None and self.fetches is not None:
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.fetches.cancel)
        self.join()


def address_refusal(host: str, port: int, address: str, allow: tuple[str, ...]) -> str | None:
    """Why Causerie will not connect to ``address`` for ``host:port``, or None if it may.

    Refused unless allowed: every address that is not global unicast — loopback, private, link-local
    (169.254.0.0/16, where cloud metadata answers), shared CGNAT space, unspecified, reserved,
    documentation, multicast — IPv4 and IPv6 alike, and IPv4 inside IPv6 (::ffff:10.0.0.1).
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"refused: {address!r} is not an IP address"
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    elif ip.version == 6 and ip in _NAT64:  # 64:ff9b::10.0.0.1 reaches 10.0.0.1 through a NAT64 gateway
        ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.is_global and not ip.is_multicast and not (ip.version == 6 and ip.is_site_local):
        return None
    if "all" in allow or _host_port(host, port) in allow or _host_port(str(ip), port) in allow:
        return None
    return f"refused: private address {ip}"


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _host_port(host: str, port: int) -> str:
    host = host.lower().strip("[]")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _literal_address(host: str) -> str | None:
    """The address a host written as a number stands for, in any spelling an OS accepts
    (dotted, decimal, hex, octal, short forms), or None for a name."""
    host = host.strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fA-FxX.]+", host):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return None
    return None


class _AddressRefused(OSError):
    """Raised inside the client when every address of a host is refused; becomes a FetchError."""


class _GuardedResolver(aiohttp.abc.AbstractResolver):
    """Resolves through ``inner``, then keeps only the addresses Causerie may connect to.

    The client connects to the addresses returned here, and to nothing else: there is no second
    lookup an attacker's DNS could answer differently (the time-of-check race of rebinding).
    """

    def __init__(self, inner: aiohttp.abc.AbstractResolver, allow: tuple[str, ...]) -> None:
        self.inner = inner
        self.allow = allow

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[dict]:
        found = await self.inner.resolve(host, port, family)
        kept, refusals = [], []
        for info in found:
            refusal = address_refusal(host, port, info["host"], self.allow)
            (refusals if refusal else kept).append(refusal or info)
        if not kept:
            raise _AddressRefused(refusals[0] if refusals else f"no address for {host}")
        return kept

    async def close(self) -> None:
        await self.inner.close()


def _make_client(settings: FetchSettings) -> aiohttp.ClientSession:
    inner = _StaticResolver(dict(settings.resolve)) if settings.resolve else aiohttp.ThreadedResolver()
    resolver = _GuardedResolver(inner, settings.allow_private)
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=settings.workers, limit_per_host=settings.per_host, resolver=resolver),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=settings.connect_timeout),
        headers={"User-Agent": settings.user_agent, "Accept": _ACCEPT, "Accept-Encoding": "gzip, deflate"},
        # We inflate ourselves, with a cap (see _read_body).
        auto_decompress=False,
        # Proxy settings from the environment, as curl and browsers honour them.
        trust_env=True,
        # Keep URLs as the feed wrote them (no re-quoting of %-escapes).
        requote_redirect_url=False,
    )


class _StaticResolver(aiohttp.abc.AbstractResolver):
    """Names in the table resolve to their address; every other name through the system resolver."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = {name.lower(): address for name, address in table.items()}
        self.system = aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[dict]:
        address = self.table.get(host.lower().rstrip("."))
        if address is None:
            return await self.system.resolve(host, port, family)
        kind = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [{"hostname": host, "host": address, "port": port, "family": kind, "proto": 0, "flags": 0}]

    async def close(self) -> None:
        await self.system.close()


async def fetch_one(client: aiohttp.ClientSession, request: FetchRequest, settings: FetchSettings) -> FetchResult:
    """One GET with redirects, under a single deadline covering every step."""
    url = _fetchable_url(request.url)
    if url is None:
        raise InvalidFeedURLError(request.url, "only valid http and https URLs can be fetched")
    try:
        async with asyncio.timeout(settings.timeout):
            return await _follow(client, request, url, settings)
    except TimeoutError as exc:
        raise FetchError(request.url, f"timed out after {settings.timeout:g} s") from exc
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        refused = _refusal_in(exc)
        if refused is not None:
            raise FetchError(request.url, refused) from exc
        # ValueError: yarl/aiohttp refusing a URL (bad host, bad port) deep in the request.
        connect_failed = isinstance(exc, aiohttp.ClientConnectorError)
        raise FetchError(request.url, _describe(exc), connect_failed=connect_failed) from exc


def _refusal_in(exc: BaseException) -> str | None:
    """The guard's words, if a refused address is what stopped the request."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, _AddressRefused):
            return str(exc)
        exc = getattr(exc, "os_error", None) or exc.__cause__
        seen += 1
    return None


def _check_literal(request_url: str, url: str, settings: FetchSettings) -> None:
    """A host written as an address is connected to without any lookup: check it here, every hop."""
    parsed = yarl.URL(url)
    address = _literal_address(parsed.raw_host or "")
    if address is not None:
        refusal = address_refusal(parsed.raw_host or "", parsed.port or 0, address, settings.allow_private)
        if refusal:
            raise FetchError(request_url, refusal)


async def _follow(
    client: aiohttp.ClientSession, request: FetchRequest, url: str, settings: FetchSettings
) -> FetchResult:
    headers = {}
    if request.etag:
        headers["If-None-Match"] = request.etag
    if request.last_modified:
        headers["If-Modified-Since"] = request.last_modified
    all_permanent = True
    for _ in range(settings.max_redirects + 1):
        _check_literal(request.url, url, settings)
        try:
            response = await client.get(_request_url(url), headers=headers, allow_redirects=False)
        except (ValueError, UnicodeError) as exc:
            # aiohttp reads Location even when not following it, and refuses a
            # host it cannot encode ("http://xn--/"); our URL was checked already.
            raise FetchError(request.url, "redirected to an invalid URL") from exc
        async with response:  # releases the connection whatever happens below
            status = response.status
            if status in _REDIRECTS and "location" in response.headers:
                target = _fetchable_url(response.headers["location"], base=url)
                if target is None:
                    raise FetchError(request.url, "redirected to a URL that is not valid http(s)", status=status)
                all_permanent = all_permanent and status in _PERMANENT
                url = target
                continue
            permanent_url = url if all_permanent and url != request.url else None
            if status == 304:
                return _result(request, url, response, "not_modified", b"", permanent_url)
            if 200 <= status < 300:
                body = await _read_body(response, settings.max_bytes, request.url)
                return _result(request, url, response, "ok", body, permanent_url)
            raise FetchError(
                request.url,
                f"HTTP {status} {response.reason or ''}".rstrip(),
                status=status,
                retry_after=_retry_after(response.headers.get("retry-after")),
            )
    raise FetchError(request.url, f"more than {settings.max_redirects} redirects")


def _fetchable_url(value: str, base: str | None = None) -> str | None:
    """``http_url``, narrowed to what the HTTP client can actually request.

    ``http_url`` lets through hosts that cannot be IDNA-encoded ("xn--") and
    ports out of range (":99999"); one such URL, or a redirect to one, must be
    that feed's error and never stop the other fetches.
    """
    url = http_url(value, base=base)
    if url is None:
        return None
    try:
        parsed = yarl.URL(url)  # validates the host and port, encoding non-ASCII hosts
        host, port = parsed.raw_host, parsed.port
        if host and "xn--" in host:
            host.encode("ascii").decode("idna")  # punycode labels must decode
    except (ValueError, UnicodeError):
        return None
    if not host or (port is not None and not 0 < port < 65536):
        return None
    return url


def _request_url(url: str) -> yarl.URL:
    """The URL as sent: exactly as written when it is ASCII, IDNA/percent-encoded when not."""
    return yarl.URL(url, encoded=True) if url.isascii() else yarl.URL(url)


def _result(
    request: FetchRequest,
    url: str,
    response: aiohttp.ClientResponse,
    status: str,
    body: bytes,
    permanent_url: str | None,
) -> FetchResult:
    headers = {k.lower(): v for k, v in response.headers.items()}
    return FetchResult(
        url=request.url,
        final_url=url,
        status=status,
        http_status=response.status,
        content=body,
        headers=headers,
        # A 304 may omit validators; keep the ones we sent in that case.
        etag=headers.get("etag") or (request.etag if status == "not_modified" else None),
        last_modified=headers.get("last-modified") or (request.last_modified if status == "not_modified" else None),
        permanent_url=permanent_url,
    )


async def _read_body(response: aiohttp.ClientResponse, max_bytes: int, url: str) -> bytes:
    """Read the raw body, decompressing it ourselves so both sizes stay capped.

    HTTP clients inflate a whole network chunk at once; a small gzip bomb can
    grow a thousandfold, so inflate with ``max_length`` instead.
    """
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(url, f"body larger than {max_bytes} bytes (Content-Length {declared})")
    inflate = _decompressor(response.headers.get("content-encoding", ""), url)
    sniff = inflate is None  # a gzip body sent without Content-Encoding (a .gz file, a misconfigured server)
    raw_size = 0
    parts: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        raw_size += len(chunk)
        if raw_size > max_bytes:
            raise FetchError(url, f"body larger than {max_bytes} bytes")
        if sniff and chunk:
            sniff = False
            if chunk.startswith(_GZIP_MAGIC):
                log.info("%s: a gzip body without Content-Encoding, inflated", url)
                inflate = _Inflater(16 + zlib.MAX_WBITS, url)
        data = inflate.feed(chunk, max_bytes - size + 1) if inflate else chunk
        size += len(data)
        if size > max_bytes:
            raise FetchError(url, f"body larger than {max_bytes} bytes once decompressed")
        parts.append(data)
    if inflate:
        tail = inflate.finish(max_bytes - size + 1)
        size += len(tail)
        if size > max_bytes:
            raise FetchError(url, f"body larger than {max_bytes} bytes once decompressed")
        parts.append(tail)
    return b"".join(parts)


_GZIP_MAGIC = b"\x1f\x8b\x08"  # gzip's two magic bytes and its one compression method, deflate


class _Inflater:
    """zlib with an output cap per call (gzip and both flavours of deflate)."""

    def __init__(self, wbits: int, url: str) -> None:
        self.url = url
        self.wbits = wbits
        self.obj = zlib.decompressobj(wbits)
        self.first = True

    def feed(self, chunk: bytes, limit: int) -> bytes:
        try:
            out = self.obj.decompress(chunk, limit)
        except zlib.error as exc:
            # "deflate" is meant to be zlib-wrapped, but many servers send raw deflate.
            if self.first and self.wbits == zlib.MAX_WBITS:
                self.wbits = -zlib.MAX_WBITS
                self.obj = zlib.decompressobj(self.wbits)
                return self.feed(chunk, limit)
            raise FetchError(self.url, "corrupt compressed body") from exc
        self.first = False
        return out

    def finish(self, limit: int) -> bytes:
        try:
            out = self.obj.decompress(self.obj.unconsumed_tail, limit) if self.obj.unconsumed_tail else b""
            return out + self.obj.flush()
        except zlib.error as exc:
            raise FetchError(self.url, "corrupt compressed body") from exc


def _decompressor(encoding: str, url: str) -> _Inflater | None:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return _Inflater(16 + zlib.MAX_WBITS, url)
    if encoding == "deflate":
        return _Inflater(zlib.MAX_WBITS, url)
    raise FetchError(url, f"unsupported Content-Encoding {encoding!r}")


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


def _describe(exc: Exception) -> str:
    kinds = (
        (aiohttp.ClientConnectorError, "could not connect"),
        (aiohttp.ServerDisconnectedError, "server closed the connection"),
        (aiohttp.ClientPayloadError, "body cut short or malformed"),
        (aiohttp.ClientResponseError, "server broke the HTTP protocol"),
        (aiohttp.ClientOSError, "network error"),
    )
    for kind, label in kinds:
        if isinstance(exc, kind):
            detail = str(exc)
            return f"{label} ({detail})" if detail else label
    return str(exc) or type(exc).__name__
