"""Each feed's next fetch: the interval, the server's and the feed's hints, the bounds and the spread."""

from datetime import UTC, datetime, timedelta

import pytest
from fakes import rss

from reader.models import FetchResult
from reader.schedule import MAX_DELAY, MIN_DELAY, document_hint_minutes, next_fetch_time, response_hint
from reader.update import select_feeds, update_feeds

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
URL = "https://zoé.example/carnet.xml"


@pytest.mark.parametrize(
    ("ttl", "period", "frequency", "minutes"),
    [
        ("180", None, None, 180),
        (" 90 ", None, None, 90),
        (None, "daily", "2", 720),
        (None, "Hourly", None, 60),  # frequency defaults to 1
        (None, None, "4", 360),  # period defaults to daily
        ("30", "weekly", "1", 10080),  # the longer of the two
        ("-5", None, None, None),
        ("soon", "fortnightly", "0", None),
        (None, "daily", "zero", None),
        (None, None, None, None),
    ],
)
def test_the_feed_says_how_often_it_changes(ttl, period, frequency, minutes):
    assert document_hint_minutes(ttl, period, frequency) == minutes


def test_the_server_says_how_long_its_answer_stays_fresh():
    assert response_hint({"cache-control": "public, max-age=7200"}, T0) == 2 * HOUR
    assert response_hint({"cache-control": 'max-age="600", must-revalidate'}, T0) == timedelta(minutes=10)
    # max-age wins over Expires; Expires counts from the server's Date, not our clock.
    headers = {"cache-control": "max-age=60", "expires": "Sat, 05 Dec 2026 12:00:00 GMT"}
    assert response_hint(headers, T0) == timedelta(seconds=60)
    headers = {"expires": "Sat, 05 Dec 2026 12:00:00 GMT", "date": "Sat, 05 Dec 2026 10:00:00 GMT"}
    assert response_hint(headers, T0) == 2 * HOUR
    assert response_hint({"expires": "Sat, 05 Dec 2026 10:00:00 GMT"}, T0) == 2 * HOUR
    # In the past, "0", garbage, or only how to keep it: no hint.
    for headers in (
        {"expires": "Fri, 04 Dec 2026 10:00:00 GMT"},
        {"expires": "0"},
        {"expires": "demain matin"},
        {"cache-control": "no-cache, no-store"},
        {"cache-control": "max-age=-1"},
        {"cache-control": "max-age=beaucoup"},
        {},
    ):
        assert response_hint(headers, T0) is None, headers


def test_hints_only_ever_slow_polling_down_within_a_day():
    assert next_fetch_time(T0, HOUR) == T0 + HOUR
    assert next_fetch_time(T0, HOUR, response=timedelta(seconds=30), document_minutes=1) == T0 + HOUR
    assert next_fetch_time(T0, HOUR, response=3 * HOUR) == T0 + 3 * HOUR
    assert next_fetch_time(T0, HOUR, document_minutes=240) == T0 + 4 * HOUR
    assert next_fetch_time(T0, HOUR, response=timedelta(days=30)) == T0 + MAX_DELAY
    assert next_fetch_time(T0, HOUR, document_minutes=525600) == T0 + MAX_DELAY
    # However small the setting, never again within ten minutes.
    assert next_fetch_time(T0, timedelta(minutes=1)) == T0 + MIN_DELAY


def test_the_spread_is_a_tenth_of_the_delay_and_stays_under_a_day():
    assert next_fetch_time(T0, HOUR, spread=0.5) == T0 + HOUR + timedelta(minutes=3)
    assert next_fetch_time(T0, HOUR, spread=0.999) < T0 + timedelta(minutes=66)
    # At the ceiling it spreads below a day rather than past it.
    at_ceiling = next_fetch_time(T0, HOUR, response=timedelta(days=2), spread=0.5)
    assert at_ceiling == T0 + MAX_DELAY - MAX_DELAY * 0.05


def test_a_thousand_feeds_fetched_together_fall_due_apart(store, config, fetch):
    urls = [f"https://blog{i}.example/feed.xml" for i in range(1000)]
    for url in urls:
        store.add_feed(url)
        fetch.responses[url] = rss(("a", "Première « note »"))
    list(update_feeds(store, config, select_feeds(store, T0), fetch=fetch, now=lambda: T0))

    due = [feed.next_fetch_at for feed in store.list_feeds_to_fetch(T0)]
    interval = timedelta(minutes=config.update_interval)
    assert all(T0 + interval <= when <= T0 + interval * 1.1 for when in due)
    # Spread over the six minutes, not stacked on one instant: no minute holds more than a third.
    by_minute = {}
    for when in due:
        by_minute[when.replace(second=0, microsecond=0)] = by_minute.get(when.replace(second=0, microsecond=0), 0) + 1
    assert len(by_minute) >= 6 and max(by_minute.values()) < 1000 / 3


def ttl_feed(ttl: int) -> str:
    return (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>Le carnet de Zoé &amp; Cie</title>"
        f"<link>https://zoé.example/</link><ttl>{ttl}</ttl>"
        "<item><guid>1</guid><title>L'été, déjà</title></item></channel></rss>"
    )


def test_a_feeds_ttl_is_kept_for_the_fetches_that_bring_nothing_new(store, config, fetch):
    store.add_feed(URL)
    fetch.responses[URL] = ttl_feed(300)
    list(update_feeds(store, config, select_feeds(store, T0), fetch=fetch, now=lambda: T0))
    feed = store.get_feed(URL)
    assert feed.refresh_hint_minutes == 300
    assert T0 + 5 * HOUR <= feed.next_fetch_at <= T0 + 5.5 * HOUR

    # The next fetch is a 304 (same ETag): no document, the feed's word still holds.
    later = T0 + 6 * HOUR
    list(update_feeds(store, config, select_feeds(store, later), fetch=fetch, now=lambda: later))
    assert fetch.calls[-1].etag is not None
    feed = store.get_feed(URL)
    assert feed.refresh_hint_minutes == 300 and later + 5 * HOUR <= feed.next_fetch_at

    # A new document without <ttl>: back to the interval.
    fetch.responses[URL] = rss(("2", "Sans ttl"))
    latest = T0 + 12 * HOUR
    list(update_feeds(store, config, select_feeds(store, latest), fetch=fetch, now=lambda: latest))
    feed = store.get_feed(URL)
    assert feed.refresh_hint_minutes is None
    assert feed.next_fetch_at <= latest + timedelta(minutes=config.update_interval * 1.1)


def test_cache_control_from_the_response_sets_the_next_fetch(store, config, fetch):
    store.add_feed(URL)
    fetch.responses[URL] = FetchResult(
        URL, URL, "ok", 200, content=rss(("a", "x")).encode(), headers={"cache-control": "max-age=10800"}
    )
    list(update_feeds(store, config, select_feeds(store, T0), fetch=fetch, now=lambda: T0))
    assert T0 + 3 * HOUR <= store.get_feed(URL).next_fetch_at <= T0 + 3.3 * HOUR
