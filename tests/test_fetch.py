"""reader.fetch against a real HTTP server on 127.0.0.1 (tests/httpserver.py)."""

import functools
import gzip
import resource
import socket
import threading
import time
import zlib
from email.utils import formatdate

import pytest
from httpserver import Request, Response

from reader.errors import FetchError, InvalidFeedURLError
from reader.fetch import FetchRequest, FetchSettings, fetch_all, fetch_feed

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>A feed</title></channel></rss>'
ALL = ("all",)  # the test server is on 127.0.0.1; tests/test_ssrf.py checks the default
FAST = FetchSettings(allow_private=ALL, timeout=5)


@functools.cache
def _gzip_bomb(size: int = 50 * 2**20) -> bytes:
    """``size`` zero bytes, gzipped (~1000:1), built without holding ``size`` bytes at once."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    piece = bytes(2**20)
    parts = [compressor.compress(piece) for _ in range(size // len(piece))]
    return b"".join([*parts, compressor.flush()])


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


# -- success and conditional requests ---------------------------------------------------------


def test_fetch_returns_body_etag_and_last_modified(feed_server):
    url = feed_server.route(
        "/feed.xml",
        body=FEED,
        headers={"ETag": '"v1"', "Last-Modified": "Mon, 02 Mar 2026 10:00:00 GMT"},
    )

    result = fetch_feed(url, settings=FAST)

    assert result.status == "ok"
    assert result.http_status == 200
    assert result.content == FEED
    assert result.etag == '"v1"'
    assert result.last_modified == "Mon, 02 Mar 2026 10:00:00 GMT"
    assert result.url == result.final_url == url
    assert result.permanent_url is None


def test_conditional_get_sends_validators_and_304_is_not_modified_keeping_them(feed_server):
    url = feed_server.route("/feed.xml", status=304)  # a 304 may omit the validators

    result = fetch_feed(url, etag='"v1"', last_modified="Mon, 02 Mar 2026 10:00:00 GMT", settings=FAST)

    sent = feed_server.requests_to("/feed.xml")[0].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Mon, 02 Mar 2026 10:00:00 GMT"
    assert result.status == "not_modified"
    assert result.http_status == 304
    assert result.content == b""
    assert result.etag == '"v1"'
    assert result.last_modified == "Mon, 02 Mar 2026 10:00:00 GMT"


def test_unconditional_get_sends_no_validators(feed_server):
    url = feed_server.route("/feed.xml", body=FEED)

    fetch_feed(url, settings=FAST)

    sent = feed_server.requests_to("/feed.xml")[0].headers
    assert "if-none-match" not in sent
    assert "if-modified-since" not in sent


def test_request_identifies_causerie_and_accepts_compression(feed_server):
    url = feed_server.route("/feed.xml", body=FEED)

    fetch_feed(url, settings=FAST)

    sent = feed_server.requests_to("/feed.xml")[0].headers
    assert "Causerie" in sent["user-agent"]
    assert "gzip" in sent["accept-encoding"]
    assert "deflate" in sent["accept-encoding"]


# -- compression and size caps ------------------------------------------------------------------


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", _raw_deflate)],
    ids=["gzip", "zlib-deflate", "raw-deflate"],
)
def test_compressed_body_is_decompressed(feed_server, encoding, compress):
    url = feed_server.route("/feed.xml", body=compress(FEED), headers={"Content-Encoding": encoding})

    assert fetch_feed(url, settings=FAST).content == FEED


def test_gzip_bomb_is_refused_without_inflating_it(feed_server):
    bomb = _gzip_bomb()
    assert len(bomb) < 2**20  # the compressed body itself is well under the cap
    url = feed_server.route("/bomb.xml", body=bomb, headers={"Content-Encoding": "gzip"})
    peak_before = _peak_rss_bytes()

    with pytest.raises(FetchError, match="decompressed"):
        fetch_feed(url, settings=FetchSettings(allow_private=ALL, timeout=5, max_bytes=2**20))

    # Inflating the whole bomb would raise the peak by 50 MB at least.
    assert _peak_rss_bytes() - peak_before < 20 * 2**20


@pytest.mark.parametrize("content_length", [True, False], ids=["with-length", "without-length"])
def test_oversized_body_is_fetch_error(feed_server, content_length):
    url = feed_server.route("/big.xml", body=b"x" * 20_000, content_length=content_length)

    with pytest.raises(FetchError, match="larger than 10000 bytes"):
        fetch_feed(url, settings=FetchSettings(allow_private=ALL, timeout=5, max_bytes=10_000))


def test_body_exactly_at_the_cap_is_accepted(feed_server):
    url = feed_server.route("/feed.xml", body=b"x" * 10_000, gzip=True)

    assert (
        len(fetch_feed(url, settings=FetchSettings(allow_private=ALL, timeout=5, max_bytes=10_000)).content) == 10_000
    )


# -- redirects ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "moved"),
    [((301,), True), ((301, 301), True), ((301, 308), True), ((302,), False), ((301, 302), False)],
    ids=["301", "301-301", "301-308", "302", "301-302"],
)
def test_permanent_url_is_set_only_when_every_redirect_is_permanent(feed_server, statuses, moved):
    for i, status in enumerate(statuses):
        feed_server.route(f"/hop{i}", status=status, headers={"Location": f"/hop{i + 1}"})
    final = feed_server.route(f"/hop{len(statuses)}", body=FEED)

    result = fetch_feed(feed_server.url("/hop0"), settings=FAST)

    assert result.content == FEED
    assert result.final_url == final
    assert result.permanent_url == (final if moved else None)


def test_redirect_loop_is_fetch_error(feed_server):
    feed_server.route("/a", status=302, headers={"Location": "/b"})
    feed_server.route("/b", status=302, headers={"Location": "/a"})

    with pytest.raises(FetchError, match="redirects"):
        fetch_feed(feed_server.url("/a"), settings=FAST)
    assert len(feed_server.requests) == FAST.max_redirects + 1


# Hosts and ports that http_url lets through but httpx cannot use.
UNUSABLE_URLS = ["http://xn--/feed.xml", "http://ab\u00adc.example/feed.xml", "http://127.0.0.1:99999/feed.xml"]


@pytest.mark.parametrize(
    "target", ["file:///etc/passwd", "javascript:alert(1)", "ftp://127.0.0.1/feed", *UNUSABLE_URLS]
)
def test_redirect_to_non_http_or_invalid_url_is_fetch_error(feed_server, target):
    url = feed_server.route("/feed.xml", status=301, headers={"Location": target})

    with pytest.raises(FetchError, match="redirected to|location header"):
        fetch_feed(url, settings=FAST)


# -- HTTP errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410, 500])
def test_error_status_is_fetch_error_with_that_status(feed_server, status):
    url = feed_server.route("/feed.xml", status=status, body=b"nope")

    with pytest.raises(FetchError) as info:
        fetch_feed(url, settings=FAST)

    assert info.value.status == status
    assert str(status) in str(info.value)
    assert info.value.retry_after is None


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_is_given_in_seconds(feed_server, status, form):
    value = "120" if form == "seconds" else formatdate(time.time() + 120, usegmt=True)
    url = feed_server.route("/feed.xml", status=status, headers={"Retry-After": value})

    with pytest.raises(FetchError) as info:
        fetch_feed(url, settings=FAST)

    assert info.value.status == status
    assert info.value.retry_after == pytest.approx(120, abs=2)  # an HTTP date has 1 s resolution


# -- network failures and deadlines -------------------------------------------------------------


def test_connection_refused_is_fetch_error_without_status():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound but not listening: connecting is refused
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/feed.xml"

        with pytest.raises(FetchError) as info:
            fetch_feed(url, settings=FetchSettings(allow_private=ALL, timeout=5))

    assert info.value.status is None


def test_server_that_never_answers_times_out(feed_server):
    url = feed_server.route("/feed.xml", hang=True)
    started = time.monotonic()

    with pytest.raises(FetchError, match="timed out") as info:
        fetch_feed(url, settings=FetchSettings(allow_private=ALL, timeout=0.5))

    assert time.monotonic() - started < 0.5 + 1.0
    assert info.value.status is None


def test_deadline_covers_a_body_that_drips_slowly(feed_server):
    # One byte every 0.2 s never trips a per-read timeout; only the total deadline stops it.
    url = feed_server.route("/feed.xml", body=FEED, drip=0.2)
    started = time.monotonic()

    with pytest.raises(FetchError, match="timed out"):
        fetch_feed(url, settings=FetchSettings(allow_private=ALL, timeout=1))

    assert time.monotonic() - started < 1 + 1.0


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/feed.xml", "file:///etc/passwd", "javascript:alert(1)", "feed.xml", ""]
)
def test_non_http_url_is_invalid(url):
    with pytest.raises(InvalidFeedURLError):
        fetch_feed(url, settings=FAST)


@pytest.mark.parametrize("url", UNUSABLE_URLS)
def test_url_the_http_client_cannot_use_is_invalid(url):
    with pytest.raises(InvalidFeedURLError):
        fetch_feed(url, settings=FAST)


# -- many feeds at once -------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["http-500", "not-http", "unusable-host", "refused", "bad-redirect"])
def test_fetch_all_returns_every_result_and_one_failure_spares_the_others(feed_server, failure):
    urls = [feed_server.route(f"/feed{i}.xml", body=FEED + str(i).encode()) for i in range(19)]
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    bad = {
        "http-500": feed_server.route("/broken.xml", status=500),
        "not-http": "ftp://127.0.0.1/feed.xml",
        "unusable-host": "http://xn--/feed.xml",
        "bad-redirect": feed_server.route("/moved.xml", status=302, headers={"Location": "javascript:x()"}),
        "refused": f"http://127.0.0.1:{refused.getsockname()[1]}/feed.xml",
    }[failure]

    with refused:
        results = dict(fetch_all([FetchRequest(url) for url in [*urls[:7], bad, *urls[7:]]], FAST))

    assert len(results) == 20
    outcomes = {request.url: outcome for request, outcome in results.items()}
    assert isinstance(outcomes.pop(bad), FetchError | InvalidFeedURLError)
    assert {url: outcome.content for url, outcome in outcomes.items()} == {
        url: FEED + str(i).encode() for i, url in enumerate(urls)
    }


def test_per_host_limit_caps_concurrent_requests_to_one_host(feed_server):
    urls = [feed_server.route(f"/feed{i}.xml", body=FEED, delay=0.2) for i in range(6)]

    results = list(
        fetch_all(
            [FetchRequest(url) for url in urls], FetchSettings(allow_private=ALL, timeout=5, per_host=2, workers=10)
        )
    )

    assert [outcome.status for _, outcome in results] == ["ok"] * 6
    assert feed_server.peak_concurrency == 2


def test_different_hosts_are_fetched_in_parallel(feed_server):
    paths = [f"/feed{i}.xml" for i in range(3)]
    for path in paths:
        feed_server.route(path, body=FEED, delay=0.2)
    urls = [feed_server.url(path, host=host) for host in ("127.0.0.1", "localhost") for path in paths]

    results = list(
        fetch_all(
            [FetchRequest(url) for url in urls], FetchSettings(allow_private=ALL, timeout=5, per_host=1, workers=10)
        )
    )

    assert [outcome.status for _, outcome in results] == ["ok"] * 6
    assert feed_server.peak_concurrency_for("127.0.0.1") == 1
    assert feed_server.peak_concurrency_for("localhost") == 1
    assert feed_server.peak_concurrency == 2


def test_closing_fetch_all_early_cancels_the_rest_without_hanging(feed_server):
    all_hanging = threading.Event()
    arrived = []

    def hang(request: Request) -> Response:
        arrived.append(request)  # list.append is atomic
        if len(arrived) == 5:
            all_hanging.set()
        return Response(hang=True)

    def fast(request: Request) -> Response:
        all_hanging.wait(5)  # answer once every other request is in flight
        return Response(body=FEED)

    hanging = [feed_server.route(f"/hang{i}.xml", hang) for i in range(5)]
    quick = feed_server.route("/quick.xml", fast)
    results = fetch_all([FetchRequest(url) for url in [*hanging, quick]], FetchSettings(allow_private=ALL, timeout=30))

    request, outcome = next(results)
    assert request.url == quick and outcome.content == FEED
    assert all_hanging.is_set()
    closer = threading.Thread(target=results.close, daemon=True)
    closer.start()
    closer.join(timeout=3)

    assert not closer.is_alive(), "closing fetch_all hung"
    assert not [t for t in threading.enumerate() if t.name == "causerie-fetch"]


def test_a_gzip_body_without_content_encoding_is_inflated(feed_server):
    # A feed.xml.gz served as application/xml, or a server that compresses twice and says it once.
    url = feed_server.route("/feed.xml", body=gzip.compress(FEED), headers={"Content-Type": "application/xml"})

    assert fetch_feed(url, settings=FAST).content == FEED


def test_a_gzip_bomb_without_content_encoding_is_refused_within_the_cap(feed_server):
    url = feed_server.route("/bomb.xml", body=_gzip_bomb(), headers={"Content-Type": "application/xml"})

    with pytest.raises(FetchError, match="decompressed"):
        fetch_feed(url, settings=FetchSettings(allow_private=ALL, timeout=5, max_bytes=2**20))


def test_a_body_that_only_starts_like_gzip_is_left_as_it_is(feed_server):
    body = b"\x1f\x8b plain bytes that are not gzip"
    url = feed_server.route("/odd.bin", body=body)

    assert fetch_feed(url, settings=FAST).content == body
