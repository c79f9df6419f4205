"""Routes, one blueprint per area: ``entries`` (reading) and ``feeds`` (subscriptions).

Views are thin: read the request, call the store (or update/subscribe), render
or redirect. Every state change is a POST answered by a redirect (or 204 for
the page's own script); no GET changes what the user has read, saved or followed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from .errors import FeedExistsError, FetchError, InvalidFeedURLError, OPMLError
from .opml import read_opml, write_opml
from .store_reading import parse_cursor
from .subscribe import fetch_new_subscription, subscribe
from .update import update_feeds
from .web import entry_html, get_config, get_store, safe_next

entries = Blueprint("entries", __name__)
feeds = Blueprint("feeds", __name__, url_prefix="/subscriptions")

PAGE_SIZE = 50
SIDEBAR_PEOPLE = 60  # beyond that the sidebar links to the list of everyone


def _done(default: str):
    """After a POST: 204 for the page's script, else back where the user was."""
    if request.headers.get("X-Requested-With") == "causerie":
        return Response(status=204)
    return redirect(safe_next(request.form.get("next"), default), code=303)


def _group_path(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip()[:200] for part in (text or "").split("/") if part.strip())


# -- reading -----------------------------------------------------------------------


def _timeline(title: str, *, person=None, group=None, saved_only: bool = False):
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
    return render_template(
        "entries.html",
        title=title,
        items=items,
        person=person,
        group=group,
        saved_only=saved_only,
        unread_only=unread_only,
        is_first_page=before is None,
        older_cursor=items[-1].cursor if has_more else None,
        people=store.list_people(),
        groups=store.list_groups(),
        sidebar_people=SIDEBAR_PEOPLE,
    )


@entries.get("/")
def index():
    return _timeline("Timeline")


@entries.get("/people/<int:person_id>")
def person(person_id: int):
    found = get_store().get_person(person_id)
    return _timeline(found.name, person=found)


@entries.get("/groups/<int:group_id>")
def group(group_id: int):
    found = get_store().get_group(group_id)
    return _timeline(found.label, group=found)


@entries.get("/people")
def people():
    return render_template("people.html", people=get_store().list_people())


@entries.get("/saved")
def saved():
    return _timeline("Saved for later", saved_only=True)


@entries.get("/entries/<int:entry_id>")
def show(entry_id: int):
    store = get_store()
    item = store.get_timeline_item(entry_id)
    newer, older = store.get_neighbours(item)
    return render_template("entry.html", item=item, content_html=entry_html(store, entry_id), newer=newer, older=older)


@entries.post("/entries/<int:entry_id>/read")
def mark_read(entry_id: int):
    get_store().mark_read(entry_id, request.form.get("read", "1") == "1")
    return _done(url_for("entries.show", entry_id=entry_id))


@entries.post("/entries/<int:entry_id>/save")
def save(entry_id: int):
    get_store().set_saved(entry_id, request.form.get("saved", "1") == "1")
    return _done(url_for("entries.show", entry_id=entry_id))


@entries.post("/mark-read")
def mark_all_read():
    """Everything up to a point in a timeline (all of it without one), for everyone or one person or group."""
    store = get_store()
    person_id = request.form.get("person", type=int)
    group_id = request.form.get("group", type=int)
    if person_id is not None:
        store.get_person(person_id)
    if group_id is not None:
        store.get_group(group_id)
    count = store.mark_all_read(up_to=parse_cursor(request.form.get("up_to")), person_id=person_id, group_id=group_id)
    flash(f"Marked {count} {'entry' if count == 1 else 'entries'} as read.")
    return _done(url_for("entries.index"))


@entries.get("/search")
def search():
    text = request.args.get("q", "")[:500]
    page = max(request.args.get("page", 1, type=int), 1)
    store = get_store()
    results = store.search(text, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE) if text.strip() else []
    return render_template(
        "search.html",
        query=text,
        items=results[:PAGE_SIZE],
        page=page,
        has_more=len(results) > PAGE_SIZE,
    )


@entries.get("/help")
def help_page():
    return render_template("help.html")


# -- subscriptions -----------------------------------------------------------------


@feeds.get("/", endpoint="index")
def list_feeds():
    store = get_store()
    now = datetime.now(UTC)
    subscriptions = store.list_subscriptions()
    per_week = store.posts_per_week(now)
    return render_template(
        "feeds.html",
        subscriptions=sorted(subscriptions, key=lambda s: (s.group_path, s.person_name.lower())),
        per_week=per_week,
        groups=store.list_groups(),
        now=now,
    )


@feeds.post("/add")
def add():
    url = request.form.get("url", "").strip()
    try:
        sub, found = subscribe(get_store(), get_config(), url, group_path=_group_path(request.form.get("group")))
    except (InvalidFeedURLError, FetchError, FeedExistsError) as exc:
        flash(f"Could not subscribe: {exc}", "error")
        return redirect(url_for("feeds.index"), code=303)
    result = fetch_new_subscription(get_store(), get_config(), sub, found)
    if result.error:
        flash(f"Subscribed to {found.url} ({found.how}), but its first fetch failed: {result.error}", "error")
    else:
        new = result.new
        flash(f"Subscribed to {found.url} ({found.how}); {new} {'entry' if new == 1 else 'entries'} fetched.")
    return redirect(url_for("feeds.index"), code=303)


@feeds.post("/import")
def import_opml():
    upload = request.files.get("opml")
    if upload is None or not upload.filename:
        flash("Choose an OPML file to import.", "error")
        return redirect(url_for("feeds.index"), code=303)
    try:
        document = read_opml(upload.read())
    except OPMLError as exc:
        flash(f"Nothing imported: {exc}", "error")
        return redirect(url_for("feeds.index"), code=303)
    report = get_store().add_feeds(document.sources)
    message = f"Imported {report.added} feeds ({report.existing} already followed)."
    if document.skipped:
        message += f" Skipped {len(document.skipped)}: " + "; ".join(document.skipped[:5])
    flash(message)
    return redirect(url_for("feeds.index"), code=303)


@feeds.get("/export.opml")
def export():
    body = write_opml(get_store().list_subscriptions())
    return Response(
        body,
        mimetype="text/x-opml",
        headers={"Content-Disposition": 'attachment; filename="causerie-subscriptions.opml"'},
    )


@feeds.post("/<int:feed_id>/refresh")
def refresh(feed_id: int):
    store = get_store()
    sub = store.get_subscription_by_feed_id(feed_id)
    [result] = list(update_feeds(store, get_config(), [sub.feed]))
    if result.error:
        flash(f"{sub.display_title}: {result.error}", "error")
    else:
        flash(f"{sub.display_title}: {result.new} new, {result.updated} updated.")
    return _done(url_for("feeds.index"))


@feeds.post("/<int:feed_id>/rename")
def rename(feed_id: int):
    store = get_store()
    sub = store.get_subscription_by_feed_id(feed_id)
    title = request.form.get("title", "").strip()[:500]
    person_name = request.form.get("person", "").strip()[:500]
    store.rename_subscription(feed_id, title or None)
    if person_name:
        store.rename_person(sub.person_id, person_name)
    flash("Saved.")
    return _done(url_for("feeds.index"))


@feeds.post("/<int:feed_id>/move")
def move(feed_id: int):
    get_store().move_subscription(feed_id, _group_path(request.form.get("group")))
    flash("Moved.")
    return _done(url_for("feeds.index"))


@feeds.post("/<int:feed_id>/remove")
def remove(feed_id: int):
    store = get_store()
    sub = store.get_subscription_by_feed_id(feed_id)
    store.remove_feed(sub.feed.url)
    flash(f"Unsubscribed from {sub.display_title}.")
    return _done(url_for("feeds.index"))
