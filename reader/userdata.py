"""The full export of one user's data as JSON, and its import: so a user can leave, or move servers.

``write_user_data`` turns ``UserStore.export_user_data`` into a file;
``read_user_data`` checks a file field by field before anything is written
(a bad file imports nothing, and the error says where it is wrong), and
``import_user_data`` merges it in one transaction (store/portable.py says how).
The format is described in docs/design.md ("Leaving with your data").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from .channels import KINDS, channel_or_none
from .errors import ReaderError
from .models import ParsedEntry
from .store import UserStore
from .store.conversations import REPLY_KINDS, STATUSES
from .store.portable import DataImportReport

FORMAT = "causerie-user-data"
VERSION = 1
MAX_BYTES = 200 * 2**20  # a decade of reading is a few tens of MB


class UserDataError(ReaderError):
    pass


def looks_like_user_data(data: bytes) -> bool:
    """A JSON object (an OPML file starts with ``<``): how ``reader import`` tells the two apart."""
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def write_user_data(store: UserStore) -> bytes:
    return json.dumps(store.export_user_data(), ensure_ascii=False, indent=1).encode("utf-8") + b"\n"


def import_user_data(store: UserStore, data: bytes) -> DataImportReport:
    from .update import derive  # the pipeline (HTTP client, parser) loads only when a file comes in

    document = read_user_data(data)
    prepared = {}
    for entry in document["entries"]:
        parsed = ParsedEntry(
            guid=entry["guid"],
            title=entry["title"],
            link=entry["link"],
            author_name=entry["author_name"],
            summary=entry["summary"],
            content=entry["content"],
            published_at=_datetime(entry["published_at"]),
            updated_at=_datetime(entry["updated_at"]),
        )
        prepared[(entry["feed_url"], entry["guid"])] = (parsed, derive(parsed))
    return store.import_user_data(document, prepared)


# -- checking -------------------------------------------------------------------

_TEXT, _OPTIONAL_TEXT, _BOOL, _OPTIONAL_TIME = "text", "optional text", "bool", "optional time"


def read_user_data(data: bytes) -> dict:
    """The document in ``data``, every field checked and defaulted; ``UserDataError`` says what is wrong where."""
    if len(data) > MAX_BYTES:
        raise UserDataError(f"the file is larger than {MAX_BYTES // 2**20} MB")
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise UserDataError(f"not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise UserDataError(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise UserDataError(f'not a Causerie export (no "format": "{FORMAT}")')
    if document.get("version") != VERSION:
        raise UserDataError(
            f"export version {document.get('version')!r} is not one this Causerie reads (it reads {VERSION})"
        )
    account = _record(document.get("account") or {}, "account", show_avatars=_BOOL, fediverse_instance=_OPTIONAL_TEXT)
    groups = [_path(path, f"groups[{i}]") for i, path in enumerate(_list(document, "groups", "groups"))]
    people = [_person(person, f"people[{i}]") for i, person in enumerate(_list(document, "people", "people"))]
    ids = [person["id"] for person in people]
    if len(set(ids)) != len(ids):
        raise UserDataError("people: two people have the same id")
    mutes = [
        _record(mute, f"mutes[{i}]", phrase=_TEXT, created_at=_OPTIONAL_TIME)
        for i, mute in enumerate(_list(document, "mutes", "mutes"))
    ]
    entries = [_entry(entry, f"entries[{i}]") for i, entry in enumerate(_list(document, "entries", "entries"))]
    conversations = []
    for i, talk in enumerate(_list(document, "conversations", "conversations")):
        where = f"conversations[{i}]"
        checked = _record(
            talk,
            where,
            feed_url=_OPTIONAL_TEXT,
            guid=_OPTIONAL_TEXT,
            entry_url=_OPTIONAL_TEXT,
            entry_title=_OPTIONAL_TEXT,
            channel_kind=_TEXT,
            channel_value=_OPTIONAL_TEXT,
            started_at=_OPTIONAL_TIME,
            status=_TEXT,
            note=_OPTIONAL_TEXT,
            updated_at=_OPTIONAL_TIME,
        )
        checked["person"] = talk.get("person")
        if checked["person"] not in ids:
            raise UserDataError(f"{where}.person: no person has the id {checked['person']!r}")
        if checked["status"] not in STATUSES:
            raise UserDataError(f"{where}.status: {checked['status']!r} is not one of {', '.join(STATUSES)}")
        if checked["channel_kind"] not in REPLY_KINDS:
            raise UserDataError(f"{where}.channel_kind: unknown way of replying {checked['channel_kind']!r}")
        if checked["started_at"] is None:
            raise UserDataError(f"{where}.started_at: missing")
        checked["note"] = checked["note"] or ""
        conversations.append(checked)
    return {
        "account": account,
        "groups": groups,
        "people": people,
        "mutes": mutes,
        "entries": entries,
        "conversations": conversations,
    }


def _person(person: object, where: str) -> dict:
    checked = _record(
        person,
        where,
        name=_TEXT,
        named_by_user=_BOOL,
        home_url=_OPTIONAL_TEXT,
        avatar_url=_OPTIONAL_TEXT,
        notes=_OPTIONAL_TEXT,
        is_muted=_BOOL,
    )
    checked["notes"] = checked["notes"] or ""
    if not checked["name"].strip():
        raise UserDataError(f"{where}.name: empty")
    checked["id"] = person.get("id")
    if not isinstance(checked["id"], int | str) or isinstance(checked["id"], bool):
        raise UserDataError(f"{where}.id: expected a number or a string")
    checked["channels"] = []
    for i, channel in enumerate(_list(person, "channels", f"{where}.channels")):
        at = f"{where}.channels[{i}]"
        one = _record(
            channel,
            at,
            kind=_TEXT,
            value=_TEXT,
            label=_OPTIONAL_TEXT,
            source=_OPTIONAL_TEXT,
            source_url=_OPTIONAL_TEXT,
            found_at=_OPTIONAL_TIME,
            is_verified=_BOOL,
            verified_at=_OPTIONAL_TIME,
            is_dismissed=_BOOL,
        )
        if one["kind"] not in KINDS:
            raise UserDataError(f"{at}.kind: unknown kind of channel {one['kind']!r}")
        value = channel_or_none(one["kind"], one["value"])
        if value is None:
            raise UserDataError(f"{at}.value: not a valid {one['kind']}: {one['value'][:200]!r}")
        one["value"] = value
        one["source"] = one["source"] or "user"
        checked["channels"].append(one)
    preferred = person.get("preferred_channel")
    checked["preferred_channel"] = (
        _record(preferred, f"{where}.preferred_channel", kind=_TEXT, value=_TEXT) if preferred is not None else None
    )
    checked["feeds"] = []
    for i, feed in enumerate(_list(person, "feeds", f"{where}.feeds")):
        at = f"{where}.feeds[{i}]"
        one = _record(feed, at, url=_TEXT, title=_OPTIONAL_TEXT, feed_title=_OPTIONAL_TEXT, site_url=_OPTIONAL_TEXT)
        if not one["url"].startswith(("http://", "https://")):
            raise UserDataError(f"{at}.url: not an http(s) URL: {one['url'][:200]!r}")
        one["group"] = _path(feed.get("group") or [], f"{at}.group")
        checked["feeds"].append(one)
    return checked


def _entry(entry: object, where: str) -> dict:
    checked = _record(
        entry,
        where,
        feed_url=_TEXT,
        guid=_TEXT,
        title=_OPTIONAL_TEXT,
        link=_OPTIONAL_TEXT,
        author_name=_OPTIONAL_TEXT,
        published_at=_OPTIONAL_TIME,
        updated_at=_OPTIONAL_TIME,
        first_seen_at=_OPTIONAL_TIME,
        summary=_OPTIONAL_TEXT,
        content=_OPTIONAL_TEXT,
        is_read=_BOOL,
        read_at=_OPTIONAL_TIME,
        is_saved=_BOOL,
        saved_at=_OPTIONAL_TIME,
    )
    watched = entry.get("watched")
    checked["watched"] = (
        _record(watched, f"{where}.watched", last_visit_at=_OPTIONAL_TIME, created_at=_OPTIONAL_TIME)
        if watched is not None
        else None
    )
    return checked


def _record(value: object, where: str, /, **fields: str) -> dict:
    """The named fields of the JSON object ``value``, each checked against its kind; missing optional ones None."""
    if not isinstance(value, Mapping):
        raise UserDataError(f"{where}: expected an object")
    checked = {}
    for name, kind in fields.items():
        item = value.get(name)
        at = f"{where}.{name}"
        if kind == _BOOL:
            if item is None:
                item = False
            elif not isinstance(item, bool):
                raise UserDataError(f"{at}: expected true or false")
        elif item is None:
            if kind == _TEXT:
                raise UserDataError(f"{at}: missing")
        elif not isinstance(item, str):
            raise UserDataError(f"{at}: expected a string")
        elif kind == _OPTIONAL_TIME:
            if _datetime(item) is None:
                raise UserDataError(f"{at}: not a date and time: {item[:40]!r}")
        elif len(item) > 2_000_000:
            raise UserDataError(f"{at}: longer than 2,000,000 characters")
        checked[name] = item
    return checked


def _list(document: Mapping, key: str, where: str) -> list:
    value = document.get(key, [])
    if not isinstance(value, list):
        raise UserDataError(f"{where}: expected a list")
    return value


def _path(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(name, str) and name.strip() for name in value):
        raise UserDataError(f"{where}: expected a list of folder names")
    return value


def _datetime(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None
