"""``reader backup`` and ``reader restore``: a whole copy while others write; never a restore under a running reader."""

import fcntl
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from reader.models import FeedSource
from reader.store import LOCAL_USER, DatabaseInUseError, Store
from reader.store.backup import lock_path

ENV = {**os.environ, "READER_PARSE_WORKERS": "0", "READER_OPML": ""}
BATCH = 40  # feeds per transaction of the writer


def reader(db: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reader.cli", "--db", str(db), *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def sources(start: int, n: int) -> list[FeedSource]:
    return [
        FeedSource(f"https://carnet{i}.example/feed", f"Carnet n°{i} « l'été » & #{i}", f"https://carnet{i}.example/")
        for i in range(start, start + n)
    ]


def feed_titles(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT title FROM subscriptions ORDER BY id")]
    finally:
        conn.close()


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "data" / "reader.sqlite"
    store = Store.open(path).for_user(LOCAL_USER)
    store.add_feeds(sources(0, BATCH))
    store.close()
    return path


def test_a_backup_taken_while_another_process_writes_is_whole_and_consistent(db, tmp_path):
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, 'tests'); import test_backup as t; t.keep_adding(sys.argv[1])",
            str(db),
        ],
        cwd=Path(__file__).resolve().parent.parent,
        env=ENV,
    )
    copies = []
    try:
        time.sleep(0.5)
        for n in range(4):
            target = tmp_path / f"copy{n}.sqlite"
            done = reader(db, "backup", str(target))
            assert done.returncode == 0, done.stderr
            assert "integrity ok" in done.stdout and str(target) in done.stdout
            copies.append(target)
    finally:
        writer.terminate()
        writer.wait(timeout=30)
    counts = []
    for copy in copies:
        # One self-contained file: no WAL beside it, readable on its own, every transaction whole.
        assert not Path(f"{copy}-wal").exists()
        conn = sqlite3.connect(copy)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        titles = feed_titles(copy)
        assert len(titles) % BATCH == 0, f"{copy}: {len(titles)} feeds, half a transaction"
        assert titles[:1] == ["Carnet n°0 « l'été » & #0"]
        counts.append(len(titles))
    assert counts == sorted(counts) and counts[-1] > counts[0], counts  # the writer went on meanwhile


def keep_adding(path: str) -> None:
    """The writer of the test above, run as its own process: a batch of feeds per transaction, forever."""
    store = Store.open(path).for_user(LOCAL_USER)
    start = BATCH
    while True:
        store.add_feeds(sources(start, BATCH))
        start += BATCH


def test_a_backup_into_a_directory_is_named_by_its_time_and_restore_brings_it_back(db, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    done = reader(db, "backup", str(folder))
    assert done.returncode == 0, done.stderr
    (copy,) = folder.glob("causerie-*.sqlite")
    assert "40 subscriptions" in done.stdout

    store = Store.open(db).for_user(LOCAL_USER)
    store.add_feeds(sources(100, 5))
    store.close()
    assert len(feed_titles(db)) == 45

    restored = reader(db, "restore", str(copy))
    assert restored.returncode == 0, restored.stderr
    assert len(feed_titles(db)) == 40
    kept = db.with_name("reader.sqlite.before-restore")
    assert f"kept as {kept}" in restored.stdout
    assert len(feed_titles(kept)) == 45  # what was replaced is not lost
    assert not list(db.parent.glob(".*restoring*"))
    reopened = Store.open(db).for_user(LOCAL_USER)
    assert reopened.list_subscriptions()[0].title == "Carnet n°0 « l'été » & #0"
    reopened.close()


def test_a_restore_onto_a_new_machine_needs_no_database_there(db, tmp_path):
    copy = tmp_path / "copy.sqlite"
    assert reader(db, "backup", str(copy)).returncode == 0
    elsewhere = tmp_path / "new-server" / "reader.sqlite"
    done = reader(elsewhere, "restore", str(copy))
    assert done.returncode == 0, done.stderr
    assert "kept as" not in done.stdout
    assert len(feed_titles(elsewhere)) == 40


def test_backup_refuses_to_write_over_the_database_itself(db):
    done = reader(db, "backup", str(db))
    assert done.returncode == 1 and "is the database itself" in done.stderr
    assert len(feed_titles(db)) == 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_restore_is_refused_while_reader_serve_runs_and_changes_nothing(db, tmp_path):
    copy = tmp_path / "copy.sqlite"
    assert reader(db, "backup", str(copy)).returncode == 0
    store = Store.open(db).for_user(LOCAL_USER)
    store.add_feeds(sources(100, 1))
    store.close()
    before = db.read_bytes()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "reader.cli", "--db", str(db), "serve", "--no-fetch", "--port", str(port)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "reader serve did not start"
                time.sleep(0.1)
        refused = reader(db, "restore", str(copy))
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert refused.returncode == 1
    assert "is in use" in refused.stderr and "stop it, then restore" in refused.stderr
    assert db.read_bytes() == before
    assert not db.with_name("reader.sqlite.before-restore").exists()
    assert len(feed_titles(db)) == 41
    # Once it has stopped, the same restore goes through.
    assert reader(db, "restore", str(copy)).returncode == 0
    assert len(feed_titles(db)) == 40


def test_nothing_opens_the_database_while_a_restore_holds_it(db):
    fd = os.open(lock_path(db), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(DatabaseInUseError, match="being restored"):
            Store.open(db)
        done = reader(db, "list")
        assert done.returncode == 1 and "being restored" in done.stderr
    finally:
        os.close(fd)
    Store.open(db).close()


def newer_version(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
        " VALUES ('reader', 'm999_from_the_future', 'x')"
    )
    conn.commit()
    conn.close()


def damaged(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for offset in range(4096 + 100, len(data), 4096):  # scribble over every page after the first
        data[offset : offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("spoil", "says"),
    [
        (lambda path: path.write_text("<opml version='2.0'/>"), "cannot be read as an SQLite database (file is not"),
        (lambda path: path.write_bytes(b""), "not one of Causerie's"),
        (newer_version, "made by a newer version of Causerie (schema m999_from_the_future)"),
        (damaged, "is damaged"),
    ],
    ids=["not-sqlite", "empty", "newer", "damaged"],
)
def test_restore_refuses_what_is_not_a_whole_causerie_backup(db, tmp_path, spoil, says):
    bad = tmp_path / "bad.sqlite"
    assert reader(db, "backup", str(bad)).returncode == 0
    spoil(bad)
    before = db.read_bytes()
    done = reader(db, "restore", str(bad))
    assert done.returncode == 1, done.stdout
    assert says in done.stderr and "Traceback" not in done.stderr
    assert db.read_bytes() == before
    assert not db.with_name("reader.sqlite.before-restore").exists()


def test_a_plain_sqlite_file_is_not_taken_for_a_backup(db, tmp_path):
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()
    done = reader(db, "restore", str(other))
    assert done.returncode == 1 and "not one of Causerie's" in done.stderr


def test_the_in_use_lock_is_shared_by_every_open_store(db):
    first = Store.open(db)
    second = Store.open(db)  # two processes (or requests) using the database at once is normal
    first.close()
    second.close()
    fd = os.open(lock_path(db), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # once all are closed, nobody holds it
    finally:
        os.close(fd)


def test_a_backup_made_by_an_older_version_is_migrated_as_it_is_restored(db):
    old = Path(__file__).parent / "data" / "schemas" / "m001_create_schema.sqlite"
    before = old.read_bytes()
    done = reader(db, "restore", str(old))
    assert done.returncode == 0, done.stderr
    assert old.read_bytes() == before  # the backup itself is only read
    conn = sqlite3.connect(db)
    names = [row[0] for row in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY rowid")]
    conn.close()
    assert names[0] == "m001_create_schema" and len(names) > 1
    assert sorted(feed_titles(db)) == ["Bruno écrit", "Chloé", "Le carnet d'Ana"]
