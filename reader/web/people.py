"""People: everyone the user follows, and one person's page."""

from __future__ import annotations

from flask import Blueprint, render_template

from .pages import get_store, render_timeline

blueprint = Blueprint("people", __name__, url_prefix="/people")


@blueprint.get("")
def index():
    return render_template("people.html", people=get_store().list_people())


@blueprint.get("/<int:person_id>")
def person(person_id: int):
    found = get_store().get_person(person_id)
    return render_timeline(found.name, person=found)
