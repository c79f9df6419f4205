"""Make the databases of earlier schema versions that tests/test_migrations.py upgrades.

Each fixture is made by the code of its time, not by today's migrations stopped
early: a git worktree of the last commit with that schema imports an OPML file
and fetches three feeds from a loopback server, with that version's own
``reader`` command. The personal data of each version's schema (read and saved
state; notes, channels, a mute and a conversation from m002) is then written
with plain SQL into the tables that version made. Run from the repository root:

    python3 tests/data/schemas/make_fixtures.py [NAME ...]

(every version, or only those named) and commit the ``.sqlite`` files. A new
migration adds its predecessor here, and itself once it is committed.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from fakes import rss  # noqa: E402
from httpserver import FeedServer  # noqa: E402

from reader.store import add_sql_functions  # noqa: E402

# The last schema migration of each version -> the last commit made with it.
VERSIONS = {
    "m001_create_schema": "1d171e1^",
    "m002_people_channels_mutes_conversations": "806f8d4^",
    "m003_accounts": "84e7334^",
    "m004_schedule_and_lease": "04a2ad0",
    "m005_people_sort_name": "dbf743d",
    "m006_feeds_scheme_assumed": "c0787d6",
}

FEEDS = {
    "/ana.xml": ("Le carnet d'Ana", [("a1", "L'été à Sète & « la mer »"), ("a2", "Notes #2 : l'hiver")]),
    "/bruno.xml": ("Bruno écrit", [("b1", "Café, croissants & co"), ("b2", "Réponse à Ana")]),
    "/chloe.xml": ("Chloé", [("c1", "Un poème « sans titre »")]),
}


def opml(server: FeedServer) -> str:
    outlines = "".join(
        f"<outline type='rss' text=\"{title}\" xmlUrl='{server.url(path)}'/>" for path, (title, _) in FEEDS.items()
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><opml version='2.0'><head/><body>"
        f"<outline text='Amis'>{outlines}</outline></body></opml>"
    )


def make(name: str, commit: str, server: FeedServer, work: Path) -> None:
    tree = work / name
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit], check=True)
    try:
        db = work / f"{name}.sqlite"
        (work / "feeds.opml").write_text(opml(server), encoding="utf-8")
        env = {
            **os.environ,
            "PYTHONPATH": str(tree),
            "READER_PARSE_WORKERS": "0",
            "READER_ALLOW_PRIVATE_ADDRESSES": "all",
        }
        for args in (["import", str(work / "feeds.opml")], ["fetch"]):
            subprocess.run([sys.executable, "-m", "reader.cli", "--db", str(db), *args], env=env, check=True, cwd=tree)
        personal_data(db)
        target = HERE / f"{name}.sqlite"
        target.unlink(missing_ok=True)
        conn = sqlite3.connect(db)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute(f"VACUUM INTO '{target}'")
        conn.close()
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)


def personal_data(db: Path) -> None:
    conn = sqlite3.connect(db)
    add_sql_functions(conn)  # from m005 on, renaming a person runs a trigger that calls it
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    entry = dict(conn.execute("SELECT guid, id FROM entries").fetchall())
    now = "2026-01-15T10:00:00+00:00"
    conn.executemany(
        "INSERT OR REPLACE INTO entry_states (user_id, entry_id, is_read, is_saved, read_at, saved_at)"
        " VALUES (1, ?, ?, ?, ?, ?)",
        [(entry["a1"], 1, 0, now, None), (entry["b2"], 1, 1, now, now), (entry["c1"], 0, 1, None, now)],
    )
    if "channels" in tables:
        ana = conn.execute(
            "SELECT person_id FROM subscriptions s JOIN feeds f ON f.id = s.feed_id WHERE f.url LIKE '%/ana.xml'"
        ).fetchone()[0]
        conn.execute(
            "UPDATE people SET name = 'Ana Lefèvre', is_auto_named = 0, notes = ?, home_url = ? WHERE id = ?",
            ["Rencontrée à Lyon ; parle de « poésie » & de cafés.", "https://ana.example/", ana],
        )
        channel = conn.execute(
            "INSERT INTO channels (user_id, person_id, kind, value, source, found_at)"
            " VALUES (1, ?, 'email', 'ana@ana.example', 'user', ?)",
            [ana, now],
        ).lastrowid
        conn.execute("UPDATE people SET preferred_channel_id = ? WHERE id = ?", [channel, ana])
        conn.execute("INSERT INTO mutes (user_id, phrase, created_at) VALUES (1, 'crypto', ?)", [now])
        conn.execute(
            "INSERT INTO conversations (user_id, person_id, entry_id, entry_url, entry_title, channel_kind,"
            " channel_value, started_at, status, note, updated_at)"
            " VALUES (1, ?, ?, 'https://blog.example/a1', 'L''été à Sète & « la mer »', 'email',"
            " 'ana@ana.example', ?, 'answered', 'Elle a répondu !', ?)",
            [ana, entry["a1"], now, now],
        )
    conn.commit()
    conn.close()


def main(names: list[str]) -> None:
    unknown = set(names) - set(VERSIONS)
    if unknown:
        sys.exit(f"no such version: {', '.join(sorted(unknown))}")
    server = FeedServer().start()
    try:
        for path, (title, items) in FEEDS.items():
            server.route(path, body=rss(*items, title=title).encode())
        with tempfile.TemporaryDirectory() as work:
            for name, commit in VERSIONS.items():
                if not names or name in names:
                    make(name, commit, server, Path(work))
    finally:
        server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
