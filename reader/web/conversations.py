"""From a post to a conversation: the reply page, the conversation log, a post's comments and watched threads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from ..channels import KINDS
from ..errors import InvalidInputError
from ..reply import default_link, reply_links
from ..store import STATUSES
from .pages import done, entry_comment_html, get_store, request_paths
from .rows import reply_anchors

blueprint = Blueprint("conversations", __name__)

# A post's comments are fetched again when its page is opened at most this often.
COMMENTS_FRESH_FOR = timedelta(minutes=10)


@blueprint.get("/entries/<int:entry_id>/reply")
def reply(entry_id: int):
    """Every way to answer a post's author, and the question that logs it: "Did you write to them?"."""
    store = get_store()
    item = store.get_timeline_item(entry_id)
    links = reply_links(
        store.list_channels(item.person_id), item.entry, fediverse_instance=store.get_settings().fediverse_instance
    )
    via = request.args.get("via")
    anchors = reply_anchors(links, entry_id, request_paths())
    default = default_link(links)
    chosen = next((a for a in anchors if a.key == via), None) or next(
        (a for a, link in zip(anchors, links, strict=True) if link is default), None
    )
    return render_template(
        "reply.html",
        item=item,
        links=anchors,
        chosen=chosen,
        kinds=KINDS,
        conversations=store.list_conversations(person_id=item.person_id)[:5],
    )


@blueprint.post("/entries/<int:entry_id>/replied")
def replied(entry_id: int):
    store = get_store()
    item = store.get_timeline_item(entry_id)
    via = request.form.get("via", "other")
    kind, value = via, None
    if via.isdigit():
        channel = store.get_channel(int(via))
        if channel.person_id != item.person_id:
            raise InvalidInputError("that channel is not this person's")
        kind, value = channel.kind, channel.value
    elif via not in ("comments", "comment_feed", "other"):
        raise InvalidInputError("say how you wrote to them")
    store.record_conversation(entry_id, kind, value, note=request.form.get("note", ""))
    flash(f"Noted: you wrote to {item.person_name}. It is on your Conversations page, waiting for their answer.")
    return redirect(url_for("conversations.index"), code=303)


@blueprint.get("/conversations")
def index():
    store = get_store()
    return render_template(
        "conversations.html",
        conversations=store.list_conversations(),
        threads=store.list_watched_threads(),
        statuses=STATUSES,
        kinds=KINDS,
    )


@blueprint.post("/conversations/<int:conversation_id>")
def update(conversation_id: int):
    get_store().update_conversation(
        conversation_id, status=request.form.get("status") or None, note=request.form.get("note")
    )
    flash("Saved.")
    return done(url_for("conversations.index"))


@blueprint.post("/conversations/<int:conversation_id>/delete")
def delete(conversation_id: int):
    get_store().delete_conversation(conversation_id)
    flash("Removed from the log.")
    return done(url_for("conversations.index"))


@blueprint.post("/entries/<int:entry_id>/watch")
def watch(entry_id: int):
    watching = request.form.get("watch", "1") == "1"
    store = get_store()
    store.watch_thread(entry_id, watching)
    if watching:
        entry = store.get_entry(entry_id)
        if entry.comments_feed_url:
            refresher().refresh(entry.comments_feed_url)
    flash("Watching this thread: new comments are marked." if watching else "No longer watching this thread.")
    return done(url_for("timeline.entry", entry_id=entry_id) + "#comments")


@blueprint.post("/entries/<int:entry_id>/comments-seen")
def comments_seen(entry_id: int):
    get_store().mark_thread_visited(entry_id)
    return done(url_for("timeline.entry", entry_id=entry_id) + "#comments")


@blueprint.get("/entries/<int:entry_id>/comments")
def comments(entry_id: int):
    """The comments section alone, which the entry page's script asks for while they are being fetched."""
    return render_template("_comments.html", **comments_context(entry_id))


def comments_context(entry_id: int) -> dict:
    """What the comments section shows; starts a fetch in the background when they are missing or stale."""
    store = get_store()
    entry = store.get_entry(entry_id)
    if not entry.comments_feed_url:
        return {"entry": entry, "thread": None, "comments": [], "pending": False, "watching": False}
    thread = store.get_comment_feed(entry.comments_feed_url)
    stale = thread.last_fetched_at is None or thread.last_fetched_at < datetime.now(UTC) - COMMENTS_FRESH_FOR
    if stale:
        refresher().refresh(thread.url)
    shown = store.list_comments(entry_id)
    return {
        "entry": entry,
        "thread": thread,
        "comments": [(comment, entry_comment_html(store, entry_id, comment.id)) for comment in shown],
        "pending": refresher().is_pending(thread.url),
        "watching": store.is_watching(entry_id),
    }


def refresher():
    return current_app.extensions["causerie.comments"]
