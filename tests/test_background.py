"""One fetcher per database (the fetch lease), and reader serve's refresh loop."""

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from fakes import rss

from reader.background import FETCH, FetchLease, LeaseHeld, RefreshLoop

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
TERM = timedelta(minutes=2)
ENV = {**os.environ, "READER_ALLOW_PRIVATE_ADDRESSES": "all", "READER_PARSE_WORKERS": "0"}


def test_a_lease_is_held_by_one_until_it_expires_or_is_given_back(store):
    assert store.take_lease(FETCH, "ana", T0, TERM)
    assert not store.take_lease(FETCH, "bo", T0 + timedelta(minutes=1), TERM)
    assert store.get_lease(FETCH, T0 + timedelta(minutes=1)).holder == "ana"
    # Renewing is taking it again; it moves the end.
    assert store.take_lease(FETCH, "ana", T0 + timedelta(minutes=1), TERM)
    assert not store.take_lease(FETCH, "bo", T0 + timedelta(minutes=2, seconds=30), TERM)
    # Not renewed: free at the end of its term, and the newcomer holds it.
    assert store.get_lease(FETCH, T0 + timedelta(minutes=3)) is None
    assert store.take_lease(FETCH, "bo", T0 + timedelta(minutes=3), TERM)
    # The old holder giving back what it no longer holds changes nothing.
    store.release_lease(FETCH, "ana")
    assert store.get_lease(FETCH, T0 + timedelta(minutes=3)).holder == "bo"
    store.release_lease(FETCH, "bo")
    assert store.get_lease(FETCH, T0 + timedelta(minutes=3)) is None


def test_a_second_fetcher_stands_aside_and_the_lease_is_renewed_while_held(config, store):
    with FetchLease(config.db_path, term=timedelta(seconds=0.8)) as lease:
        time.sleep(1.5)  # longer than the term: only renewals keep it
        with pytest.raises(LeaseHeld, match="another fetcher is at work") as held:
            FetchLease(config.db_path).__enter__()
        assert held.value.lease.holder == lease.holder and not lease.lost
    # Given back on exit: the next one takes it at once.
    with FetchLease(config.db_path):
        pass


def test_a_lease_whose_holder_was_killed_on_this_machine_is_taken_over(config, store):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.take_lease(FETCH, f"{socket.gethostname()} pid {dead.pid} (deadbeef)", datetime.now(UTC), TERM)
    with FetchLease(config.db_path) as lease:
        assert store.get_lease(FETCH, datetime.now(UTC)).holder == lease.holder


def test_a_lease_held_from_another_machine_is_waited_out(config, store):
    store.take_lease(FETCH, "raspberrypi pid 4242 (cafe1234)", datetime.now(UTC), TERM)
    with pytest.raises(LeaseHeld, match="raspberrypi pid 4242"):
        FetchLease(config.db_path).__enter__()


def cli(db, *args, env=ENV):
    return subprocess.run(
        [sys.executable, "-m", "reader.cli", "--db", str(db), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_reader_fetch_stands_aside_while_another_fetcher_works(feed_server, config, store):
    url = feed_server.route("/zoe.xml", body=rss(("1", "L'hiver « enfin »")).encode())
    store.for_user(1).add_feed(url)
    store.take_lease(FETCH, "serveur pid 1 (aaaa0000)", datetime.now(UTC), TERM)

    due = cli(config.db_path, "fetch", "--due")
    assert due.returncode == 0 and due.stdout.startswith("skipped: another fetcher is at work")
    full = cli(config.db_path, "fetch")
    assert full.returncode == 1 and "skipped" in full.stdout
    assert feed_server.requests == []
    # Naming the feed is a person asking, like the web page's refresh button: it is fetched.
    named = cli(config.db_path, "fetch", url)
    assert named.returncode == 0 and "1 fetched" in named.stdout


def test_two_fetches_at_once_fetch_each_feed_once(feed_server, config, store):
    urls = [feed_server.route(f"/f{i}.xml", body=rss((f"{i}", "Été")).encode(), delay=0.2) for i in range(6)]
    for url in urls:
        store.for_user(1).add_feed(url)
    command = [sys.executable, "-m", "reader.cli", "--db", config.db_path, "fetch", "--due"]
    first, second = (subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, text=True) for _ in range(2))
    outputs = [first.communicate(timeout=60)[0], second.communicate(timeout=60)[0]]
    assert sum("skipped" in output for output in outputs) == 1, outputs
    assert sorted(request.path for request in feed_server.requests) == sorted(f"/f{i}.xml" for i in range(6))


def test_the_refresh_loop_fetches_what_is_due_then_waits_for_the_next(feed_server, config, store):
    url = feed_server.route("/carnet.xml", body=rss(("1", "Première"), ("2", "Deuxième")).encode())
    store.for_user(1).add_feed(url)
    loop = RefreshLoop(config)
    os.environ["READER_ALLOW_PRIVATE_ADDRESSES"] = "all"  # the child process reads its own settings
    try:
        loop.start()
        deadline = time.monotonic() + 30
        while store.count_entries() < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert store.count_entries() == 2
        # Fetched an hour's interval ago at most: the loop sleeps its longest, not in a busy loop.
        due = store.next_due_at()
        assert due > datetime.now(UTC) + timedelta(minutes=59)
        assert loop.wait_seconds(datetime.now(UTC)) == 300
        assert loop.wait_seconds(due - timedelta(seconds=10)) == 30
        assert loop.wait_seconds(due - timedelta(seconds=100)) == pytest.approx(100)
    finally:
        loop.stopped.set()
        del os.environ["READER_ALLOW_PRIVATE_ADDRESSES"]
    loop.thread.join(timeout=30)
    assert not loop.thread.is_alive() and len(feed_server.requests) == 1


def test_the_next_due_time_is_the_first_followed_feeds(store):
    user = store.for_user(1)
    assert store.next_due_at() is None
    user.add_feed("https://a.example/feed")
    assert store.next_due_at() < T0  # never fetched: due long ago
    store.db.execute("UPDATE feeds SET next_fetch_at = ?, wait_until = ?", [T0.isoformat(), (T0 + TERM).isoformat()])
    assert store.next_due_at() == T0 + TERM  # a server's "wait" counts too
