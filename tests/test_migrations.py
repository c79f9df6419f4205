"""Databases made by every earlier version open in this one, with everything the user kept.

The fixtures in tests/data/schemas were made by the code of their time (see
make_fixtures.py there): three French feeds fetched, read and saved state, and
from m002 on a renamed person with notes, a preferred channel, a mute and a
conversation.
"""

import shutil
import sqlite3
from pathlib import Path

import pytest

from reader.collation import sort_key
from reader.config import load_config
from reader.errors import StorageError
from reader.migrations import migrations
from reader.store import LOCAL_USER, Store, add_sql_functions

SCHEMAS = Path(__file__).parent / "data" / "schemas"
FIXTURES = sorted(SCHEMAS.glob("m*.sqlite"))


def schema(path: Path) -> set[tuple[str, str, str]]:
    conn = sqlite3.connect(path)
    try:
        return set(conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
    finally:
        conn.close()


def applied(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY rowid")]
    finally:
        conn.close()


def test_there_is_a_fixture_for_every_schema_version():
    # A new migration needs the database of the version before it (and of itself, for the next one).
    assert [path.stem for path in FIXTURES] == [migration.name for migration in migrations._migrations]


@pytest.fixture(params=FIXTURES, ids=lambda path: path.stem.split("_")[0])
def old_db(request, tmp_path) -> Path:
    path = tmp_path / "reader.sqlite"
    shutil.copyfile(request.param, path)
    return path


def test_an_old_database_is_migrated_to_the_schema_a_new_one_gets(old_db, tmp_path):
    Store.open(old_db).close()
    fresh = tmp_path / "fresh.sqlite"
    Store.open(fresh).close()
    assert applied(old_db) == [migration.name for migration in migrations._migrations]
    assert schema(old_db) == schema(fresh)
    conn = sqlite3.connect(old_db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()


def test_an_old_database_keeps_its_feeds_entries_and_read_state(old_db):
    store = Store.open(old_db).for_user(LOCAL_USER)
    try:
        assert sorted(sub.title for sub in store.list_subscriptions()) == ["Bruno écrit", "Chloé", "Le carnet d'Ana"]
        items = {item.entry.guid: item for item in store.list_timeline()}
        assert set(items) == {"a1", "a2", "b1", "b2", "c1"}
        assert items["a1"].entry.title == "L'été à Sète & « la mer »"
        state = {guid: (item.is_read, item.is_saved) for guid, item in items.items()}
        assert state == {
            "a1": (True, False),
            "a2": (False, False),
            "b1": (False, False),
            "b2": (True, True),
            "c1": (False, True),
        }
        assert [item.entry.guid for item in store.search("sete")] == ["a1"]  # accents folded, as before
    finally:
        store.close()


def test_people_notes_channels_mutes_and_conversations_survive(old_db):
    if "m001" in applied(old_db)[-1]:
        pytest.skip("m001 had no people data beyond names")
    store = Store.open(old_db).for_user(LOCAL_USER)
    try:
        (ana,) = [person for person in store.list_people() if person.name == "Ana Lefèvre"]
        assert ana.notes == "Rencontrée à Lyon ; parle de « poésie » & de cafés."
        (email,) = store.list_channels(ana.id)
        assert (email.kind, email.value) == ("email", "ana@ana.example")
        assert store.get_person(ana.id).preferred_channel_id == email.id
        assert [mute.phrase for mute in store.list_mutes()] == ["crypto"]
        (talk,) = store.list_conversations(person_id=ana.id)
        assert (talk.status, talk.note) == ("answered", "Elle a répondu !")
    finally:
        store.close()


def test_people_of_an_old_database_get_sort_keys_and_dictionary_order(old_db):
    conn = sqlite3.connect(old_db)
    add_sql_functions(conn)  # from m005 on, the schema's triggers call it
    with conn:  # names the old lower(name) put after "zack"
        for name in ("Émilie", "zack", "« Œdipe »"):
            conn.execute(
                "INSERT INTO people (user_id, name, created_at) VALUES (1, ?, '2026-01-15T10:00:00+00:00')", [name]
            )
    conn.close()
    store = Store.open(old_db).for_user(LOCAL_USER)
    try:
        rows = store.db.execute("SELECT name, sort_name FROM people").fetchall()
        assert [sort_name for _, sort_name in rows] == [sort_key(name) for name, _ in rows]
        names = [person.name for person in store.list_people()]
        assert names == sorted(names, key=sort_key)
        assert names.index("Chloé") < names.index("Émilie") < names.index("« Œdipe »") < names.index("zack")
        # The triggers work on the migrated file: a rename files the person under the new name.
        person = next(p for p in store.list_people() if p.name == "zack")
        store.rename_person(person.id, "Ève")
        assert store.get_person(person.id).sort_name == "eve"
    finally:
        store.close()


def test_the_web_pages_open_on_a_migrated_database(old_db):
    from reader.web import create_app

    config = load_config({}, db_path=str(old_db), parse_workers=0)
    client = create_app(config).test_client()
    store = Store.open(old_db).for_user(LOCAL_USER)
    person = store.list_people()[0]
    entry = store.list_timeline()[0].entry
    store.close()
    for path in ["/", "/people", f"/people/{person.id}", f"/entries/{entry.id}", "/saved", "/search?q=caf%C3%A9"]:
        response = client.get(path)
        assert response.status_code == 200, path
    assert "Sète &amp; « la mer »" in client.get("/").get_data(as_text=True)


def test_a_failed_migration_leaves_the_database_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "reader.sqlite"
    shutil.copyfile(SCHEMAS / "m001_create_schema.sqlite", path)
    before = schema(path)

    def m999_breaks_halfway(db):
        db.execute("CREATE TABLE half_done (x)")
        db.execute("ALTER TABLE feeds ADD COLUMN half INTEGER")
        raise RuntimeError("disk full, say")

    monkeypatch.setattr(migrations, "_migrations", [*migrations._migrations])
    migrations()(m999_breaks_halfway)
    with pytest.raises(StorageError, match="left exactly as it was: disk full, say") as error:
        Store.open(path)
    assert "m002_people_channels_mutes_conversations" in str(error.value)
    # Not only the failed migration: the ones before it in this start-up are undone too.
    assert applied(path) == ["m001_create_schema"]
    assert schema(path) == before

    monkeypatch.setattr(migrations, "_migrations", migrations._migrations[:-1])
    Store.open(path).close()  # once fixed, the same database migrates
    assert applied(path)[-1] == migrations._migrations[-1].name
