"""Full-text search over the entries a user can see (FTS5), newest first, with highlighted snippets."""

from __future__ import annotations

import re

from ..models import MATCH_END, MATCH_START, TimelineItem
from .entries import ITEM_SQL, item_from_row
from .mutes import MutesMixin

_WORD = re.compile(r"\w+", re.UNICODE)
_PHRASE = re.compile(r'"([^"]*)"')
MAX_TERMS = 32


def fts_query(text: str) -> str | None:
    """A user's search text as an FTS5 query that can never be a syntax error.

    Quoted phrases stay phrases; everything else is reduced to words, each
    quoted, all required. FTS5 operators typed by the user are just words.
    """
    parts = []
    for phrase in _PHRASE.findall(text):
        words = _WORD.findall(phrase)
        if words:
            parts.append('"' + " ".join(words) + '"')
    rest = _PHRASE.sub(" ", text)
    parts.extend(f'"{word}"' for word in _WORD.findall(rest))
    return " ".join(parts[:MAX_TERMS]) or None


class SearchMixin(MutesMixin):
    user_id: int

    # Up to this many matches are sorted by date; beyond, the timeline is walked.
    _FEW_MATCHES = 1000

    def search(self, text: str, *, limit: int = 50, offset: int = 0, show_muted: bool = False) -> list[TimelineItem]:
        """Entries matching ``text`` (title, author, text), newest first, with highlighted snippets.

        Muted people and phrases are left out unless ``show_muted``.

        Two steps: the page of ids (``_search_page_ids``), then snippets and
        highlights for those ids only. Sorting every match of a common word by
        date took ~100 ms on 53k entries; see docs/design.md.
        """
        query = fts_query(text)
        if query is None:
            return []
        params = {"user": self.user_id, "query": query, "limit": limit, "offset": offset}
        mutes: list[str] = []
        if not show_muted:
            mutes, mute_params = self._mute_conditions(people=True)
            params.update(mute_params)
        ids = self._search_page_ids(params, "".join(f" AND {condition}" for condition in mutes))
        if not ids:
            return []
        marks = ", ".join(str(int(i)) for i in ids)
        found = {row["id"]: row for row in self._all(ITEM_SQL + f" WHERE e.id IN ({marks})", params)}
        snippets = {
            row["rowid"]: row
            for row in self._all(
                f"SELECT rowid, snippet(entries_fts, 2, '{MATCH_START}', '{MATCH_END}', '…', 30) AS snippet,"
                f" highlight(entries_fts, 0, '{MATCH_START}', '{MATCH_END}') AS title_marked"
                f" FROM entries_fts WHERE entries_fts MATCH :query AND rowid IN ({marks})",
                params,
            )
        }
        items = []
        for entry_id in ids:
            marked = snippets.get(entry_id, {})
            row = {**found[entry_id], "snippet": marked.get("snippet"), "title_marked": marked.get("title_marked")}
            items.append(item_from_row(row))
        return items

    def _search_page_ids(self, params: dict, hidden: str) -> list[int]:
        """Ids of one page of matches, newest first, by whichever way reads less.

        Few matches (a rare word): take them all from the index and sort them.
        Many (a common word): walk the timeline and keep the matching entries;
        the page fills long before the walk ends.
        """
        probe = [
            row["rowid"]
            for row in self._all(
                "SELECT rowid FROM entries_fts WHERE entries_fts MATCH :query LIMIT :few",
                {**params, "few": self._FEW_MATCHES + 1},
            )
        ]
        if not probe:
            return []
        if len(probe) <= self._FEW_MATCHES:
            sql = (
                "SELECT e.id FROM entries e JOIN subscriptions s ON s.feed_id = e.feed_id AND s.user_id = :user"
                " JOIN people p ON p.id = s.person_id"
                f" WHERE e.id IN ({', '.join(str(int(i)) for i in probe)}){hidden}"
                " ORDER BY e.sort_at DESC, e.id DESC LIMIT :limit OFFSET :offset"
            )
        else:
            sql = (
                "SELECT e.id FROM entries e INDEXED BY entries_timeline"
                " CROSS JOIN subscriptions s ON s.feed_id = e.feed_id AND s.user_id = :user"
                " JOIN people p ON p.id = s.person_id"
                f" WHERE e.id IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH :query){hidden}"
                " ORDER BY e.sort_at DESC, e.id DESC LIMIT :limit OFFSET :offset"
            )
        return [row["id"] for row in self._all(sql, params)]
