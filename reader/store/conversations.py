"""A user's conversation log: the replies they say they wrote, and how each stands.

Nothing is recorded by following a reply link: the user says "I wrote to
them" on the reply page. The post's title and address are copied, so the
log outlives the post.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ..channels import KINDS
from ..errors import InvalidInputError, NotFoundError
from ..models import Conversation
from .entries import EntriesMixin
from .rows import from_row, iso, parse_dt

STATUSES = {"waiting": "Waiting for an answer", "answered": "They answered", "closed": "Closed"}
REPLY_KINDS = {*KINDS, "comments", "comment_feed", "other"}
MAX_NOTE = 5_000

_SQL = "SELECT c.*, p.name AS person_name FROM conversations c JOIN people p ON p.id = c.person_id"


class ConversationNotFoundError(NotFoundError):
    pass


class ConversationsMixin(EntriesMixin):
    user_id: int

    def record_conversation(
        self, entry_id: int, channel_kind: str, channel_value: str | None = None, *, note: str = ""
    ) -> Conversation:
        """The user wrote to a post's author by ``channel_kind``: log it, waiting for an answer."""
        item = self.get_timeline_item(entry_id)
        if channel_kind not in REPLY_KINDS:
            raise InvalidInputError(f"unknown way of replying {channel_kind!r}")
        now = iso(datetime.now(UTC))
        with self._transaction():
            conversation_id = self._insert(
                "INSERT INTO conversations (user_id, person_id, entry_id, entry_url, entry_title, channel_kind,"
                " channel_value, started_at, status, note, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'waiting', ?, ?)",
                [
                    self.user_id,
                    item.person_id,
                    entry_id,
                    item.entry.link,
                    item.entry.title,
                    channel_kind,
                    (channel_value or "")[:500] or None,
                    now,
                    note.strip()[:MAX_NOTE],
                    now,
                ],
            )
        return self.get_conversation(conversation_id)

    def get_conversation(self, conversation_id: int) -> Conversation:
        row = self._one(_SQL + " WHERE c.id = ? AND c.user_id = ?", [conversation_id, self.user_id])
        if row is None:
            raise ConversationNotFoundError(f"no conversation {conversation_id}")
        return from_row(Conversation, row)

    def list_conversations(self, *, person_id: int | None = None, limit: int = 500) -> list[Conversation]:
        """Newest first: everyone's, or one person's."""
        where, params = " WHERE c.user_id = ?", [self.user_id]
        if person_id is not None:
            where, params = where + " AND c.person_id = ?", params + [person_id]
        rows = self._all(_SQL + where + " ORDER BY c.started_at DESC, c.id DESC LIMIT ?", params + [limit])
        return [from_row(Conversation, row) for row in rows]

    def update_conversation(
        self, conversation_id: int, *, status: str | None = None, note: str | None = None
    ) -> Conversation:
        self.get_conversation(conversation_id)
        if status is not None and status not in STATUSES:
            raise InvalidInputError(f"status must be one of {', '.join(STATUSES)}")
        with self._transaction():
            self.db.execute(
                "UPDATE conversations SET status = coalesce(?, status), note = coalesce(?, note), updated_at = ?"
                " WHERE id = ? AND user_id = ?",
                [
                    status,
                    note.strip()[:MAX_NOTE] if note is not None else None,
                    iso(datetime.now(UTC)),
                    conversation_id,
                    self.user_id,
                ],
            )
        return self.get_conversation(conversation_id)

    def delete_conversation(self, conversation_id: int) -> None:
        self.get_conversation(conversation_id)
        with self._transaction():
            self.db.execute("DELETE FROM conversations WHERE id = ? AND user_id = ?", [conversation_id, self.user_id])

    def last_wrote_at(self, person_id: int) -> datetime | None:
        """When the user last wrote to the person (None: never)."""
        return parse_dt(
            self._value(
                "SELECT max(started_at) FROM conversations WHERE person_id = ? AND user_id = ?",
                [person_id, self.user_id],
            )
        )
