"""People: everyone the user follows, one person's page, what the user keeps about them, and mutes."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from ..errors import InvalidInputError
from ..models import PeopleCursor
from ..store.people import PAGE_SIZE
from .pages import done, get_config, get_store, render_timeline

blueprint = Blueprint("people", __name__)

ORDERS = {"name": "Name", "latest": "Latest post"}


@blueprint.get("/people")
def index():
    """Everyone, quiet people as visible as busy ones, in the order the user picks (never a score),
    a page at a time: ``?after=`` the last person of the page before, ``?before=`` the first of the next."""
    store = get_store()
    order = request.args.get("order", "name")
    if order not in ORDERS:
        raise InvalidInputError(f"order by {' or '.join(ORDERS)}")
    group_id = request.args.get("group", type=int)
    group = store.get_group(group_id) if group_id is not None else None
    returned_only = request.args.get("returned") == "1"
    now = datetime.now(UTC)
    page = store.list_people_page(
        now,
        order=order,
        group_id=group.id if group else None,
        returned_only=returned_only,
        after=parse_people_cursor(request.args.get("after"), order),
        before=parse_people_cursor(request.args.get("before"), order),
        limit=PAGE_SIZE,
        cache=current_app.extensions["causerie.activity"],
    )
    # The same list (order, group, filter) with another cursor; the defaults stay out of the address.
    here = {"order": None if order == "name" else order, "group": group_id, "returned": 1 if returned_only else None}
    previous_url = None
    if page.start > 0:  # back to the very first page rather than a cursor, when that is where it starts
        before = format_people_cursor(page.first, order) if page.first and page.start > PAGE_SIZE else None
        previous_url = url_for("people.index", **here, before=before)
    return render_template(
        "people.html",
        page=page,
        previous_url=previous_url,
        next_url=url_for("people.index", **here, after=format_people_cursor(page.last, order))
        if page.has_next and page.last
        else None,
        first_url=url_for("people.index", **here),
        # "/people/<id>" for every row: url_for per row was a third of the page's time.
        person_url=url_for("people.person", person_id=0).removesuffix("0"),
        groups=store.list_groups(),
        group=group,
        order=order,
        orders=ORDERS,
        returned_only=returned_only,
        now=now,
    )


def parse_people_cursor(value: str | None, order: str) -> PeopleCursor | None:
    """``"<sort_name>~<id>"``, and for the latest order ``"<last post>~<sort_name>~<id>"``
    (``format_people_cursor``) → a place in the list; None for none."""
    if not value:
        return None
    try:
        last, rest = value.split("~", 1) if order == "latest" else (None, value)
        key, person_id = rest.rsplit("~", 1)
        return PeopleCursor(key, int(person_id), last)
    except ValueError as exc:
        raise InvalidInputError("not a place in the list of people") from exc


def format_people_cursor(cursor: PeopleCursor, order: str) -> str:
    place = f"{cursor.sort_name}~{cursor.id}"
    return f"{cursor.last_post or ''}~{place}" if order == "latest" else place


@blueprint.get("/people/<int:person_id>")
def person(person_id: int):
    found = get_store().get_person(person_id)
    return render_timeline(found.name, person=found)


@blueprint.post("/people/<int:person_id>/edit")
def edit(person_id: int):
    form = request.form
    try:
        get_store().update_person(
            person_id,
            name=form.get("name"),
            home_url=form.get("home_url"),
            avatar_url=form.get("avatar_url"),
            notes=form.get("notes"),
        )
    except InvalidInputError as exc:
        flash(f"Not saved: {exc}", "error")
    else:
        flash("Saved.")
    return done(url_for("people.person", person_id=person_id))


@blueprint.get("/people/<int:person_id>/merge")
def choose_merge(person_id: int):
    store = get_store()
    person = store.get_person(person_id)
    others = [p for p in store.list_people() if p.id != person.id]
    return render_template("merge_person.html", person=person, others=others)


@blueprint.post("/people/<int:person_id>/merge")
def merge(person_id: int):
    """Merge another person (the form's ``other``) into this one."""
    other = request.form.get("other", type=int)
    if other is None:
        flash("Choose who to merge.", "error")
        return done(url_for("people.person", person_id=person_id))
    store = get_store()
    name = store.get_person(other).name
    merged = store.merge_people(person_id, other)
    flash(f"{name} is now part of {merged.name}.")
    return done(url_for("people.person", person_id=person_id))


@blueprint.post("/people/<int:person_id>/mute")
def mute(person_id: int):
    muted = request.form.get("muted", "1") == "1"
    store = get_store()
    store.mute_person(person_id, muted)
    name = store.get_person(person_id).name
    flash(f"Muted {name}: their posts are hidden from your timelines." if muted else f"{name} is no longer muted.")
    return done(url_for("people.person", person_id=person_id))


@blueprint.get("/people/<int:person_id>/delete")
def confirm_delete(person_id: int):
    store = get_store()
    return render_template(
        "delete_person.html",
        person=store.get_person(person_id),
        feeds=store.list_subscriptions(person_id=person_id),
    )


@blueprint.post("/people/<int:person_id>/delete")
def delete(person_id: int):
    store = get_store()
    name = store.get_person(person_id).name
    urls = store.delete_person(person_id)
    flash(f"Deleted {name}; unsubscribed from {len(urls)} {'feed' if len(urls) == 1 else 'feeds'}.")
    return redirect(url_for("people.index"), code=303)


@blueprint.get("/people/feeds/<int:feed_id>/move")
def choose_owner(feed_id: int):
    """Whose feed is it? Give it to someone else, or a person of its own."""
    store = get_store()
    sub = store.get_subscription_by_feed_id(feed_id)
    return render_template(
        "move_feed.html",
        sub=sub,
        others=[p for p in store.list_people() if p.id != sub.person_id],
        alone=store.get_person(sub.person_id).feed_count == 1,
    )


@blueprint.post("/people/feeds/<int:feed_id>/move")
def move_feed(feed_id: int):
    target = request.form.get("person", type=int)
    store = get_store()
    before = store.get_subscription_by_feed_id(feed_id).person_id
    if target is None:
        flash("Choose who the feed belongs to.", "error")
        return done(url_for("people.person", person_id=before))
    store.move_feed_to_person(feed_id, target)
    flash(f"The feed now belongs to {store.get_person(target).name}.")
    return done(url_for("people.person", person_id=before))


@blueprint.post("/people/feeds/<int:feed_id>/split")
def split_feed(feed_id: int):
    person = get_store().split_feed(feed_id)
    flash(f"The feed is now {person.name}’s own.")
    return redirect(url_for("people.person", person_id=person.id), code=303)


# -- ways to reach them -----------------------------------------------------------


@blueprint.post("/people/<int:person_id>/channels")
def add_channel(person_id: int):
    form = request.form
    try:
        channel = get_store().add_channel(
            person_id, form.get("kind", ""), form.get("value", ""), label=form.get("label")
        )
    except InvalidInputError as exc:
        flash(f"Not added: {exc}", "error")
    else:
        flash(f"Added {channel.value}.")
    return done(url_for("people.person", person_id=person_id) + "#reach")


@blueprint.post("/people/channels/<int:channel_id>/edit")
def edit_channel(channel_id: int):
    store = get_store()
    channel = store.get_channel(channel_id)
    try:
        store.update_channel(channel_id, text=request.form.get("value"), label=request.form.get("label"))
    except InvalidInputError as exc:
        flash(f"Not saved: {exc}", "error")
    else:
        flash("Saved.")
    return done(url_for("people.person", person_id=channel.person_id) + "#reach")


@blueprint.post("/people/channels/<int:channel_id>/remove")
def remove_channel(channel_id: int):
    store = get_store()
    channel = store.get_channel(channel_id)
    store.remove_channel(channel_id)
    flash(f"Removed {channel.value}.")
    return done(url_for("people.person", person_id=channel.person_id) + "#reach")


@blueprint.post("/people/<int:person_id>/preferred")
def prefer_channel(person_id: int):
    channel_id = request.form.get("channel", type=int)
    get_store().set_preferred_channel(person_id, channel_id)
    flash("Replies go there first." if channel_id else "No preferred channel: private ones come first.")
    return done(url_for("people.person", person_id=person_id) + "#reach")


@blueprint.post("/people/<int:person_id>/discover")
def discover(person_id: int):
    """Look for ways to reach them now: their feeds, their home page, their profiles."""
    store = get_store()
    store.get_person(person_id)
    from ..reach import find_channels  # the pipeline loads only when used (subscriptions.add)

    report = find_channels(store, get_config(), person_id)
    if report.new:
        flash(f"Found {report.new} new {'way' if report.new == 1 else 'ways'} to reach them.")
    elif report.found:
        flash("Nothing new: what they list is here already.")
    else:
        flash("Found no way to reach them on their home page or in their feeds.")
    for note in report.notes:
        flash(note[:1].upper() + note[1:] + ".", "error")
    return done(url_for("people.person", person_id=person_id) + "#reach")


# -- mutes ----------------------------------------------------------------------


@blueprint.get("/muted")
def muted():
    store = get_store()
    return render_template(
        "muted.html", people=[p for p in store.list_people() if p.is_muted], phrases=store.list_mutes()
    )


@blueprint.post("/muted")
def add_mute():
    try:
        mute = get_store().add_mute(request.form.get("phrase", ""))
    except InvalidInputError as exc:
        flash(f"Not muted: {exc}", "error")
    else:
        flash(f"Muted “{mute.phrase}”: posts that say it are hidden from your timelines.")
    return done(url_for("people.muted"))


@blueprint.post("/muted/<int:mute_id>/remove")
def remove_mute(mute_id: int):
    get_store().remove_mute(mute_id)
    flash("No longer muted.")
    return done(url_for("people.muted"))
