"""People as the main object: their lifetime, merge/move/split/delete, activity, and mutes."""

import sqlite3
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

import pytest

from reader.errors import FeedNotFoundError, InvalidInputError, PersonNotFoundError
from reader.models import FeedSource
from reader.update import update_feeds

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ANA = "https://ana.example/feed.xml"
ANA_NOTES = "https://ana.example/notes/feed.xml"
BO = "https://bo.example/rss"


def feed(*items: tuple, title: str = "Blog") -> str:
    """RSS with items (guid, title, date[, text]); the text defaults to the title."""
    body = "".join(
        f"<item><guid isPermaLink='false'>{guid}</guid><title>{escape(name)}</title>"
        f"<link>https://blog.example/{guid}</link><description>{escape(text[0] if text else name)}</description>"
        f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate></item>"
        for guid, name, when, *text in items
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>{title}</title>{body}</channel></rss>"


def fetched(store, config, fetch, responses: dict[str, str]) -> None:
    fetch.responses.update(responses)
    results = list(update_feeds(store, config, fetch=fetch, now=lambda: NOW))
    assert all(r.error is None for r in results), results


def person_of(store, url):
    return store.get_person(store.get_subscription(url).person_id)


def add_channel(store, person_id, kind, value, *, verified=False):
    """A channel row as discovery or the user would leave it (the channel API is tested in test_channels)."""
    return store.db.execute(
        "INSERT INTO channels (user_id, person_id, kind, value, source, found_at, is_verified)"
        " VALUES (?, ?, ?, ?, 'user', '2026-01-01T00:00:00+00:00', ?)",
        [store.user_id, person_id, kind, value, int(verified)],
    ).lastrowid


def add_conversation(store, person_id, title):
    store.db.execute(
        "INSERT INTO conversations (user_id, person_id, entry_title, channel_kind, started_at, updated_at)"
        " VALUES (?, ?, ?, 'email', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
        [store.user_id, person_id, title],
    )


def conversations_of(store, person_id):
    rows = store.db.execute("SELECT entry_title FROM conversations WHERE person_id = ? ORDER BY id", [person_id])
    return [row[0] for row in rows]


# -- editing --------------------------------------------------------------------


def test_a_person_keeps_a_name_home_page_picture_and_notes(store):
    person = store.add_person("  Zoé   Lefèvre ", home_url="zoe.example/blog")
    assert (person.name, person.home_url, person.feed_count) == ("Zoé Lefèvre", "https://zoe.example/blog", 0)

    updated = store.update_person(
        person.id, avatar_url="https://zoe.example/me.jpg", notes="Rencontrée à « Pas Sage en Seine »\r\nsuper"
    )
    assert updated.avatar_url == "https://zoe.example/me.jpg"
    assert updated.notes == "Rencontrée à « Pas Sage en Seine »\nsuper"
    assert store.update_person(person.id, home_url="").home_url is None  # empty clears


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "ftp://zoe.example/", "https://"])
def test_a_person_url_must_be_http(store, bad):
    person = store.add_person("Zoé")
    with pytest.raises(InvalidInputError):
        store.update_person(person.id, home_url=bad)
    with pytest.raises(InvalidInputError):
        store.update_person(person.id, avatar_url=bad)


def test_a_person_needs_a_name(store):
    with pytest.raises(InvalidInputError):
        store.add_person("   ")


# -- merge, move, split, delete ---------------------------------------------------------------


def test_merging_joins_feeds_channels_notes_and_conversations(store):
    store.add_feeds([FeedSource(ANA, "Ana"), FeedSource(ANA_NOTES, "Ana’s notes")])
    ana, notes = person_of(store, ANA), person_of(store, ANA_NOTES)
    store.update_person(ana.id, notes="Poète")
    store.update_person(notes.id, notes="Écrit aussi des notes", home_url="https://ana.example/")
    add_channel(store, ana.id, "email", "ana@ana.example")
    add_channel(store, notes.id, "email", "ana@ana.example", verified=True)  # the same channel, verified here
    add_channel(store, notes.id, "matrix", "@ana:matrix.example")
    add_conversation(store, ana.id, "Re: Premier")
    add_conversation(store, notes.id, "Re: Second")

    merged = store.merge_people(ana.id, notes.id)

    assert (merged.name, merged.feed_count, merged.home_url) == ("Ana", 2, "https://ana.example/")
    assert merged.notes == "Poète\n\nÉcrit aussi des notes"
    channels = store.db.execute(
        "SELECT kind, value, is_verified FROM channels WHERE person_id = ? ORDER BY kind", [ana.id]
    )
    assert [tuple(row) for row in channels] == [("email", "ana@ana.example", 1), ("matrix", "@ana:matrix.example", 0)]
    assert conversations_of(store, ana.id) == ["Re: Premier", "Re: Second"]
    with pytest.raises(PersonNotFoundError):
        store.get_person(notes.id)
    assert {s.person_id for s in store.list_subscriptions()} == {ana.id}


def test_a_person_cannot_be_merged_with_themselves_or_someone_unknown(store):
    ana = person_of(store, store.add_feed(ANA).feed.url)
    with pytest.raises(InvalidInputError):
        store.merge_people(ana.id, ana.id)
    with pytest.raises(PersonNotFoundError):
        store.merge_people(ana.id, 999)


def test_moving_a_feed_to_another_person_and_splitting_it_off_again(store):
    store.add_feeds([FeedSource(ANA, "Ana"), FeedSource(BO, "Bo")])
    ana, bo = person_of(store, ANA), person_of(store, BO)
    bo_feed = store.get_subscription(BO).feed.id

    store.move_feed_to_person(bo_feed, ana.id)
    assert store.get_person(ana.id).feed_count == 2
    assert store.get_person(bo.id).feed_count == 0  # Bo stays, with no feed

    alone = store.split_feed(bo_feed)
    assert (alone.name, alone.feed_count) == ("Bo", 1)
    assert store.get_person(ana.id).feed_count == 1
    with pytest.raises(FeedNotFoundError):
        store.split_feed(12345)


def test_deleting_a_person_unsubscribes_their_feeds_and_forgets_them(store):
    store.add_feeds([FeedSource(ANA, "Ana"), FeedSource(ANA_NOTES, "Ana"), FeedSource(BO, "Bo")])
    ana, notes = person_of(store, ANA), person_of(store, ANA_NOTES)
    store.merge_people(ana.id, notes.id)
    add_channel(store, ana.id, "email", "ana@ana.example")
    add_conversation(store, ana.id, "Re: Premier")

    assert sorted(store.delete_person(ana.id)) == [ANA, ANA_NOTES]

    assert [s.feed.url for s in store.list_subscriptions()] == [BO]
    assert store.db.execute("SELECT count(*) FROM channels").fetchone()[0] == 0
    assert store.db.execute("SELECT count(*) FROM conversations").fetchone()[0] == 0
    with pytest.raises(PersonNotFoundError):
        store.delete_person(ana.id)


def test_another_users_people_cannot_be_changed(store):
    ana = person_of(store, store.add_feed(ANA).feed.url)
    bea = store.for_user(store.add_user("bea").id)
    mine = bea.add_person("Moi")
    for call in (
        lambda: bea.get_person(ana.id),
        lambda: bea.update_person(ana.id, name="x"),
        lambda: bea.merge_people(mine.id, ana.id),
        lambda: bea.merge_people(ana.id, mine.id),
        lambda: bea.delete_person(ana.id),
        lambda: bea.mute_person(ana.id),
        lambda: bea.move_feed_to_person(store.get_subscription(ANA).feed.id, mine.id),
    ):
        with pytest.raises((PersonNotFoundError, FeedNotFoundError)):
            call()
    assert store.get_person(ana.id).feed_count == 1


# -- activity -------------------------------------------------------------------


def test_the_people_overview_counts_posts_by_week_without_ranking(store, config, fetch):
    store.add_feeds([FeedSource(ANA, "Ana"), FeedSource(BO, "Bo"), FeedSource("https://quiet.example/feed", "Quiet")])
    # NOW is a Monday noon: weeks run Monday to Sunday.
    ago = [timedelta(hours=1), timedelta(hours=2), timedelta(days=1), timedelta(days=99), timedelta(days=400)]
    fetched(
        store,
        config,
        fetch,
        {
            ANA: feed(*[(f"a{i}", f"Ana {i}", NOW - delta) for i, delta in enumerate(ago)], title="Ana"),
            BO: feed(("b1", "Bo", NOW - timedelta(days=30)), title="Bo"),
            "https://quiet.example/feed": feed(title="Quiet"),
        },
    )

    by_name = store.list_people_page(NOW).people
    assert [a.person.name for a in by_name] == ["Ana", "Bo", "Quiet"]
    ana, bo, quiet = by_name
    assert NOW.weekday() == 0
    # This week (Monday) twice, last week (Sunday) once, 99 days ago in the week 15 weeks back.
    assert len(ana.weeks) == 52 and ana.weeks[-1] == 2 and ana.weeks[-2] == 1 and ana.weeks[-16] == 1
    assert sum(ana.weeks) == 4  # the post of 400 days ago is before the strip
    assert ana.posts_90_days == 3 and bo.posts_90_days == 1 and quiet.posts_90_days == 0
    assert ana.last_post_at == NOW - timedelta(hours=1) and quiet.last_post_at is None

    latest = store.list_people_page(NOW, order="latest").people
    assert [a.person.name for a in latest] == ["Ana", "Bo", "Quiet"]  # never-posted last, not hidden
    with pytest.raises(InvalidInputError):
        store.list_people_page(NOW, order="score")


def test_posted_after_a_long_silence(store, config, fetch):
    back, steady, new = "https://back.example/feed", "https://steady.example/feed", "https://new.example/feed"
    store.add_feeds([FeedSource(back, "Back"), FeedSource(steady, "Steady"), FeedSource(new, "New")])
    fetched(
        store,
        config,
        fetch,
        {
            back: feed(
                ("r", "De retour", NOW - timedelta(days=3)), ("o", "Old", NOW - timedelta(days=200)), title="Back"
            ),
            steady: feed(*[(f"s{w}", "Steady", NOW - timedelta(weeks=w, days=1)) for w in range(12)], title="Steady"),
            new: feed(("n", "Hello", NOW - timedelta(days=2)), title="New"),
        },
    )
    returned = store.list_people_page(NOW, returned_only=True).people
    assert [a.person.name for a in returned] == ["Back"]


def test_the_people_overview_filters_by_group(store):
    store.add_feeds(
        [FeedSource(ANA, "Ana", group_path=("Amis", "Poètes")), FeedSource(BO, "Bo", group_path=("Travail",))]
    )
    [amis] = [g for g in store.list_groups() if g.path == ("Amis",)]
    assert [a.person.name for a in store.list_people_page(NOW, group_id=amis.id).people] == ["Ana"]


# -- dictionary order -----------------------------------------------------------

FRENCH = ["Zoé", "Émilie", "éric", "Eric", "Œdipe", "« Le Monde »", "Ángel", "zack"]
# "éric" before "Eric": the same key, and éric was added first (ties go by id).
IN_ORDER = ["Ángel", "Émilie", "éric", "Eric", "« Le Monde »", "Œdipe", "zack", "Zoé"]


def keys_follow_names(store) -> bool:
    from reader.collation import sort_key

    rows = store.db.execute("SELECT name, sort_name FROM people").fetchall()
    return bool(rows) and all(key == sort_key(name) for name, key in rows)


def test_people_are_listed_in_dictionary_order_ties_by_id(store):
    for name in FRENCH:
        store.add_person(name)
    assert [p.name for p in store.list_people()] == IN_ORDER
    assert [p.name for p in store.list_people_names(3)] == IN_ORDER[:3]  # the sidebar's first names
    assert [a.person.name for a in store.list_people_page(NOW).people] == IN_ORDER
    plan = " ".join(
        row[3]
        for row in store.db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM people WHERE user_id = 1 ORDER BY sort_name, id LIMIT 60"
        )
    )
    assert "people_sort" in plan and "TEMP B-TREE" not in plan  # a walk of the index, no sort


def test_every_way_a_name_is_written_keeps_the_sort_key(store, config, fetch, tmp_path):
    from reader.store import LOCAL_USER, Store
    from reader.userdata import import_user_data, write_user_data

    # Named from the OPML title, then from the feed at its first fetch (store.feeds).
    store.add_feeds([FeedSource(ANA, "zz ana"), FeedSource(ANA_NOTES, "zz notes"), FeedSource(BO, "zz bo")])
    fetched(store, config, fetch, {ANA: feed(title="Émilie"), ANA_NOTES: feed(title="« Œdipe »"), BO: feed()})
    assert [p.name for p in store.list_people()] == ["Blog", "Émilie", "« Œdipe »"]
    added = store.add_person("Zoé")
    store.rename_person(added.id, "Ángel")
    store.update_person(person_of(store, BO).id, name="éric")
    store.split_feed(store.get_subscription(ANA_NOTES).feed.id)  # a person named after the feed
    assert keys_follow_names(store)
    assert [p.name for p in store.list_people()] == ["Ángel", "Émilie", "éric", "« Œdipe »", "zz notes"]

    elsewhere = Store.open(tmp_path / "elsewhere.sqlite").for_user(LOCAL_USER)
    try:
        import_user_data(elsewhere, write_user_data(store))
        assert keys_follow_names(elsewhere)
        assert [p.name for p in elsewhere.list_people()] == [p.name for p in store.list_people()]
    finally:
        elsewhere.close()


# -- mutes ----------------------------------------------------------------------


@pytest.fixture
def timeline(store, config, fetch):
    store.add_feeds([FeedSource(ANA, "Ana"), FeedSource(BO, "Bo")])
    fetched(
        store,
        config,
        fetch,
        {
            ANA: feed(
                ("a1", "Le jardin en mai", NOW - timedelta(hours=1)),
                ("a2", "Élection municipale : mon avis", NOW - timedelta(hours=3)),
                # Mentions the election in its text only.
                ("a3", "Recette", NOW - timedelta(hours=5), "On y parle de l’élection, un peu."),
            ),
            BO: feed(("b1", "Notes du mardi", NOW - timedelta(hours=2)), ("b2", "Photos", NOW - timedelta(hours=4))),
        },
    )
    return store


def titles(items):
    return [item.entry.title for item in items]


def test_muting_a_person_hides_them_from_timelines_but_not_from_their_page(timeline):
    bo = person_of(timeline, BO)
    before = titles(timeline.list_timeline())
    timeline.mute_person(bo.id)

    assert titles(timeline.list_timeline()) == [t for t in before if t not in ("Notes du mardi", "Photos")]
    assert titles(timeline.list_timeline(person_id=bo.id)) == ["Notes du mardi", "Photos"]
    assert timeline.get_person(bo.id).is_muted
    timeline.mute_person(bo.id, False)
    assert titles(timeline.list_timeline()) == before


def test_muting_a_phrase_hides_matching_titles_and_texts_and_never_reorders(timeline):
    before = titles(timeline.list_timeline())
    mute = timeline.add_mute("  ÉLECTION! ")
    assert mute.phrase == "ÉLECTION"

    after = titles(timeline.list_timeline())
    assert after == [t for t in before if t not in ("Élection municipale : mon avis", "Recette")]
    assert [m.phrase for m in timeline.list_mutes()] == ["ÉLECTION"]

    timeline.remove_mute(mute.id)
    assert titles(timeline.list_timeline()) == before


def test_a_muted_post_is_found_by_search_only_when_asked(timeline):
    timeline.add_mute("élection municipale")
    assert titles(timeline.search("municipale")) == []
    assert titles(timeline.search("municipale", show_muted=True)) == ["Élection \x02municipale\x03 : mon avis"]


def test_mark_all_read_leaves_muted_posts_alone(timeline):
    timeline.add_mute("jardin")
    assert timeline.mark_all_read() == 4
    assert [i.is_read for i in timeline.list_timeline(hide_muted=False) if i.entry.title == "Le jardin en mai"] == [
        False
    ]


def test_mutes_refuse_empty_phrases_and_unknown_ids(timeline):
    from reader.errors import NotFoundError

    with pytest.raises(InvalidInputError):
        timeline.add_mute(" ?! ")
    with pytest.raises(NotFoundError):
        timeline.remove_mute(999)
    assert timeline.add_mute("jardin").id == timeline.add_mute("jardin").id  # muting twice is once


# -- OPML and people ----------------------------------------------------------------


def people_of(store) -> dict[str, list[str]]:
    """Person name → their feed URLs, sorted."""
    found: dict[str, list[str]] = {}
    for sub in store.list_subscriptions():
        found.setdefault(sub.person_name, []).append(sub.feed.url)
    return {name: sorted(urls) for name, urls in sorted(found.items())}


def test_opml_import_groups_feeds_of_one_site_and_person_folders(store):
    from reader.opml import read_opml

    document = read_opml(
        """<?xml version="1.0" encoding="utf-8"?>
        <opml version="2.0" xmlns:causerie="urn:causerie:opml"><head><title>Abonnements</title></head><body>
          <outline text="Amis">
            <outline text="Zoé" causerie:person="Zoé Lefèvre">
              <outline text="Carnet" xmlUrl="https://zoe.example/feed.xml"/>
              <outline text="Photos" xmlUrl="https://photos.example/zoe/rss"/>
            </outline>
            <outline text="Le blog d’Ana" xmlUrl="https://ana.example/feed" htmlUrl="https://www.ana.example/"/>
            <outline text="Ana, commentaires" xmlUrl="https://ana.example/comments/feed" htmlUrl="http://ana.example"/>
          </outline>
          <outline text="Medium A" xmlUrl="https://medium.example/feed/@a" htmlUrl="https://medium.example/@a"/>
          <outline text="Medium B" xmlUrl="https://medium.example/feed/@b" htmlUrl="https://medium.example/@b"/>
        </body></opml>""".encode()
    )
    report = store.add_feeds(document.sources)

    assert report.added == 6
    assert people_of(store) == {
        "Le blog d’Ana": ["https://ana.example/comments/feed", "https://ana.example/feed"],
        "Medium A": ["https://medium.example/feed/@a"],
        "Medium B": ["https://medium.example/feed/@b"],
        "Zoé Lefèvre": ["https://photos.example/zoe/rss", "https://zoe.example/feed.xml"],
    }
    # The person folder is not a group: Zoé's feeds are filed in "Amis".
    assert {s.feed.url: s.group_path for s in store.list_subscriptions()}["https://zoe.example/feed.xml"] == ("Amis",)
    assert person_of(store, "https://ana.example/feed").home_url == "https://www.ana.example/"


def test_opml_export_then_import_keeps_people(store, config):
    from reader.opml import read_opml, write_opml
    from reader.store import LOCAL_USER, Store

    store.add_feeds(
        [
            FeedSource(ANA, "Ana", group_path=("Amis",)),
            FeedSource(ANA_NOTES, "Carnet", group_path=("Notes",)),
            FeedSource(BO, "Journal"),
            FeedSource("https://other.example/feed", "Journal"),  # another person, also "Journal"
        ]
    )
    ana = person_of(store, ANA)
    store.merge_people(ana.id, person_of(store, ANA_NOTES).id)
    store.rename_person(ana.id, "Ana « la Poète » & Cie")
    exported = people_of(store)

    other = Store.open(config.db_path.replace(".sqlite", "-other.sqlite")).for_user(LOCAL_USER)
    try:
        other.add_feeds(read_opml(write_opml(store.list_subscriptions())).sources)
        assert people_of(other) == exported
        assert len(other.list_people()) == 3  # the two "Journal" people stay apart
        # The names came from the file: the first fetch does not rename them.
        assert not other.db.execute("SELECT count(*) FROM people WHERE is_auto_named = 1").fetchone()[0]
        again = other.add_feeds(read_opml(write_opml(store.list_subscriptions())).sources)
        assert (again.added, again.existing) == (0, 4) and len(other.list_people()) == 3
    finally:
        other.close()


def test_a_new_feed_from_a_known_home_page_joins_its_person(store):
    ana = store.add_person("Ana", home_url="https://ana.example/")
    sub = store.add_feed(ANA_NOTES, site_url="https://www.ana.example")
    assert sub.person_id == ana.id


def test_a_bad_opml_file_imports_no_people(store):
    sources = [FeedSource(ANA, "Ana", person_key="person:1", person_name="Ana"), FeedSource(None, "broken")]
    with pytest.raises(sqlite3.IntegrityError):
        store.add_feeds(sources)  # type: ignore[list-item]
    assert store.list_people() == [] and store.list_subscriptions() == []


# -- channels ---------------------------------------------------------------------


def test_typed_channels_are_parsed_ordered_private_first_and_one_is_preferred(store):
    from reader.channels import InvalidChannelError

    ana = store.add_person("Ana")
    store.add_channel(ana.id, "bluesky", "@ana.bsky.social")
    mail = store.add_channel(ana.id, "email", " Ana@Ana.Example ", label="perso")
    signal = store.add_channel(ana.id, "signal", "+33 6 12 34 56 78")
    with pytest.raises(InvalidChannelError, match="not a Matrix address"):
        store.add_channel(ana.id, "matrix", "ana@matrix.org")

    assert [(c.kind, c.value) for c in store.list_channels(ana.id)] == [
        ("email", "Ana@ana.example"),
        ("signal", "+33612345678"),
        ("bluesky", "ana.bsky.social"),
    ]
    assert (mail.source, mail.label, mail.is_verified) == ("user", "perso", False)
    store.set_preferred_channel(ana.id, signal.id)
    assert [c.kind for c in store.list_channels(ana.id) if c.is_preferred] == ["signal"]
    assert store.get_person(ana.id).preferred_channel_id == signal.id

    store.remove_channel(signal.id)
    assert store.get_person(ana.id).preferred_channel_id is None
    assert "signal" not in [c.kind for c in store.list_channels(ana.id)]


def test_editing_a_channel_makes_it_the_users_and_refuses_bad_values(store):
    from reader.channels import InvalidChannelError
    from reader.models import FoundChannel

    ana = store.add_person("Ana")
    store.record_found_channels(
        ana.id, [FoundChannel("email", "old@ana.example", "feed", "https://ana.example/feed")], NOW
    )
    [found] = store.list_channels(ana.id)
    assert (found.source, found.source_url) == ("feed", "https://ana.example/feed")

    edited = store.update_channel(found.id, text="new@ana.example", label="travail")
    assert (edited.value, edited.source, edited.label) == ("new@ana.example", "user", "travail")
    with pytest.raises(InvalidChannelError):
        store.update_channel(found.id, text="not an address")
    store.add_channel(ana.id, "email", "other@ana.example")
    with pytest.raises(InvalidInputError, match="already listed"):
        store.update_channel(found.id, text="other@ana.example")


def test_channels_belong_to_their_user(store):
    from reader.errors import NotFoundError

    ana = store.add_person("Ana")
    channel = store.add_channel(ana.id, "email", "ana@ana.example")
    bea = store.for_user(store.add_user("bea").id)
    mine = bea.add_person("Moi")
    for call in (
        lambda: bea.get_channel(channel.id),
        lambda: bea.remove_channel(channel.id),
        lambda: bea.update_channel(channel.id, label="x"),
        lambda: bea.set_preferred_channel(mine.id, channel.id),
        lambda: bea.list_channels(ana.id),
        lambda: bea.add_channel(ana.id, "email", "x@y.example"),
    ):
        with pytest.raises(NotFoundError):
            call()
    assert [c.value for c in store.list_channels(ana.id)] == ["ana@ana.example"]


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 6, 1, 0, 0, tzinfo=UTC),  # a Monday, midnight
        datetime(2026, 5, 31, 23, 59, 59, tzinfo=UTC),  # the Sunday before
        datetime(1970, 1, 5, tzinfo=UTC),
        datetime(2024, 2, 29, 12, tzinfo=UTC),
        datetime(2031, 12, 31, 23, 0, tzinfo=UTC),
    ],
)
def test_weeks_are_counted_alike_in_sql_and_in_python(store, moment):
    from reader.store.people import WEEK_SQL, week_number

    [row] = store.db.execute(f"SELECT {WEEK_SQL.format(column='?')}", [moment.isoformat()]).fetchall()
    assert row[0] == week_number(moment)


def test_the_activity_cache_is_used_until_a_fetch_stores_something(store, config, fetch):
    # Only "posted after a long silence" needs everyone's activity: that filter keeps it between requests.
    from reader.store.people import ActivityCache

    store.add_feed(ANA, title="Ana")
    old = ("a0", "Zéro", NOW - timedelta(days=200))
    fetched(store, config, fetch, {ANA: feed(("a1", "Un", NOW - timedelta(hours=2)), old, title="Ana")})
    cache = ActivityCache()
    first = store.list_people_page(NOW, returned_only=True, cache=cache)
    assert store.list_people_page(NOW, returned_only=True, cache=cache) == first and cache._complete
    held = cache._feeds

    fetch.responses[ANA] = feed(
        ("a1", "Un", NOW - timedelta(hours=2)), ("a2", "Deux", NOW - timedelta(hours=1)), old, title="Ana"
    )
    list(update_feeds(store, config, fetch=fetch, now=lambda: NOW + timedelta(hours=1)))
    [ana] = store.list_people_page(NOW, returned_only=True, cache=cache).people
    assert cache._feeds is not held and ana.posts_90_days == 2


def test_a_page_of_people_counts_the_activity_of_its_people_only(store, config, fetch):
    from reader.store.people import ActivityCache

    store.add_feeds([FeedSource(ANA, "Ana"), FeedSource(ANA_NOTES, "Ana’s notes"), FeedSource(BO, "Bo")])
    ana_notes = person_of(store, ANA_NOTES)
    store.merge_people(person_of(store, ANA).id, ana_notes.id)
    fetched(
        store,
        config,
        fetch,
        {
            ANA: feed(("a1", "Un", NOW - timedelta(days=1)), title="Ana"),
            ANA_NOTES: feed(("n1", "Note", NOW - timedelta(days=2)), title="Ana"),
            BO: feed(("b1", "Bo", NOW - timedelta(days=3)), title="Bo"),
        },
    )
    asked = []
    counted = store.feed_activity

    def spy(now, feed_ids=None):
        asked.append(sorted(feed_ids))
        return counted(now, feed_ids)

    store.feed_activity = spy
    cache = ActivityCache()
    first = store.list_people_page(NOW, limit=1, cache=cache)
    [ana] = first.people
    ana_feeds = sorted(sub.feed.id for sub in store.list_subscriptions(person_id=ana.person.id))
    assert asked == [ana_feeds] and len(ana_feeds) == 2
    store.list_people_page(NOW, limit=1, after=first.last, cache=cache)
    store.list_people_page(NOW, limit=1, cache=cache)  # counted already: kept until a fetch stores something
    assert asked == [ana_feeds, [store.get_subscription(BO).feed.id]]
    assert (ana.person.feed_count, ana.posts_90_days, ana.weeks[-1]) == (2, 2, 0)
    everyone = counted(NOW)  # the same counts as when every feed's are taken at once
    assert ana.weeks == tuple(map(sum, zip(*(everyone.feeds[f].strip for f in ana_feeds), strict=True)))
