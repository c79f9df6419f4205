"""A long-lived process gives back what it takes: file descriptors and threads, round after round.

Memory over thousands of rounds is measured, not asserted: benchmarks/soak_bench.py.
"""

import os
import threading
import time

import pytest
from fakes import rss

from reader.models import FeedSource
from reader.store import LOCAL_USER, Store
from reader.update import select_feeds, update_feeds, utc_now


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def settled_threads(expected: int, timeout: float = 5.0) -> int:
    """The thread count, once threads that are finishing have finished (joins race the count)."""
    deadline = time.monotonic() + timeout
    while threading.active_count() > expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return threading.active_count()


pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to count descriptors")


def test_fetch_rounds_leave_no_descriptor_or_thread_behind(feed_server, config):
    urls = []
    for i in range(20):
        body = rss(*[(f"{i}-{j}", f"L'entrée {j} & « suite » #{i}") for j in range(5)]).encode()
        # Half answer 304 to the second round on, half send the same body again, one is an error.
        headers = {"ETag": f'"v{i}"'} if i % 2 else {}
        urls.append(feed_server.route(f"/f{i}.xml", body=body, headers=headers))
    urls.append(feed_server.route("/broken.xml", status=500, body=b"oops"))
    store = Store.open(config.db_path).for_user(LOCAL_USER)
    store.add_feeds([FeedSource(url) for url in urls])
    try:
        for _ in range(3):  # warm-up: imports, pools, caches
            list(update_feeds(store, config, select_feeds(store, utc_now(), urls=urls)))
        fds, threads = open_fds(), settled_threads(threading.active_count())
        for _ in range(30):
            results = list(update_feeds(store, config, select_feeds(store, utc_now(), urls=urls)))
            assert len(results) == 21
        assert open_fds() == fds
        assert settled_threads(threads) == threads
    finally:
        store.close()


def test_thousands_of_requests_leave_no_descriptor_or_thread_behind(client, store, fetch, config):
    store.add_feeds([FeedSource(f"https://carnet{i}.example/feed", f"Carnet n°{i} « été »") for i in range(10)])
    fetch.responses = {
        f"https://carnet{i}.example/feed": rss(*[(f"{i}-{j}", f"L'été #{j} & co") for j in range(5)]) for i in range(10)
    }
    list(update_feeds(store, config, fetch=fetch))
    entry = store.list_timeline()[0].entry.id
    person = store.list_people()[0].id
    pages = ["/", "/people", f"/people/{person}", f"/entries/{entry}", "/search?q=%C3%A9t%C3%A9", "/healthz"]

    def walk(times: int) -> None:
        for _ in range(times):
            for path in pages:
                assert client.get(path).status_code == 200, path
            assert client.post(f"/entries/{entry}/read", data={"read": "1"}).status_code in (200, 303)

    walk(5)
    fds, threads = open_fds(), settled_threads(threading.active_count())
    walk(150)  # 1,050 requests, each opening and closing its store
    assert open_fds() == fds
    assert settled_threads(threads) == threads
