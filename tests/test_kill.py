"""kill -9 in the middle of a write loses nothing: an import, a merge of people, a fetch.

Each write runs in a process of its own that SIGKILLs itself at a chosen
statement inside the write's transaction (tests/kill_midway.py), so the kill
lands where it hurts every time, not when a timer happens to. The database
then opens as it was before the write, to the last row: read state, people,
notes, channels and conversations included; and the same write, done again,
completes.
"""

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from fakes import rss

from reader.store import LOCAL_USER, Store

HERE = Path(__file__).parent
FIXTURE = HERE / "data" / "schemas" / "m004_schedule_and_lease.sqlite"
ENV = {**os.environ, "READER_ALLOW_PRIVATE_ADDRESSES": "all", "READER_PARSE_WORKERS": "0", "READER_OPML": ""}


def snapshot(db: Path) -> dict[str, list[tuple]]:
    """Every row of every table, FTS shadow tables included."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: sorted(conn.execute(f'SELECT * FROM "{table}"'), key=repr) for table in tables}
    finally:
        conn.close()


def killed_midway(prefix: str, nth: int, *args: str) -> None:
    """Run tests/kill_midway.py and check that it died of SIGKILL, not of anything else."""
    process = subprocess.run(
        [sys.executable, str(HERE / "kill_midway.py"), prefix, str(nth), *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == -9, f"not killed at the {nth}th {prefix!r}: {process.returncode} {process.stderr}"


def reader(db: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "reader.cli", "--db", str(db), *args], env=ENV, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def db(tmp_path) -> Path:
    """A database with three French feeds, read and saved posts, a person with notes, a channel,
    a mute and a conversation (the last schema fixture), migrated to today's schema."""
    path = tmp_path / "reader.sqlite"
    shutil.copyfile(FIXTURE, path)
    Store.open(path).close()
    return path


def test_an_opml_import_killed_midway_imports_nothing_and_loses_nothing(db, tmp_path):
    body = "".join(
        f"<outline text={quoteattr(f'Carnet n°{i} « été » & co')} xmlUrl='https://h{i % 40}.example/{i}.xml'/>"
        for i in range(4000)
    )
    opml = tmp_path / "big.opml"
    opml.write_text(f"<?xml version='1.0' encoding='utf-8'?><opml version='2.0'><head/><body>{body}</body></opml>")
    before = snapshot(db)

    killed_midway("INSERT INTO subscriptions", 2000, "reader", "--db", str(db), "import", str(opml))

    assert snapshot(db) == before
    assert "imported 4000 feeds" in reader(db, "import", str(opml))
    assert len(snapshot(db)["subscriptions"]) == 4003


def test_a_merge_killed_midway_leaves_both_people_whole(db):
    store = Store.open(db).for_user(LOCAL_USER)
    people = {person.name: person for person in store.list_people()}
    ana, bruno = people["Ana Lefèvre"], people["Bruno écrit"]
    store.update_person(bruno.id, notes="Bruno : « à relancer » & rappeler")
    store.close()
    before = snapshot(db)

    # The last statement but one: feeds, channels and conversations have moved, the notes not yet.
    killed_midway("UPDATE people SET notes", 1, "merge", str(db), str(ana.id), str(bruno.id))

    assert snapshot(db) == before
    store = Store.open(db).for_user(LOCAL_USER)
    try:
        merged = store.merge_people(ana.id, bruno.id)
        assert (
            merged.notes == "Rencontrée à Lyon ; parle de « poésie » & de cafés.\n\nBruno : « à relancer » & rappeler"
        )
        assert sorted(person.name for person in store.list_people()) == ["Ana Lefèvre", "Chloé"]
        assert len(store.list_conversations(person_id=ana.id)) == 1
    finally:
        store.close()


def test_a_fetch_killed_midway_keeps_each_feed_whole_or_untouched(feed_server, tmp_path):
    db = tmp_path / "reader.sqlite"
    urls = [
        feed_server.route(
            f"/{name}.xml", body=rss(*[(f"{name}-{j}", f"Billet n°{j} « {name} »") for j in range(30)]).encode()
        )
        for name in ("ana", "bruno")
    ]
    opml = tmp_path / "two.opml"
    opml.write_text(
        "<opml version='2.0'><body>" + "".join(f"<outline xmlUrl='{url}'/>" for url in urls) + "</body></opml>"
    )
    reader(db, "import", str(opml))

    # The 45th entry is the 15th of the second feed stored: the first is committed, the second half-written.
    killed_midway("INSERT INTO entries ", 45, "reader", "--db", str(db), "fetch")

    conn = sqlite3.connect(db)
    per_feed = dict(
        conn.execute("SELECT f.url, count(e.id) FROM feeds f LEFT JOIN entries e ON e.feed_id = f.id GROUP BY f.id")
    )
    assert sorted(per_feed.values()) == [0, 30]
    assert conn.execute("SELECT count(*) FROM entries_fts").fetchone()[0] == 30
    conn.close()
    assert "0 errors" in reader(db, "fetch")
    snapshot(db)  # whole and consistent
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*), (SELECT count(*) FROM entries_fts) FROM entries").fetchone() == (60, 60)
    conn.close()


def test_a_data_import_killed_midway_imports_nothing(db, tmp_path):
    exported = tmp_path / "ana.json"
    reader(db, "export", "--format", "json", "-o", str(exported))
    fresh = tmp_path / "fresh.sqlite"
    Store.open(fresh).close()
    before = snapshot(fresh)

    killed_midway("INSERT INTO conversations", 1, "reader", "--db", str(fresh), "import", str(exported))

    assert snapshot(fresh) == before
    reader(fresh, "import", str(exported))
    store = Store.open(fresh).for_user(LOCAL_USER)
    try:
        (ana,) = [person for person in store.list_people() if person.name == "Ana Lefèvre"]
        assert [talk.note for talk in store.list_conversations(person_id=ana.id)] == ["Elle a répondu !"]
    finally:
        store.close()
