"""The accounts of an install. Until accounts have passwords, everything belongs to the local user."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from ..errors import InvalidInputError, NotFoundError
from ..models import User
from ..urls import typed_http_url
from .rows import Base, from_row, iso

# The account the first migration creates: the single user of an install
# without accounts (the CLI, and the web app on loopback).
LOCAL_USER = 1


class UserNotFoundError(NotFoundError):
    pass


class UsersMixin(Base):
    def add_user(self, name: str) -> User:
        with self._transaction():
            user_id = self._insert("INSERT INTO users (name, created_at) VALUES (?, ?)", [name, iso(datetime.now(UTC))])
        return self.get_user(user_id)

    def get_user(self, user_id: int) -> User:
        row = self._one("SELECT * FROM users WHERE id = ?", [user_id])
        if row is None:
            raise UserNotFoundError(f"no user {user_id}")
        return from_row(User, row)

    def list_users(self) -> list[User]:
        return [from_row(User, row) for row in self._all("SELECT * FROM users ORDER BY id")]


class SettingsMixin(UsersMixin):
    """The current user's own choices."""

    user_id: int

    def get_settings(self) -> User:
        return self.get_user(self.user_id)

    def update_settings(self, *, show_avatars: bool | None = None, fediverse_instance: str | None = None) -> User:
        """``fediverse_instance``: the user's own server, typed as "mastodon.social" or a URL; "" clears it."""
        changes: dict[str, object] = {}
        if show_avatars is not None:
            changes["show_avatars"] = int(show_avatars)
        if fediverse_instance is not None:
            changes["fediverse_instance"] = instance_url(fediverse_instance)
        if changes:
            assignments = ", ".join(f"{column} = :{column}" for column in changes)
            with self._transaction():
                self.db.execute(f"UPDATE users SET {assignments} WHERE id = :id", {**changes, "id": self.user_id})
        return self.get_settings()


def instance_url(text: str) -> str | None:
    """A fediverse server as the user types it ("mastodon.social", "@ana@mastodon.social", a URL) → its root URL."""
    text = (text or "").strip()
    if not text:
        return None
    if text.startswith("@") and text.count("@") == 2:
        text = text.rsplit("@", 1)[1]
    url = typed_http_url(text)
    if url is None:
        raise InvalidInputError(f"not a server address: {text[:200]}")
    parts = urlsplit(url)
    return f"https://{parts.netloc.lower()}"
