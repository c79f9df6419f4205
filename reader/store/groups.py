"""A user's groups: the folders of their OPML file, nested, each a timeline of its own."""

from __future__ import annotations

from datetime import datetime

from ..collation import sort_key
from ..errors import GroupNotFoundError
from ..models import Group
from .rows import Base, from_row, iso

MAX_GROUPS_WALKED = 10_000


def group_paths(rows: list[dict]) -> dict[int, tuple[str, ...]]:
    """Each group's path from the outermost folder in, given all of a user's group rows.

    The one place a path is computed. A parent cycle (only a hand-edited
    database has one) ends the path rather than looping.
    """
    by_id = {row["id"]: row for row in rows}
    paths: dict[int, tuple[str, ...]] = {}
    for group_id in by_id:
        names, seen, current = [], set(), group_id
        while current in by_id and current not in seen:
            seen.add(current)
            names.append(by_id[current]["name"])
            current = by_id[current]["parent_id"]
        paths[group_id] = tuple(reversed(names))
    return paths


class GroupsMixin(Base):
    user_id: int

    def list_groups(self) -> list[Group]:
        rows = self._all(
            "SELECT g.id, g.name, g.parent_id, count(s.id) AS feed_count FROM groups g"
            " LEFT JOIN subscriptions s ON s.group_id = g.id WHERE g.user_id = ? GROUP BY g.id",
            [self.user_id],
        )
        paths = group_paths(rows)
        groups = [from_row(Group, row, path=paths[row["id"]]) for row in rows]
        return sorted(groups, key=lambda g: ([sort_key(part) for part in g.path], g.id))

    def get_group(self, group_id: int) -> Group:
        for group in self.list_groups():  # a group's path needs its ancestors anyway
            if group.id == group_id:
                return group
        raise GroupNotFoundError(f"no group {group_id}")

    def _group_paths(self) -> dict[int, tuple[str, ...]]:
        return group_paths(self._all("SELECT id, name, parent_id FROM groups WHERE user_id = ?", [self.user_id]))

    def _ensure_group(self, path: tuple[str, ...], now: datetime) -> int | None:
        """The id of the group at ``path``, creating the missing folders; None for no path."""
        parent_id = None
        for name in path:
            found = self._value(
                "SELECT id FROM groups WHERE user_id = ? AND coalesce(parent_id, 0) = ? AND name = ?",
                [self.user_id, parent_id or 0, name],
            )
            if found is None:
                found = self._insert(
                    "INSERT INTO groups (user_id, parent_id, name, created_at) VALUES (?, ?, ?, ?)",
                    [self.user_id, parent_id, name, iso(now)],
                )
            parent_id = found
        return parent_id

    def _drop_empty_groups(self) -> None:
        """Groups with neither feeds nor subgroups go, so the folder list stays what the user has."""
        self.db.execute(
            "DELETE FROM groups WHERE user_id = ? AND id NOT IN (SELECT group_id FROM subscriptions"
            " WHERE group_id IS NOT NULL) AND id NOT IN (SELECT parent_id FROM groups WHERE parent_id IS NOT NULL)",
            [self.user_id],
        )

    def _group_and_descendants(self, group_id: int) -> list[int]:
        children: dict[int | None, list[int]] = {}
        for row in self._all("SELECT id, parent_id FROM groups WHERE user_id = ?", [self.user_id]):
            children.setdefault(row["parent_id"], []).append(row["id"])
        found, todo = [], [group_id]
        while todo and len(found) < MAX_GROUPS_WALKED:
            current = todo.pop()
            if current in found:
                continue
            found.append(current)
            todo.extend(children.get(current, []))
        return found
