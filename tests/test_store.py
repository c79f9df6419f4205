"""Store against a real SQLite file."""

import sqlite3
from datetime import UTC, datetime

import pytest
from sqlite_utils import Database

from reader.errors import FeedExistsError, FeedNotFoundError, StorageError
from reader.models import FeedSource
from reader.store import Store

NOW = datetime(2025, 1, 6, tzinfo=UTC)


def test_opening_sets_wal_foreign_keys_and_records_the_schema_version(config):
    store = Store.open(config.db_path)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    applied = [r[0] for r in store.db.execute("SELECT name FROM _sqlite_migrations")]
    assert applied == ["m001_create_schema"]
    store.close()
    # Reopening applies nothing twice.
    again = Store.open(config.db_path)
    assert [r[0] for r in again.db.execute("SELECT name FROM _sqlite_migrations")] == applied
    again.close()


def test_adding_a_feed_twice_raises_feed_exists(store):
    store.add_feed("https://a.example/feed")
    with pytest.raises(FeedExistsError):
        store.add_feed("https://a.example/feed")


def test_import_is_all_or_nothing(store):
    sources = [FeedSource("https://a.example/feed", "A"), FeedSource(None, "broken")]  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        store.add_feeds(sources)
    assert store.list_subscriptions() == []


def test_importing_the_same_sources_twice_changes_nothing(store):
    sources = [
        FeedSource("https://a.example/feed", "A", "https://a.example/", ("Friends", "Poets")),
        FeedSource("https://b.example/feed", "B", None, ("Friends",)),
    ]
    first = store.add_feeds(sources)
    second = store.add_feeds(sources)

    assert (first.added, first.existing, first.groups) == (2, 0, 2)
    assert (second.added, second.existing, second.groups) == (0, 2, 0)
    paths = {s.feed.url: s.group_path for s in store.list_subscriptions()}
    assert paths == {"https://a.example/feed": ("Friends", "Poets"), "https://b.example/feed": ("Friends",)}


def test_every_feed_belongs_to_its_own_new_person(store):
    store.add_feeds([FeedSource("https://a.example/feed", "Ann"), FeedSource("https://b.example/feed")])
    people = {s.feed.url: s.person_name for s in store.list_subscriptions()}
    assert people == {"https://a.example/feed": "Ann", "https://b.example/feed": "b.example"}
    assert len({s.person_id for s in store.list_subscriptions()}) == 2


def test_subscriptions_are_personal_but_feeds_are_shared(store):
    store.db.execute("INSERT INTO users (id, name, created_at) VALUES (2, 'bea', '2025-01-01')")
    store.add_feed("https://a.example/feed", title="for local")
    store.add_feed("https://a.example/feed", title="for bea", user_id=2)

    assert [s.title for s in store.list_subscriptions()] == ["for local"]
    assert [s.title for s in store.list_subscriptions(user_id=2)] == ["for bea"]
    assert store.db.execute("SELECT count(*) FROM feeds").fetchone()[0] == 1
    store.remove_feed("https://a.example/feed")
    assert store.get_feed("https://a.example/feed")  # bea still follows it
    store.remove_feed("https://a.example/feed", user_id=2)
    with pytest.raises(FeedNotFoundError):
        store.get_feed("https://a.example/feed")


def test_removing_an_unknown_feed_raises_not_found(store):
    with pytest.raises(FeedNotFoundError):
        store.remove_feed("https://nobody.example/feed")


def test_moving_a_feed_onto_an_existing_url_is_refused(store):
    store.add_feed("https://a.example/feed")
    store.add_feed("https://b.example/feed")
    feed = store.get_feed("https://a.example/feed")
    assert store.move_feed(feed.id, "https://b.example/feed") is False
    assert store.move_feed(feed.id, "https://c.example/feed") is True
    assert store.get_feed("https://c.example/feed").id == feed.id


PUBLIC_CALLS = {
    "add_feed": lambda s: s.add_feed("https://x.example/feed"),
    "add_feeds": lambda s: s.add_feeds([FeedSource("https://x.example/feed")]),
    "remove_feed": lambda s: s.remove_feed("https://a.example/feed"),
    "list_subscriptions": lambda s: s.list_subscriptions(),
    "get_feed": lambda s: s.get_feed("https://a.example/feed"),
    "list_feeds_to_fetch": lambda s: s.list_feeds_to_fetch(NOW),
    "record_not_modified": lambda s: s.record_not_modified(1, None, NOW, NOW),
    "record_error": lambda s: s.record_error(1, "x", NOW, http_status=None, next_fetch_at=NOW, wait_until=None),
    "move_feed": lambda s: s.move_feed(1, "https://y.example/feed"),
    "list_entries": lambda s: s.list_entries(),
    "count_entries": lambda s: s.count_entries(),
}


@pytest.mark.parametrize("call", PUBLIC_CALLS.values(), ids=PUBLIC_CALLS.keys())
def test_a_locked_database_raises_storage_error(config, call):
    setup = Store.open(config.db_path)
    setup.add_feed("https://a.example/feed")
    setup.close()
    # Another process holds the database in exclusive locking mode: in WAL mode
    # that shuts out readers as well as writers.
    other = sqlite3.connect(config.db_path)
    other.isolation_level = None
    other.execute("PRAGMA locking_mode = EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    store = Store(Database(sqlite3.connect(config.db_path, timeout=0)))
    try:
        with pytest.raises(StorageError):
            call(store)
    finally:
        store.close()
        other.execute("ROLLBACK")
        other.close()


def test_search_gives_the_same_page_whichever_way_it_reads(store, config, fetch, monkeypatch):
    from fakes import rss

    from reader.update import update_feeds

    store.add_feed("https://a.example/feed")
    fetch.responses["https://a.example/feed"] = rss(*[(f"g{i}", f"heron number {i}") for i in range(30)])
    list(update_feeds(store, config, fetch=fetch, now=lambda: NOW))

    few = [item.entry.id for item in store.search("heron", limit=10, offset=5)]
    monkeypatch.setattr(type(store), "_FEW_MATCHES", 3)  # now 30 matches count as many
    many = [item.entry.id for item in store.search("heron", limit=10, offset=5)]

    assert few == many and len(few) == 10
    assert few == [item.entry.id for item in store.list_timeline(limit=15)][5:]
