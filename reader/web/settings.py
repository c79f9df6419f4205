"""The user's own choices (whether pictures of people load, where their fediverse account lives), and their data:
all of it as one JSON file to take elsewhere, and such a file merged back in."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from ..errors import InvalidInputError
from ..userdata import UserDataError, import_user_data, write_user_data
from .pages import get_store

blueprint = Blueprint("settings", __name__, url_prefix="/settings")


@blueprint.get("")
def index():
    return render_template("settings.html", settings=get_store().get_settings())


@blueprint.post("")
def save():
    try:
        get_store().update_settings(
            show_avatars=request.form.get("show_avatars") == "1",
            fediverse_instance=request.form.get("fediverse_instance", ""),
        )
    except InvalidInputError as exc:
        flash(f"Not saved: {exc}", "error")
    else:
        flash("Saved.")
    return redirect(url_for("settings.index"), code=303)


@blueprint.get("/export.json")
def export_data():
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    return Response(
        write_user_data(get_store()),
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="causerie-{day}.json"',
            "Cache-Control": "no-store",  # personal data: no copy in a shared cache
        },
    )


@blueprint.post("/import")
def import_data():
    upload = request.files.get("data")
    if upload is None or not upload.filename:
        flash("Choose a Causerie export (.json) to import.", "error")
        return redirect(url_for("settings.index"), code=303)
    return merge_upload(upload.read(), url_for("settings.index"))


def merge_upload(data: bytes, back_to: str):
    try:
        report = import_user_data(get_store(), data)
    except UserDataError as exc:
        flash(f"Nothing imported: {exc}", "error")
        return redirect(back_to, code=303)
    flash(
        f"Imported {report.people_added} people ({report.people_matched} already here), {report.feeds_added} feeds,"
        f" {report.states_set} read or saved marks and {report.conversations_added} conversations."
    )
    return redirect(back_to, code=303)
