"""What a user chose not to see: people (``people.is_muted``) and words or phrases.

Muted posts are hidden from timelines, never reordered or removed: undoing a
mute brings them back where they were, and search finds them on request.
A phrase matches a post's title or text as search does (case and accents
folded, whole words), so "élection" also mutes "Election".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ..errors import InvalidInputError, NotFoundError
from ..models import Mute
from .rows import Base, from_row, iso

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_PHRASE = 200
MAX_MUTES = 500


class MuteNotFoundError(NotFoundError):
    pass


def phrase_words(text: str) -> list[str]:
    return _WORD.findall(text or "")


class MutesMixin(Base):
    user_id: int

    def add_mute(self, phrase: str) -> Mute:
        words = phrase_words(phrase[:MAX_PHRASE])
        if not words:
            raise InvalidInputError("type a word or phrase to mute")
        phrase = " ".join(words)
        with self._transaction():
            if self._value("SELECT count(*) FROM mutes WHERE user_id = ?", [self.user_id]) >= MAX_MUTES:
                raise InvalidInputError(f"at most {MAX_MUTES} muted phrases")
            self.db.execute(
                "INSERT INTO mutes (user_id, phrase, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [self.user_id, phrase, iso(datetime.now(UTC))],
            )
        row = self._one("SELECT * FROM mutes WHERE user_id = ? AND phrase = ?", [self.user_id, phrase])
        return from_row(Mute, row)

    def list_mutes(self) -> list[Mute]:
        rows = self._all("SELECT * FROM mutes WHERE user_id = ? ORDER BY lower(phrase)", [self.user_id])
        return [from_row(Mute, row) for row in rows]

    def remove_mute(self, mute_id: int) -> None:
        with self._transaction():
            cursor = self.db.execute("DELETE FROM mutes WHERE id = ? AND user_id = ?", [mute_id, self.user_id])
        if cursor.rowcount == 0:
            raise MuteNotFoundError(f"no muted phrase {mute_id}")

    def _mute_conditions(self, *, people: bool) -> tuple[list[str], dict]:
        """SQL conditions (over ``e`` and ``p``) that leave out muted posts, and their parameters.

        The phrase list becomes one FTS5 query over title and text, its match
        set built once per query (``NOT IN`` a subquery), not once per row.
        """
        where: list[str] = ["p.is_muted = 0"] if people else []
        phrases = [
            '"' + " ".join(phrase_words(row["phrase"])) + '"'
            for row in self._all("SELECT phrase FROM mutes WHERE user_id = ?", [self.user_id])
        ]
        params: dict = {}
        if phrases:
            where.append("e.id NOT IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH :muted_phrases)")
            params["muted_phrases"] = "{title text} : (" + " OR ".join(phrases) + ")"
        return where, params
