"""What the views share: the configuration and the user's store for this request, timeline pages,
cursors, the sanitized content of an entry, and where to go after a POST.

HTTP parameters are read here and in the views, never in the store: the
store takes a ``Position``, the web reads and writes it as a cursor string.
"""

from __future__ import annotations

import threading
import weakref
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Response, current_app, g, redirect, render_template, request

from ..channels import KINDS, SOURCES
from ..config import Config
from ..errors import InvalidInputError
from ..models import Group, Person, Position
from ..reply import ReplyLink, reply_links
from ..sanitize import clean_html
from ..store import Store, UserStore
from .rows import Paths, rows_for

PAGE_SIZE = 50
SIDEBAR_PEOPLE = 60  # beyond that the sidebar links to the list of everyone


def get_config() -> Config:
    return current_app.config["READER"]


def current_user_id() -> int:
    """Whose request this is (``auth.load_user`` decided, before the view ran)."""
    user_id = g.get("user_id")
    if user_id is None:  # only the login pages get this far without a user, and they use no store
        raise RuntimeError("no user for this request")
    return user_id


class _ThreadStore:
    """A thread's connection, closed when the thread ends: its thread-local values go then, and
    with this object the finalizer closes the store (its lock file and the SQLite connection)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.close = weakref.finalize(self, store.close)


class Connections:
    """The web app's database connections: one a thread, opened at its first request and kept for
    the next ones. Opening one (its lock file, the PRAGMAs, reading the schema on the first query)
    cost ~1.5 ms of a 13 ms timeline page (docs/design.md, "Measured (web)"); waitress serves
    from a fixed set of threads, so a server holds as many connections as it has threads.

    A connection is always left in autocommit between requests (``release``). The app holds
    ``hold_in_use`` for its whole life already, so keeping connections open changes nothing for
    ``reader restore``: it is refused while the server runs, as before.
    """

    def __init__(self, db_path: str) -> None:
        self._db_path = db_path
        self._local = threading.local()
        self._lock = threading.Lock()
        # Weak: a thread that ends (the development server makes one a request) closes its
        # connection as it goes (``_ThreadStore``); ``close`` reaches the ones still open.
        self._open: weakref.WeakSet[_ThreadStore] = weakref.WeakSet()

    def get(self) -> Store:
        held = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = _ThreadStore(Store.open(self._db_path, migrate=False))
            with self._lock:
                self._open.add(held)
        return held.store

    @staticmethod
    def release(store: Store) -> None:
        """After a request: a transaction an error left open is rolled back, never carried over."""
        if store.db.conn.in_transaction:
            store.db.conn.rollback()

    def close(self) -> None:
        """Close every connection (the app is done: a test's end, or the process's)."""
        with self._lock:
            held, self._open = list(self._open), weakref.WeakSet()
            self._local = threading.local()
        for one in held:
            one.close()


def request_store() -> Store:
    """This request's connection to the database (this thread's, ``Connections``): one a request,
    shared by the login check and the view."""
    if "db" not in g:
        g.db = current_app.extensions["causerie.connections"].get()
    return g.db


def request_paths() -> Paths:
    """This request's link builder (rows.Paths): url_for once an endpoint, then strings."""
    if "paths" not in g:
        g.paths = Paths()
    return g.paths


def get_store() -> UserStore:
    """The current user's store, on this request's connection."""
    if "store" not in g:
        g.store = request_store().for_user(current_user_id())
    return g.store


def release_store(exc: BaseException | None) -> None:
    g.pop("store", None)  # the same connection as g.db
    store = g.pop("db", None)
    if store is not None:
        Connections.release(store)


def parse_cursor(value: str | None) -> Position | None:
    """``"<sort_at>~<id>"`` (``format_cursor``) → a timeline position; None for none."""
    if not value:
        return None
    try:
        when, entry_id = value.rsplit("~", 1)
        moment = datetime.fromisoformat(when)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return Position(moment, int(entry_id))
    except (ValueError, TypeError) as exc:
        raise InvalidInputError("not a timeline position") from exc


def format_cursor(position: Position) -> str:
    return f"{position.sort_at.isoformat()}~{position.id}"


def entry_html(store: UserStore, entry_id: int) -> str:
    """An entry's content, sanitized: computed at first view, then cached (docs/design.md)."""
    content = store.get_entry_content(entry_id)
    if content.content_html is not None:
        return content.content_html
    html = clean_html(content.content or content.summary, content.base_url)
    store.cache_entry_html(entry_id, html)
    return html


def render_timeline(title: str, *, person: Person | None = None, group: Group | None = None, saved_only=False):
    """A page of a timeline (everyone's, a person's, a group's, or the saved posts), newest first."""
    store = get_store()
    unread_only = request.args.get("unread") == "1"
    before = parse_cursor(request.args.get("before"))
    items = store.list_timeline(
        person_id=person.id if person else None,
        group_id=group.id if group else None,
        before=before,
        limit=PAGE_SIZE + 1,
        unread_only=unread_only,
        saved_only=saved_only,
    )
    has_more = len(items) > PAGE_SIZE
    items = items[:PAGE_SIZE]
    settings = store.get_settings()
    return render_template(
        "entries.html",
        title=title,
        rows=rows_for(items, replies_for(store, items, settings.fediverse_instance), request_paths()),
        person=person,
        group=group,
        saved_only=saved_only,
        unread_only=unread_only,
        is_first_page=before is None,
        older_cursor=format_cursor(items[-1].position) if has_more else None,
        # The sidebar's first names and how many there are; a person's page has their panel instead.
        people=store.list_people_names(SIDEBAR_PEOPLE) if person is None else [],
        people_count=store.count_people() if person is None else 0,
        groups=store.list_groups(),
        sidebar_people=SIDEBAR_PEOPLE,
        person_feeds=store.list_subscriptions(person_id=person.id) if person else [],
        latest_post_at=store.latest_post_at(person.id) if person else None,
        last_wrote_at=store.last_wrote_at(person.id) if person else None,
        conversations=store.list_conversations(person_id=person.id, limit=5) if person else [],
        channels=store.list_channels(person.id) if person else [],
        kinds=KINDS,
        sources=SOURCES,
        settings=settings,
    )


def replies_for(store: UserStore, items: list, fediverse_instance: str | None) -> dict[int, list[ReplyLink]]:
    """Each listed post's reply links, from its author's channels (one query for the page)."""
    channels = store.channels_by_person(item.person_id for item in items)
    return {
        item.entry.id: reply_links(channels.get(item.person_id, []), item.entry, fediverse_instance=fediverse_instance)
        for item in items
    }


def entry_comment_html(store: UserStore, entry_id: int, comment_id: int) -> str:
    """A comment's content, sanitized like a post's: at first view, then cached."""
    content, base_url, cached = store.get_comment_content(entry_id, comment_id)
    if cached is not None:
        return cached
    html = clean_html(content, base_url)
    store.cache_comment_html(entry_id, comment_id, html)
    return html


def done(default: str) -> Response:
    """After a POST: 204 for the page's script, else back where the user was."""
    if request.headers.get("X-Requested-With") == "causerie":
        return Response(status=204)
    return redirect(safe_next(request.form.get("next"), default), code=303)


def safe_next(target: str | None, default: str) -> str:
    """Where to go after a POST: only a path on this site, never another host."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def group_path(text: str | None) -> tuple[str, ...]:
    """A group typed as "Friends/Poets"."""
    return tuple(part.strip()[:200] for part in (text or "").split("/") if part.strip())
