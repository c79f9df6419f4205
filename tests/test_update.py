"""update_feeds end to end above the network: real parser, real SQLite, fake fetch and clock."""

from datetime import UTC, datetime, timedelta

import pytest
from fakes import rss

from reader.errors import FetchError, ParseError
from reader.models import FetchResult
from reader.update import backoff, select_feeds, update_feeds

T0 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
URL = "https://blog.example/feed.xml"
OTHER = "https://other.example/rss"


def run(store, config, fetch, now=T0, **kwargs):
    feeds = select_feeds(store, now, **kwargs)
    return list(update_feeds(store, config, feeds, fetch=fetch, now=lambda: now))


def test_new_entries_are_stored_and_counted(store, config, fetch):
    store.add_feed(URL)
    fetch.responses[URL] = rss(("a", "First"), ("b", "Second"))

    [result] = run(store, config, fetch)

    assert (result.status, result.new, result.updated) == ("ok", 2, 0)
    assert [e.title for e in store.list_entries()] == ["First", "Second"]
    assert store.get_feed(URL).status == "ok"


def test_refetching_the_same_entries_never_duplicates(store, config, fetch):
    store.add_feed(URL)
    fetch.responses[URL] = rss(("a", "First"))
    run(store, config, fetch)
    fetch.responses[URL] = rss(("a", "First"), ("b", "Second"))  # new body, one old entry

    [result] = run(store, config, fetch, now=T0 + timedelta(hours=2))

    assert (result.new, result.updated) == (1, 0)
    assert store.count_entries() == 2


def test_changed_content_updates_the_entry_in_place(store, config, fetch):
    store.add_feed(URL)
    fetch.responses[URL] = rss(("a", "Draft title"))
    run(store, config, fetch)
    fetch.responses[URL] = rss(("a", "Final title"))

    [result] = run(store, config, fetch, now=T0 + timedelta(hours=2))

    assert (result.new, result.updated) == (0, 1)
    [entry] = store.list_entries()
    assert entry.title == "Final title"
    assert entry.first_seen_at == T0  # a change is not a new arrival


def test_search_index_follows_changes(store, config, fetch):
    store.add_feed(URL)
    fetch.responses[URL] = rss(("a", "Draft about herons"))
    run(store, config, fetch)
    fetch.responses[URL] = rss(("a", "Final about egrets"))
    run(store, config, fetch, now=T0 + timedelta(hours=2))

    def hits(word):
        return store.db.execute("SELECT count(*) FROM entries_fts WHERE entries_fts MATCH ?", [word]).fetchone()[0]

    assert (hits("herons"), hits("egrets")) == (0, 1)
    store.remove_feed(URL)
    assert hits("egrets") == 0


def test_a_304_stores_nothing_but_the_fetch_time(store, config, fetch):
    store.add_feed(URL)
    fetch.responses[URL] = rss(("a", "First"))
    run(store, config, fetch)
    later = T0 + timedelta(hours=2)

    [result] = run(store, config, fetch, now=later)

    assert result.status == "not_modified"
    assert fetch.calls[-1].etag is not None  # the validator was sent back
    feed = store.get_feed(URL)
    assert feed.last_fetched_at == later
    assert store.count_entries() == 1


def test_an_identical_body_without_validators_is_not_parsed_again(store, config, fetch):
    store.add_feed(URL)
    body = rss(("a", "First")).encode()
    fetch.responses[URL] = FetchResult(URL, URL, "ok", 200, content=body)
    run(store, config, fetch)

    [result] = run(store, config, fetch, now=T0 + timedelta(hours=2))

    assert result.status == "unchanged"


def test_one_bad_feed_does_not_stop_the_others(store, config, fetch):
    store.add_feed(URL)
    store.add_feed(OTHER)
    fetch.responses[URL] = b"<html><body>not a feed</body></html>"
    fetch.responses[OTHER] = rss(("x", "Fine"))

    results = {r.url: r for r in run(store, config, fetch)}

    assert results[URL].status == "error" and "not a feed" in results[URL].error
    assert (results[OTHER].status, results[OTHER].new) == ("ok", 1)


def test_an_error_is_recorded_backs_off_and_clears_on_success(store, config, fetch):
    store.add_feed(URL)
    fetch.responses[URL] = FetchError(URL, "HTTP 500 Internal Server Error", status=500)

    [result] = run(store, config, fetch)

    feed = store.get_feed(URL)
    assert (feed.status, feed.error_count, feed.http_status) == ("error", 1, 500)
    assert feed.last_error == "HTTP 500 Internal Server Error"
    assert feed.wait_until == T0 + backoff(1)
    assert select_feeds(store, T0 + timedelta(minutes=1)) == []  # told to wait
    # Still failing later: the wait doubles.
    run(store, config, fetch, now=feed.wait_until)
    assert store.get_feed(URL).wait_until == feed.wait_until + backoff(2)
    assert backoff(2) == 2 * backoff(1)

    fetch.responses[URL] = rss(("a", "Back"))
    run(store, config, fetch, now=T0 + timedelta(days=2))

    feed = store.get_feed(URL)
    assert (feed.status, feed.error_count, feed.last_error, feed.wait_until) == ("ok", 0, None, None)


def test_backoff_grows_but_never_gives_up():
    assert backoff(1) < backoff(2) < backoff(3)
    assert backoff(100) == backoff(50) == timedelta(hours=24)


def test_retry_after_is_honoured(store, config, fetch):
    store.add_feed(URL)
    fetch.responses[URL] = FetchError(URL, "HTTP 429 Too Many Requests", status=429, retry_after=7200)

    run(store, config, fetch)

    feed = store.get_feed(URL)
    assert feed.wait_until == T0 + timedelta(hours=2)
    assert select_feeds(store, T0 + timedelta(minutes=119)) == []
    assert [f.url for f in select_feeds(store, T0 + timedelta(minutes=120))] == [URL]


def test_410_gone_stops_polling_until_asked(store, config, fetch):
    store.add_feed(URL)
    fetch.responses[URL] = FetchError(URL, "HTTP 410 Gone", status=410)

    [result] = run(store, config, fetch)

    assert result.status == "gone"
    assert select_feeds(store, T0 + timedelta(days=30)) == []
    # A user naming the feed fetches it anyway.
    assert [f.url for f in select_feeds(store, T0, urls=[URL])] == [URL]


def test_due_only_skips_feeds_fetched_recently(store, config, fetch):
    store.add_feed(URL)
    fetch.responses[URL] = rss(("a", "First"))
    run(store, config, fetch)

    assert select_feeds(store, T0 + timedelta(minutes=30), due_only=True) == []
    assert select_feeds(store, T0 + timedelta(minutes=30))  # plain fetch: everything
    # Due after the interval plus its spread (schedule.py), at most a tenth more.
    due = T0 + timedelta(minutes=config.update_interval * 1.1)
    assert [f.url for f in select_feeds(store, due, due_only=True)] == [URL]


def test_a_permanent_redirect_updates_the_feed_url(store, config, fetch):
    store.add_feed(URL)
    new_url = "https://blog.example/new-feed.xml"
    fetch.responses[URL] = FetchResult(
        URL, new_url, "ok", 200, content=rss(("a", "Moved")).encode(), permanent_url=new_url
    )

    [result] = run(store, config, fetch)

    assert result.url == new_url
    assert store.get_subscription(new_url).feed.url == new_url


def test_an_unexpected_exception_propagates(store, config, fetch):
    store.add_feed(URL)
    fetch.responses[URL] = RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        run(store, config, fetch)


def test_a_new_person_is_named_from_the_feed_author_or_title(store, config, fetch):
    store.add_feed(URL)
    store.add_feed(OTHER)
    fetch.responses[URL] = rss(("a", "x"), title="Notes", author="ada@example.org (Ada Lovelace)")
    fetch.responses[OTHER] = rss(("b", "y"), title="Grace's log")

    run(store, config, fetch)

    names = {s.feed.url: s.person_name for s in store.list_subscriptions()}
    assert names == {URL: "Ada Lovelace", OTHER: "Grace's log"}


def test_dates_missing_or_in_the_future_use_the_first_seen_time(store, config, fetch):
    store.add_feed(URL)
    fetch.responses[URL] = (
        "<rss version='2.0'><channel><title>t</title>"
        "<item><guid>past</guid><title>past</title><pubDate>Mon, 06 Jan 2020 10:00:00 GMT</pubDate></item>"
        "<item><guid>future</guid><title>future</title><pubDate>Mon, 06 Jan 2031 10:00:00 GMT</pubDate></item>"
        "<item><guid>undated</guid><title>undated</title></item>"
        "</channel></rss>"
    )

    run(store, config, fetch)

    entries = {e.title: e for e in store.list_entries()}
    assert entries["past"].sort_at == datetime(2020, 1, 6, 10, tzinfo=UTC)
    assert entries["future"].sort_at == T0 and entries["future"].is_future_dated
    assert entries["future"].published_at == datetime(2031, 1, 6, 10, tzinfo=UTC)  # original kept
    assert entries["undated"].sort_at == T0 and entries["undated"].published_at is None


def test_parse_errors_are_feed_errors(store, config, fetch):
    store.add_feed(URL)
    fetch.responses[URL] = ParseError(URL, "not a feed")

    [result] = run(store, config, fetch)

    assert result.status == "error"
    assert store.get_feed(URL).error_count == 1


def test_parser_processes_give_the_same_results_and_errors(store, config, fetch):
    from dataclasses import replace

    store.add_feed(URL)
    store.add_feed(OTHER)
    fetch.responses[URL] = rss(("a", "First"), ("b", "Second"))
    fetch.responses[OTHER] = b"<html>no feed here</html>"

    results = {r.url: r for r in run(store, replace(config, parse_workers=1), fetch)}

    assert (results[URL].status, results[URL].new) == ("ok", 2)
    assert results[OTHER].status == "error" and "not a feed" in results[OTHER].error
    assert [e.title for e in store.list_entries()] == ["First", "Second"]


# -- the pipeline that every fetch goes through ------------------------------------


def test_collect_prepares_each_page_in_the_given_order_and_reports_errors(config, fetch):
    from dataclasses import replace

    import prepare_steps

    from reader.update import collect

    fetch.responses = {"https://a.example/": "l’été", "https://b.example/": "« oui »"}
    done = collect(
        ["https://b.example/", "https://missing.example/", "https://a.example/", "https://b.example/"],
        prepare_steps.upper,
        replace(config, parse_workers=0),
        fetch=fetch,
    )
    assert [d.job.url for d in done] == ["https://b.example/", "https://missing.example/", "https://a.example/"]
    assert [d.prepared for d in done] == ["« OUI »", None, "L’ÉTÉ"]
    assert isinstance(done[1].error, FetchError) and done[1].error.status == 404
    assert len(fetch.calls) == 3  # the repeated URL is fetched once


def test_with_parser_processes_documents_are_prepared_outside_this_process(config, fetch):
    import os
    from dataclasses import replace

    import prepare_steps

    from reader.update import collect

    fetch.responses = {"https://a.example/": "x"}
    settings = replace(config, parse_workers=1)
    [done] = collect(["https://a.example/"], prepare_steps.pid_of_preparer, settings, fetch=fetch)
    assert done.error is None and done.prepared != os.getpid()


@pytest.mark.parametrize("workers", [0, 1], ids=["in-process", "parser process"])
def test_the_time_budget_stops_any_prepare_step_wherever_it_runs(config, fetch, workers):
    """The web app parses in a parser process because a budget cannot stop a request thread."""
    from dataclasses import replace

    import prepare_steps

    from reader.update import collect

    fetch.responses = {"https://slow.example/": "x", "https://slower.example/": "y"}
    settings = replace(config, parse_workers=workers, parse_time_budget=0.3)
    urls = ["https://slow.example/", "https://slower.example/"]
    done = collect(urls, prepare_steps.spin_forever, settings, fetch=fetch)
    # Each stuck document is its own job's error, and the pipeline goes on to the next.
    assert [type(d.error) for d in done] == [ParseError, ParseError]
    assert all("longer than 0.3 s" in str(d.error) for d in done)


def test_the_web_app_never_parses_in_its_request_threads(config):
    from reader.web import create_app

    assert create_app(config).config["READER"].parse_workers >= 1


def _guidless(*items: tuple[str, str, str]) -> str:
    """RSS items without a guid: (link, title, day of January 2025)."""
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><pubDate>{day} Jan 2025 10:00:00 GMT</pubDate>"
        f"<description>{title}</description></item>"
        for link, title, day in items
    )
    return f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Ana</title>{body}</channel></rss>"


HOME = "https://ana.example/"


def test_posts_without_a_guid_that_share_a_link_are_all_kept(store, config, fetch):
    store.add_feed(URL)
    fetch.responses[URL] = _guidless(
        (HOME, "L'été à Sète", "03"), (HOME, "Notes #2 : l'hiver", "02"), ("https://ana.example/3", "Trois", "01")
    )

    [result] = run(store, config, fetch)

    assert result.new == 3
    assert sorted(e.title for e in store.list_entries()) == ["L'été à Sète", "Notes #2 : l'hiver", "Trois"]


def test_a_post_whose_link_is_shared_no_more_is_not_stored_again(store, config, fetch):
    store.add_feed(URL)
    fetch.responses[URL] = _guidless((HOME, "Un", "02"), (HOME, "Deux", "01"))
    run(store, config, fetch)
    # The older post left the feed: the newer one's link is its own again, and so its identity.
    fetch.responses[URL] = _guidless((HOME, "Un", "02"))

    [result] = run(store, config, fetch, now=T0 + timedelta(hours=2))

    assert (result.new, result.updated) == (0, 0)
    assert store.count_entries() == 2


def test_a_post_stored_alone_under_its_link_is_found_when_its_link_becomes_shared(store, config, fetch):
    # Also what a database holds from before this rule: the first of the posts sharing a link.
    store.add_feed(URL)
    fetch.responses[URL] = _guidless((HOME, "Un", "01"))
    run(store, config, fetch)
    fetch.responses[URL] = _guidless((HOME, "Deux", "02"), (HOME, "Un", "01"))

    [result] = run(store, config, fetch, now=T0 + timedelta(hours=2))

    assert (result.new, result.updated) == (1, 0)
    first_seen = {e.title: e.first_seen_at for e in store.list_entries()}
    assert first_seen == {"Un": T0, "Deux": T0 + timedelta(hours=2)}  # "Un" is not announced again


def test_a_round_of_304s_stores_every_feeds_fetch_state_even_when_cut_short(store, config, fetch):
    # Feeds that brought nothing new are written in batches (update._UNCHANGED_BATCH): none may be
    # left out, past a batch or at the end, nor when the caller stops reading the results early.
    from reader.update import _UNCHANGED_BATCH

    urls = [f"https://blog{n}.example/feed" for n in range(_UNCHANGED_BATCH + 30)]
    for url in urls:
        store.add_feed(url)
        fetch.responses[url] = rss(("a", "Un"))
    run(store, config, fetch)
    later = T0 + timedelta(hours=2)

    results = run(store, config, fetch, now=later)

    assert {result.status for result in results} == {"not_modified"}
    assert {store.get_feed(url).last_fetched_at for url in urls} == {later}

    latest = later + timedelta(hours=2)
    feeds = select_feeds(store, latest)
    rounds = update_feeds(store, config, feeds, fetch=fetch, now=lambda: latest)
    first = [next(rounds) for _ in range(10)]
    rounds.close()  # the caller stops reading
    assert {store.get_feed(result.url).last_fetched_at for result in first} == {latest}


def test_a_new_post_sharing_a_link_never_takes_the_row_of_one_that_left_the_feed(store, config, fetch):
    # "Un" was stored alone under the bare link; once it leaves the feed, "Trois", which shares the
    # link, is a new post: it must not take Un's row (nor its id, read state or first-seen time).
    store.add_feed(URL)
    fetch.responses[URL] = _guidless((HOME, "Un", "01"))
    run(store, config, fetch)
    fetch.responses[URL] = _guidless((HOME, "Deux", "02"), (HOME, "Un", "01"))
    run(store, config, fetch, now=T0 + timedelta(hours=2))
    fetch.responses[URL] = _guidless((HOME, "Trois", "03"), (HOME, "Deux", "02"))

    [result] = run(store, config, fetch, now=T0 + timedelta(hours=4))

    assert (result.new, result.updated) == (1, 0)
    first_seen = {e.title: e.first_seen_at for e in store.list_entries()}
    assert first_seen == {"Un": T0, "Deux": T0 + timedelta(hours=2), "Trois": T0 + timedelta(hours=4)}


@pytest.mark.parametrize(
    ("error", "moved"),
    [
        (FetchError(URL, "could not connect (TLS handshake)", connect_failed=True), True),
        (FetchError(URL, "body larger than 10 bytes"), False),  # https did connect: no reason for http
        (FetchError(URL, "timed out after 20 s"), False),
    ],
)
def test_an_address_without_a_scheme_tries_http_only_when_https_does_not_connect(store, config, fetch, error, moved):
    from reader.models import FeedSource

    store.add_feeds([FeedSource(URL, "Ana", scheme_assumed=True)])
    fetch.responses[URL] = error

    run(store, config, fetch)

    plain = "http:" + URL.removeprefix("https:")
    feed = store.get_feed(plain if moved else URL)
    assert feed.url == (plain if moved else URL)
    assert feed.scheme_assumed is not moved  # one try of http, then the address stands


def test_a_feed_someone_follows_with_https_written_out_is_never_moved_to_http(store, config, fetch):
    from reader.models import FeedSource

    store.add_feeds([FeedSource(URL, "Ana", scheme_assumed=True)])  # from an OPML file: "blog.example/…"
    bea = store.for_user(store.add_user("bea").id)
    bea.add_feed(URL)  # typed with its https
    fetch.responses[URL] = FetchError(URL, "could not connect", connect_failed=True)

    run(store, config, fetch)

    assert store.get_feed(URL).url == URL and not store.get_feed(URL).scheme_assumed
