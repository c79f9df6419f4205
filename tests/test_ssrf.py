"""Outbound safety: Causerie fetches no private address unless told to, whatever the spelling.

A canary server on another loopback port stands for everything private (a router's admin page,
cloud metadata, a database): only the feed server's exact host:port is allowed, and the canary
must see no request at all.
"""

from dataclasses import replace

import pytest
from httpserver import FeedServer

from reader.config import load_config
from reader.errors import ConfigError, FetchError
from reader.fetch import FetchSettings, address_refusal, fetch_feed

RSS = b"<?xml version='1.0'?><rss version='2.0'><channel><title>ok</title></channel></rss>"


@pytest.fixture
def canary():
    server = FeedServer().start()
    server.route("/", body=b"secret")
    server.route("/latest/meta-data/", body=b"secret")
    yield server
    server.stop()
    assert server.requests == [], f"the canary was reached: {server.requests}"


@pytest.fixture
def only_the_feed_server(feed_server):
    feed_server.route("/feed.xml", body=RSS)
    return FetchSettings(timeout=5, allow_private=(f"127.0.0.1:{feed_server.port}",))


def spellings(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/",
        f"http://2130706433:{port}/",  # decimal
        f"http://0x7f000001:{port}/",  # hex
        f"http://0177.0.0.1:{port}/",  # octal
        f"http://127.1:{port}/",  # short form
        f"http://0x7f.0.0.1:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",  # IPv4 inside IPv6
        f"http://feed.example@127.0.0.1:{port}/",  # userinfo
        f"http://localhost:{port}/",  # a name for loopback
        f"http://LocalHost:{port}/latest/meta-data/",
    ]


def test_the_allowed_host_port_is_fetched(only_the_feed_server, feed_server):
    assert fetch_feed(feed_server.url("/feed.xml"), settings=only_the_feed_server).content == RSS


@pytest.mark.parametrize("index", range(10))
def test_every_spelling_of_a_private_address_is_refused(only_the_feed_server, canary, index):
    url = spellings(canary.port)[index]
    with pytest.raises(FetchError, match=r"refused: private address (127\.0\.0\.1|::1)"):
        fetch_feed(url, settings=only_the_feed_server)


def test_a_name_that_resolves_to_a_private_address_is_refused(only_the_feed_server, canary):
    settings = replace(only_the_feed_server, resolve=(("canary.example", "127.0.0.1"),))
    with pytest.raises(FetchError, match=r"refused: private address 127\.0\.0\.1"):
        fetch_feed(f"http://canary.example:{canary.port}/", settings=settings)


def test_a_redirect_to_a_private_address_is_refused(only_the_feed_server, feed_server, canary):
    for index, target in enumerate(spellings(canary.port)):
        feed_server.route(f"/hop{index}", status=302, headers={"Location": target})
        with pytest.raises(FetchError, match="refused: private address"):
            fetch_feed(feed_server.url(f"/hop{index}"), settings=only_the_feed_server)


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # CGNAT
        "0.0.0.0",
        "224.0.0.1",  # multicast
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "192.0.2.1",  # documentation
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fec0::1",
        "ff02::1",
        "::ffff:10.0.0.3",
        "64:ff9b::a00:3",  # NAT64 of 10.0.0.3
    ],
)
def test_each_private_range_is_refused_before_any_connection(address):
    assert address_refusal("x.example", 80, address, ()) is not None
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(FetchError, match="refused: private address"):
        fetch_feed(f"http://{host}/feed", settings=FetchSettings(timeout=2))


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "1.1.1.1"])
def test_public_addresses_pass_the_guard(address):
    assert address_refusal("example.org", 443, address, ()) is None


def test_all_allows_every_private_address_and_host_port_exactly_that_one(feed_server):
    feed_server.route("/feed.xml", body=RSS)
    assert address_refusal("127.0.0.1", 8080, "127.0.0.1", ("all",)) is None
    assert address_refusal("127.0.0.1", 8080, "127.0.0.1", ("127.0.0.1:8080",)) is None
    assert address_refusal("127.0.0.1", 8081, "127.0.0.1", ("127.0.0.1:8080",)) is not None
    assert address_refusal("::1", 8080, "::1", ("[::1]:8080",)) is None
    with pytest.raises(FetchError, match="refused: private address 127.0.0.1"):
        fetch_feed(feed_server.url("/feed.xml"), settings=FetchSettings(timeout=5))  # the default refuses
    assert fetch_feed(feed_server.url("/feed.xml"), settings=FetchSettings(timeout=5, allow_private=("all",)))


def test_the_setting_is_read_strictly():
    assert load_config({"READER_ALLOW_PRIVATE_ADDRESSES": ""}, db_path="x").allow_private_addresses == ()
    assert load_config({"READER_ALLOW_PRIVATE_ADDRESSES": "all"}, db_path="x").allow_private_addresses == ("all",)
    parsed = load_config({"READER_ALLOW_PRIVATE_ADDRESSES": "127.0.0.1:8080, [::1]:9000"}, db_path="x")
    assert parsed.allow_private_addresses == ("127.0.0.1:8080", "[::1]:9000")
    for bad in ("yes", "127.0.0.1", "host:99999", "all,127.0.0.1:80"):
        with pytest.raises(ConfigError, match="READER_ALLOW_PRIVATE_ADDRESSES"):
            load_config({"READER_ALLOW_PRIVATE_ADDRESSES": bad}, db_path="x")


def test_a_refused_feed_is_an_error_on_its_health_row_not_a_crash(config, store, feed_server, canary):
    from reader.update import update_feeds

    feed_server.route("/feed.xml", body=RSS)
    store.add_feed(feed_server.url("/feed.xml"))
    store.add_feed(canary.url("/"))
    strict = replace(config, allow_private_addresses=(f"127.0.0.1:{feed_server.port}",))
    results = {r.url: r for r in update_feeds(store, strict)}
    assert results[feed_server.url("/feed.xml")].status == "ok"
    assert results[canary.url("/")].error == "refused: private address 127.0.0.1"
    assert store.get_feed(canary.url("/")).last_error == "refused: private address 127.0.0.1"
