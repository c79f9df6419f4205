"""Keeping feeds fresh without a person asking: one fetcher per database, each feed when it falls due.

``FetchLease`` is what makes a fetcher the only one: ``reader fetch`` (plain or ``--due``) takes it
before fetching and renews it while it works; a second fetcher on the same database — a cron job
while ``reader serve`` refreshes, a second server — finds it held and stands aside. A fetcher that is
killed stops renewing, and the lease is free again after ``TERM``.

``RefreshLoop`` is ``reader serve``'s background fetch: ``reader fetch --due`` in a child process,
again whenever the next feed falls due (every few minutes at most). A child process rather than a
thread: the parse time budget is a signal, which only reaches a main thread; a hostile feed cannot
stall or bloat the web server; the memory of a large fetch is given back when it exits.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta

from .config import Config
from .store import Lease, Store

log = logging.getLogger(__name__)

FETCH = "fetch"  # the lease's name
TERM = timedelta(minutes=2)  # a lease not renewed for this long is free
RENEW_EVERY = TERM / 4
# The refresh loop's pace: wake for the next feed due, but at least this often (watched comment
# threads, feeds added meanwhile) and at most this often (a Python start is not free on a Pi).
WAKE_AT_LEAST = timedelta(minutes=5)
WAKE_AT_MOST = timedelta(seconds=30)
CHILD_TIME_LIMIT = 3600  # seconds: a fetch that takes longer is stopped, the next one goes on


def utc_now() -> datetime:
    return datetime.now(UTC)


class LeaseHeld(Exception):
    """Another fetcher holds the lease; carries who, and until when."""

    def __init__(self, lease: Lease | None) -> None:
        self.lease = lease
        who = f"{lease.holder}, until {lease.expires_at:%H:%M:%S} UTC" if lease else "just now"
        super().__init__(f"another fetcher is at work on this database ({who})")


class FetchLease:
    """``with FetchLease(db_path):`` — the only fetcher on this database until the block ends.

    Raises ``LeaseHeld`` on entry when another process holds it. A thread renews the lease on its
    own connection while the block runs; the lease is given back on exit, or expires if we die.
    """

    def __init__(self, db_path: str, *, term: timedelta = TERM, now=utc_now) -> None:
        self.db_path = db_path
        self.term = term
        self.now = now
        self.holder = f"{socket.gethostname()} pid {os.getpid()} ({uuid.uuid4().hex[:8]})"
        self.stopped = threading.Event()
        self.lost = False
        self.thread: threading.Thread | None = None

    def __enter__(self) -> FetchLease:
        store = Store.open(self.db_path, migrate=False)
        try:
            if not store.take_lease(FETCH, self.holder, self.now(), self.term):
                lease = store.get_lease(FETCH, self.now())
                if lease is None or not _died_here(lease.holder):
                    raise LeaseHeld(lease)
                # Killed on this machine (kill -9, out of memory): no need to wait out its term.
                if not store.take_over_lease(FETCH, lease.holder, self.holder, self.now(), self.term):
                    raise LeaseHeld(store.get_lease(FETCH, self.now()))
                log.warning("took over the fetch lease of %s, which is no longer running", lease.holder)
        finally:
            store.close()
        self.thread = threading.Thread(target=self._renew, name="causerie-lease", daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join()
        store = Store.open(self.db_path, migrate=False)
        try:
            store.release_lease(FETCH, self.holder)
        finally:
            store.close()

    def _renew(self) -> None:
        store = Store.open(self.db_path, migrate=False)
        try:
            while not self.stopped.wait(self.term.total_seconds() / 4):
                try:
                    if not store.take_lease(FETCH, self.holder, self.now(), self.term):
                        # Suspended past the term (a laptop asleep) and another fetcher took over.
                        self.lost = True
                        log.error("the fetch lease was taken over by another fetcher; this one goes on to its end")
                        return
                except Exception:  # noqa: BLE001 - a busy database now and then must not end the renewals
                    log.exception("renewing the fetch lease failed; trying again")
        finally:
            store.close()


def _died_here(holder: str) -> bool:
    """Whether ``holder`` names a process of this machine that is no longer running."""
    match = re.fullmatch(r"(?P<host>.+) pid (?P<pid>\d+) \(\w+\)", holder)
    if match is None or match["host"] != socket.gethostname():
        return False  # another machine's (a shared volume): only its term can tell
    try:
        os.kill(int(match["pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # running, as another user
    return False


class RefreshLoop:
    """``reader fetch --due`` in a child process, now and whenever the next feed falls due."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.command = [sys.executable, "-m", "reader.cli", "--db", config.db_path, "fetch", "--due"]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="causerie-refresh", daemon=True)
        self.rounds = 0

    def start(self) -> RefreshLoop:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()

    def _loop(self) -> None:
        while not self.stopped.is_set():
            self._run_once()
            self.rounds += 1
            self.stopped.wait(self.wait_seconds(utc_now()))

    def _run_once(self) -> None:
        try:
            done = subprocess.run(self.command, capture_output=True, text=True, timeout=CHILD_TIME_LIMIT, check=False)
        except subprocess.TimeoutExpired:
            log.error("background fetch took more than %d s and was stopped", CHILD_TIME_LIMIT)
            return
        if done.returncode != 0:
            log.error("background fetch failed: %s", done.stderr.strip()[-500:])
        elif done.stdout.strip():
            log.warning("background fetch: %s", done.stdout.strip().splitlines()[0])

    def wait_seconds(self, now: datetime) -> float:
        """Until the next feed falls due, within the loop's bounds."""
        try:
            store = Store.open(self.config.db_path, migrate=False)
            try:
                due = store.next_due_at()
            finally:
                store.close()
        except Exception:  # noqa: BLE001 - the database busy or gone for a moment: try again later
            log.exception("could not read when the next feed is due")
            due = None
        wait = WAKE_AT_LEAST if due is None else due - now
        return min(max(wait, WAKE_AT_MOST), WAKE_AT_LEAST).total_seconds()
