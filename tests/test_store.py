"""Store against a real SQLite file."""

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlite_utils import Database
from test_people import feed

from reader.errors import FeedExistsError, FeedNotFoundError, StorageError
from reader.models import FeedSource
from reader.store import LOCAL_USER, Store

NOW = datetime(2025, 1, 6, tzinfo=UTC)


def test_opening_sets_wal_foreign_keys_and_records_the_schema_version(config):
    store = Store.open(config.db_path)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    applied = [r[0] for r in store.db.execute("SELECT name FROM _sqlite_migrations")]
    assert applied == [
        "m001_create_schema",
        "m002_people_channels_mutes_conversations",
        "m003_accounts",
        "m004_schedule_and_lease",
        "m005_people_sort_name",
        "m006_feeds_scheme_assumed",
    ]
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
    bea = store.for_user(store.add_user("bea").id)
    store.add_feed("https://a.example/feed", title="for local")
    bea.add_feed("https://a.example/feed", title="for bea")

    assert [s.title for s in store.list_subscriptions()] == ["for local"]
    assert [s.title for s in bea.list_subscriptions()] == ["for bea"]
    assert store.db.execute("SELECT count(*) FROM feeds").fetchone()[0] == 1
    store.remove_feed("https://a.example/feed")
    assert store.get_feed("https://a.example/feed")  # bea still follows it
    bea.remove_feed("https://a.example/feed")
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
    "record_not_modified": lambda s: s.record_not_modified([(1, None, NOW, NOW)]),
    "record_error": lambda s: s.record_error(1, "x", NOW, http_status=None, next_fetch_at=NOW, wait_until=None),
    "move_feed": lambda s: s.move_feed(1, "https://y.example/feed"),
    "list_entries": lambda s: s.list_entries(),
    "count_entries": lambda s: s.count_entries(),
    "list_people_page": lambda s: s.list_people_page(NOW),
}


@pytest.mark.parametrize("call", PUBLIC_CALLS.values(), ids=PUBLIC_CALLS.keys())
def test_a_locked_database_raises_storage_error(config, call):
    setup = Store.open(config.db_path).for_user(LOCAL_USER)
    setup.add_feed("https://a.example/feed")
    setup.close()
    # Another process holds the database in exclusive locking mode: in WAL mode
    # that shuts out readers as well as writers.
    other = sqlite3.connect(config.db_path)
    other.isolation_level = None
    other.execute("PRAGMA locking_mode = EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    store = Store(Database(sqlite3.connect(config.db_path, timeout=0))).for_user(LOCAL_USER)
    try:
        with pytest.raises(StorageError):
            call(store)
    finally:
        store.close()
        other.execute("ROLLBACK")
        other.close()


def test_search_pages_follow_the_timeline_even_where_ids_do_not(store, config, fetch, monkeypatch):
    """Search reads matches newest id first and settles their order against the timeline's clock.
    Posts dated long before they were fetched, or in the future, put ids out of time order: every
    page must still be the timeline's, whichever way it is read."""
    import random

    from reader.update import update_feeds

    rng = random.Random(5)
    feeds = [f"https://{name}.example/feed" for name in ("ana", "bea", "chloé")]
    for url in feeds:
        store.add_feed(url)
    posts: dict[str, list] = {url: [] for url in feeds}
    for day in range(6):
        for n, url in enumerate(feeds):
            for k in range(rng.randint(0, 9)):
                when = NOW + timedelta(days=day - rng.choice([0, 1, 30, 400]), hours=rng.randint(-30, 30))
                title = rng.choice(["Le héron cendré", "L'aigrette & le héron", "Notes #2 : l'été"])
                posts[url].append((f"{day}-{n}-{k}", title, when))
            fetch.responses[url] = feed(*posts[url][-30:])
        list(update_feeds(store, config, fetch=fetch, now=lambda day=day: NOW + timedelta(days=day)))
    timeline = store.list_timeline(limit=1000)
    expected = [item.entry.id for item in timeline if "héron" in item.entry.title]
    assert len(expected) > 40 and sorted(item.entry.id for item in timeline) != [i.entry.id for i in timeline][::-1]

    for margin, settling in [(10, 20_000), (0, 20_000), (0, 0)]:  # (0, 0): the timeline walk
        monkeypatch.setattr(type(store), "_MARGIN", margin)
        monkeypatch.setattr(type(store), "_MAX_SETTLING", settling)
        for offset in range(0, len(expected) + 7, 7):
            page = [item.entry.id for item in store.search("heron", limit=7, offset=offset)]
            assert page == expected[offset : offset + 7], (margin, settling, offset)


def test_a_person_outlives_their_last_feed(store):
    sub = store.add_feed("https://a.example/feed", title="Ann")
    store.rename_person(sub.person_id, "Ann Onyme")
    store.remove_feed("https://a.example/feed")

    person = store.get_person(sub.person_id)
    assert (person.name, person.feed_count) == ("Ann Onyme", 0)
    assert [p.id for p in store.list_people()] == [sub.person_id]


def test_per_user_queries_exist_only_on_a_user_bound_handle(config):
    from reader.store import UserStore

    shared = Store.open(config.db_path)
    try:
        # What belongs to a user cannot be asked of the shared store at all.
        for name in ("list_subscriptions", "list_timeline", "get_entry", "get_entry_content", "list_people", "search"):
            assert not hasattr(shared, name) and hasattr(UserStore, name)
        assert shared.for_user(1).user_id == 1
        with pytest.raises(TypeError):
            shared.for_user(None)  # type: ignore[arg-type]
    finally:
        shared.close()


def test_every_public_store_method_turns_database_errors_into_storage_errors():
    from reader.store import UserStore

    public = [name for name in dir(UserStore) if not name.startswith("_") and callable(getattr(UserStore, name))]
    assert len(public) > 30
    unwrapped = [name for name in public if not getattr(getattr(UserStore, name), "wraps_storage_errors", False)]
    assert unwrapped == []


def test_a_user_cannot_reach_another_users_entries_by_id(store, config, fetch):
    from fakes import rss

    from reader.errors import EntryNotFoundError, NotFoundError
    from reader.update import update_feeds

    store.add_feed("https://a.example/feed")
    fetch.responses["https://a.example/feed"] = rss(("g1", "Le café de l’été"))
    list(update_feeds(store, config, fetch=fetch, now=lambda: NOW))
    [entry] = store.list_entries()
    bea = store.for_user(store.add_user("bea").id)

    for call in (bea.get_entry, bea.get_entry_content, bea.get_timeline_item, bea.mark_read, bea.set_saved):
        with pytest.raises(EntryNotFoundError) as raised:
            call(entry.id)
        assert isinstance(raised.value, NotFoundError)
    with pytest.raises(EntryNotFoundError):
        bea.cache_entry_html(entry.id, "<p>x</p>")
    assert bea.list_timeline() == [] and bea.search("café") == []
    assert store.get_entry(entry.id).title == "Le café de l’été"
    assert [i.entry.id for i in store.search("cafe")] == [entry.id]  # diacritics folded


def test_rows_become_models_by_field_type(store):
    sub = store.add_feed("https://a.example/feed", title="Zoé & « Lou »", group_path=("Amis", "Poètes"))
    assert sub.title == "Zoé & « Lou »" and sub.group_path == ("Amis", "Poètes")
    assert sub.feed.created_at.tzinfo is not None and sub.feed.last_fetched_at is None
    [group, subgroup] = store.list_groups()
    assert (group.path, subgroup.path, subgroup.feed_count) == (("Amis",), ("Amis", "Poètes"), 1)


def test_a_feed_added_in_another_form_of_its_address_is_the_same_feed(store):
    store.add_feed("https://Ana.example:443/rss.xml#top", title="Le carnet d'Ana")
    with pytest.raises(FeedExistsError):
        store.add_feed("https://ana.example/rss.xml?")
    assert [sub.feed.url for sub in store.list_subscriptions()] == ["https://ana.example/rss.xml"]
    assert store.get_subscription("https://ANA.example/rss.xml#x").display_title == "Le carnet d'Ana"
    store.remove_feed("https://ana.example:443/rss.xml")
    assert store.list_subscriptions() == []


def test_a_feed_stored_before_the_one_form_rule_is_still_found_by_its_old_address(store):
    store.db.execute(
        "INSERT INTO feeds (url, title, created_at) VALUES ('https://ana.example/rss.xml#top', 'old', '2025-01-01')"
    )
    assert store.get_feed("https://ana.example/rss.xml#top").title == "old"
    store.add_feed("https://ana.example/rss.xml#top")  # follows the existing feed, not a second one
    assert [sub.feed.url for sub in store.list_subscriptions()] == ["https://ana.example/rss.xml#top"]


def test_the_read_helper_refuses_a_write_before_running_it(store):
    store.add_feed("https://ada.example/feed.xml")
    with pytest.raises(ValueError, match="not a read"):
        store._all("UPDATE feeds SET title = 'L''été'")
    assert store._all("SELECT title FROM feeds") == [{"title": None}]
    assert store._value("  with t AS (SELECT 1 AS one) SELECT one FROM t") == 1
