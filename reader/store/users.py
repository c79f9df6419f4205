"""The accounts of an install. Until accounts have passwords, everything belongs to the local user."""

from __future__ import annotations

import re
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
    """Accounts. An install without any has one user, the local one, and needs no login (on loopback)."""

    def add_user(self, name: str, password_hash: str | None = None) -> User:
        """A new account; the install's first one takes over the local user and everything it has."""
        name = _user_name(name)
        with self._transaction():
            existing = self.get_user_by_name_or_none(name)
            if existing is not None:
                raise InvalidInputError(f"there is already a user named {existing.name}")
            local = self._one("SELECT id FROM users WHERE id = ? AND password_hash IS NULL", [LOCAL_USER])
            if password_hash is not None and local is not None and not self.has_accounts():
                self.db.execute(
                    "UPDATE users SET name = ?, password_hash = ? WHERE id = ?", [name, password_hash, LOCAL_USER]
                )
                return self.get_user(LOCAL_USER)
            user_id = self._insert(
                "INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?)",
                [name, password_hash, iso(datetime.now(UTC))],
            )
        return self.get_user(user_id)

    def get_user(self, user_id: int) -> User:
        row = self._one("SELECT * FROM users WHERE id = ?", [user_id])
        if row is None:
            raise UserNotFoundError(f"no user {user_id}")
        return from_row(User, row)

    def get_user_by_name(self, name: str) -> User:
        user = self.get_user_by_name_or_none(name)
        if user is None:
            raise UserNotFoundError(f"no user named {name}")
        return user

    def get_user_by_name_or_none(self, name: str) -> User | None:
        """Names match whatever their case, in any script ("ZOÉ" is "zoé"; SQLite's NOCASE is ASCII only)."""
        wanted = name.strip().casefold()
        for row in self._all("SELECT * FROM users ORDER BY id"):  # a few accounts: no index needed
            if row["name"].casefold() == wanted:
                return from_row(User, row)
        return None

    def list_users(self) -> list[User]:
        return [from_row(User, row) for row in self._all("SELECT * FROM users ORDER BY id")]

    def has_accounts(self) -> bool:
        """Whether any user has a password: from then on, the web app asks everyone to log in."""
        return bool(self._one("SELECT 1 FROM users WHERE password_hash IS NOT NULL LIMIT 1"))

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        self.get_user(user_id)
        with self._transaction():
            self.db.execute("UPDATE users SET password_hash = ? WHERE id = ?", [password_hash, user_id])

    def remove_user(self, user_id: int) -> None:
        """Delete an account and everything that is theirs; feeds nobody else follows go too."""
        self.get_user(user_id)
        with self._transaction():
            self.db.execute("DELETE FROM users WHERE id = ?", [user_id])  # cascades to what is theirs
            self.db.execute("DELETE FROM feeds WHERE id NOT IN (SELECT feed_id FROM subscriptions)")


def _user_name(text: str) -> str:
    name = (text or "").strip()
    if not re.fullmatch(r"[\w.@+-]{1,64}", name):
        raise InvalidInputError("a user name is 1 to 64 letters, digits or . @ + - _, without spaces")
    return name


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
