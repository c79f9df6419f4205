"""Reading: the timeline, groups, saved posts, one entry, read/saved state, search.

Views are thin: read the request, call the store, render or redirect. Every
state change is a POST answered by a redirect (or 204 for the page's own
script); no GET changes what the user has read, saved or followed.
"""

from __future__ import annotations

from flask import Blueprint, flash, render_template, request, url_for

from .conversations import comments_context
from .pages import PAGE_SIZE, done, entry_html, get_store, parse_cursor, render_timeline, replies_for, request_paths
from .rows import rows_for

blueprint = Blueprint("timeline", __name__)


@blueprint.get("/")
def index():
    return render_timeline("Timeline")


@blueprint.get("/groups/<int:group_id>")
def group(group_id: int):
    found = get_store().get_group(group_id)
    return render_timeline(found.label, group=found)


@blueprint.get("/saved")
def saved():
    return render_timeline("Saved for later", saved_only=True)


@blueprint.get("/entries/<int:entry_id>")
def entry(entry_id: int):
    store = get_store()
    item = store.get_timeline_item(entry_id)
    newer, older = store.get_neighbours(item)
    settings = store.get_settings()
    (row,) = rows_for([item], replies_for(store, [item], settings.fediverse_instance), request_paths())
    return render_template(
        "entry.html",
        item=item,
        row=row,
        content_html=entry_html(store, entry_id),
        newer=newer,
        older=older,
        **comments_context(entry_id),
    )


@blueprint.post("/entries/<int:entry_id>/read")
def mark_read(entry_id: int):
    get_store().mark_read(entry_id, request.form.get("read", "1") == "1")
    return done(url_for("timeline.entry", entry_id=entry_id))


@blueprint.post("/entries/<int:entry_id>/save")
def save(entry_id: int):
    get_store().set_saved(entry_id, request.form.get("saved", "1") == "1")
    return done(url_for("timeline.entry", entry_id=entry_id))


@blueprint.post("/mark-read")
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
    return done(url_for("timeline.index"))


@blueprint.get("/search")
def search():
    text = request.args.get("q", "")[:500]
    page = max(request.args.get("page", 1, type=int), 1)
    show_muted = request.args.get("muted") == "1"
    store = get_store()
    results = []
    if text.strip():
        results = store.search(text, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE, show_muted=show_muted)
    return render_template(
        "search.html",
        query=text,
        rows=rows_for(results[:PAGE_SIZE], None, request_paths()),
        page=page,
        has_more=len(results) > PAGE_SIZE,
        show_muted=show_muted,
    )


@blueprint.get("/help")
def help_page():
    return render_template("help.html")
