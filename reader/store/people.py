"""A user's people: who writes the feeds they follow.

A person lives until the user deletes them. Unsubscribing from their last
feed leaves them, with everything the user keeps about them.
"""

from __future__ import annotations

from datetime import datetime

from ..errors import PersonNotFoundError
from ..models import Person
from .rows import Base, from_row, iso

_PERSON_SQL = (
    "SELECT p.id, p.name, count(s.id) AS feed_count FROM people p"
    " LEFT JOIN subscriptions s ON s.person_id = p.id AND s.user_id = p.user_id"
)


class PeopleMixin(Base):
    user_id: int

    def list_people(self) -> list[Person]:
        rows = self._all(
            _PERSON_SQL + " WHERE p.user_id = ? GROUP BY p.id ORDER BY lower(p.name), p.id", [self.user_id]
        )
        return [from_row(Person, row) for row in rows]

    def get_person(self, person_id: int) -> Person:
        row = self._one(_PERSON_SQL + " WHERE p.user_id = ? AND p.id = ? GROUP BY p.id", [self.user_id, person_id])
        if row is None:
            raise PersonNotFoundError(f"no person {person_id}")
        return from_row(Person, row)

    def rename_person(self, person_id: int, name: str) -> None:
        self.get_person(person_id)
        with self._transaction():
            self.db.execute(
                "UPDATE people SET name = ?, is_auto_named = 0 WHERE id = ? AND user_id = ?",
                [name, person_id, self.user_id],
            )

    def _create_person(self, name: str, now: datetime, *, auto_named: bool = True) -> int:
        return self._insert(
            "INSERT INTO people (user_id, name, is_auto_named, created_at) VALUES (?, ?, ?, ?)",
            [self.user_id, name, int(auto_named), iso(now)],
        )
