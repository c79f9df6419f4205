"""Subscriptions: follow a feed, import and export OPML, each feed's health, refresh, rename, move, unfollow."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from ..collation import listing_key
from ..errors import FeedExistsError, FetchError, InvalidFeedURLError, OPMLError
from ..opml import read_opml, write_opml
from ..userdata import looks_like_user_data
from . import settings
from .pages import done, get_config, get_store, group_path

blueprint = Blueprint("subscriptions", __name__, url_prefix="/subscriptions")


@blueprint.get("/")
def index():
    store = get_store()
    now = datetime.now(UTC)
    return render_template(
        "feeds.html",
        subscriptions=sorted(store.list_subscriptions(), key=lambda s: listing_key(s.group_path, s.person_name)),
        per_week=store.posts_per_week(now),
        groups=store.list_groups(),
        now=now,
    )


@blueprint.post("/add")
def add():
    # The fetch pipeline (aiohttp, feedparser, mf2py: ~20 MB) loads where a view needs it, so a web
    # process that only shows pages never carries it (docs/design.md, "Memory").
    from ..reach import find_channels
    from ..subscribe import fetch_new_subscription, subscribe

    url = request.form.get("url", "").strip()
    try:
        sub, found = subscribe(get_store(), get_config(), url, group_path=group_path(request.form.get("group")))
    except (InvalidFeedURLError, FetchError, FeedExistsError) as exc:
        flash(f"Could not subscribe: {exc}", "error")
        return redirect(url_for("subscriptions.index"), code=303)
    if found.note:
        flash(f"{found.note[0].upper()}{found.note[1:]}.")
    result = fetch_new_subscription(get_store(), get_config(), sub, found)
    if result.error:
        flash(f"Subscribed to {found.url} ({found.how}), but its first fetch failed: {result.error}", "error")
    else:
        new = result.new
        flash(f"Subscribed to {found.url} ({found.how}); {new} {'entry' if new == 1 else 'entries'} fetched.")
        report = find_channels(get_store(), get_config(), sub.person_id)
        if report.found:
            flash(f"Found {len(report.found)} {'way' if len(report.found) == 1 else 'ways'} to reach them.")
    return redirect(url_for("people.person", person_id=sub.person_id), code=303)


@blueprint.post("/import")
def import_opml():
    upload = request.files.get("opml")
    if upload is None or not upload.filename:
        flash("Choose an OPML file to import.", "error")
        return redirect(url_for("subscriptions.index"), code=303)
    data = upload.read()
    if looks_like_user_data(data):  # a Causerie export given here rather than on the settings page
        return settings.merge_upload(data, url_for("subscriptions.index"))
    try:
        document = read_opml(data)
    except OPMLError as exc:
        flash(f"Nothing imported: {exc}", "error")
        return redirect(url_for("subscriptions.index"), code=303)
    report = get_store().add_feeds(document.sources)
    message = f"Imported {report.added} feeds ({report.existing} already followed)."
    if document.notes:
        message += " " + "; ".join(document.notes[:5]) + "."
    if document.skipped:
        message += f" Skipped {len(document.skipped)}: " + "; ".join(document.skipped[:5])
    flash(message)
    return redirect(url_for("subscriptions.index"), code=303)


@blueprint.get("/export.opml")
def export():
    body = write_opml(get_store().list_subscriptions())
    return Response(
        body,
        mimetype="text/x-opml",
        headers={"Content-Disposition": 'attachment; filename="causerie-subscriptions.opml"'},
    )


@blueprint.post("/<int:feed_id>/refresh")
def refresh(feed_id: int):
    from ..reach import find_channels_after_fetch  # the pipeline, as in add()
    from ..update import update_feeds

    store = get_store()
    sub = store.get_subscription_by_feed_id(feed_id)
    [result] = list(update_feeds(store, get_config(), [sub.feed]))
    find_channels_after_fetch(store, get_config(), [sub.feed], [result])
    if result.error:
        flash(f"{sub.display_title}: {result.error}", "error")
    else:
        flash(f"{sub.display_title}: {result.new} new, {result.updated} updated.")
    return done(url_for("subscriptions.index"))


@blueprint.post("/<int:feed_id>/rename")
def rename(feed_id: int):
    store = get_store()
    sub = store.get_subscription_by_feed_id(feed_id)
    title = request.form.get("title", "").strip()[:500]
    person_name = request.form.get("person", "").strip()[:500]
    store.rename_subscription(feed_id, title or None)
    if person_name:
        store.rename_person(sub.person_id, person_name)
    flash("Saved.")
    return done(url_for("subscriptions.index"))


@blueprint.post("/<int:feed_id>/move")
def move(feed_id: int):
    get_store().move_subscription(feed_id, group_path(request.form.get("group")))
    flash("Moved.")
    return done(url_for("subscriptions.index"))


@blueprint.post("/<int:feed_id>/remove")
def remove(feed_id: int):
    store = get_store()
    sub = store.get_subscription_by_feed_id(feed_id)
    store.remove_feed(sub.feed.url)
    flash(f"Unsubscribed from {sub.display_title}.")
    return done(url_for("subscriptions.index"))
