"""The user's own choices: whether pictures of people load, and where their fediverse account lives."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from ..errors import InvalidInputError
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
