"""The accounts of an install. Until accounts have passwords, everything belongs to the local user."""

from __future__ import annotations

from datetime import UTC, datetime

from ..errors import NotFoundError
from ..models import User
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
        row = self._one("SELECT id, name, created_at FROM users WHERE id = ?", [user_id])
        if row is None:
            raise UserNotFoundError(f"no user {user_id}")
        return from_row(User, row)

    def list_users(self) -> list[User]:
        return [from_row(User, row) for row in self._all("SELECT id, name, created_at FROM users ORDER BY id")]
