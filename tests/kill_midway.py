"""Run one of Causerie's writes and SIGKILL this very process in the middle of it.

    python3 tests/kill_midway.py PREFIX N reader ARGS...        # the reader command
    python3 tests/kill_midway.py PREFIX N merge DB INTO OTHER    # Store.merge_people

Every SQLite connection the process opens gets a trace callback; when the Nth
statement starting with PREFIX is about to run, the process kills itself with
SIGKILL, exactly as ``kill -9`` would: no ``finally``, no rollback, no close.
A timer outside can only hope to land inside a transaction; this lands there
every time, at the chosen statement (tests/test_kill.py).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys


def kill_at(prefix: str, nth: int) -> None:
    connect = sqlite3.connect
    seen = 0

    def trace(statement: str) -> None:
        nonlocal seen
        if statement.lstrip().startswith(prefix):
            seen += 1
            if seen == nth:
                os.kill(os.getpid(), signal.SIGKILL)

    def connect_traced(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(trace)
        return conn

    sqlite3.connect = connect_traced


def main(argv: list[str]) -> int:
    prefix, nth, action, *rest = argv
    kill_at(prefix, int(nth))
    if action == "reader":
        from reader.cli import main as reader

        return reader(rest, standalone_mode=True)
    if action == "merge":
        from reader.store import LOCAL_USER, Store

        db, into, other = rest
        store = Store.open(db).for_user(LOCAL_USER)
        store.merge_people(int(into), int(other))
        store.close()
        return 0
    raise SystemExit(f"unknown action {action!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
