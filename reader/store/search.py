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

    # Matches are read from the index newest id first: a page's worth and a quarter more, plus this
    # many, then twice as many each time; past _MAX_SETTLING of them, the timeline is walked instead.
    _MARGIN = 10
    _MAX_SETTLING = 20_000

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
        # FTS5 seeks to a range of rowids, where a list of them costs a query each (100 ms for a
        # phrase); "rowid + 0" keeps the list a mere filter, tested before any snippet is made.
        snippets = {
            row["rowid"]: row
            for row in self._all(
                f"SELECT rowid, snippet(entries_fts, 2, '{MATCH_START}', '{MATCH_END}', '…', 30) AS snippet,"
                f" highlight(entries_fts, 0, '{MATCH_START}', '{MATCH_END}') AS title_marked"
                f" FROM entries_fts WHERE entries_fts MATCH :query AND rowid BETWEEN {min(ids)} AND {max(ids)}"
                f" AND rowid + 0 IN ({marks})",
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
        """Ids of one page of matches in timeline order (newest ``sort_at`` first, then id).

        The search index gives matches newest id first, and stops as soon as it has enough: cheap
        even for a phrase of common words, whose every match the index would otherwise have to
        find (100-300 ms at 200,000 entries). Ids follow the order entries were first seen, and an
        entry's time is never later than that, so the matches read so far are in their final order
        down to ``bound``: the latest time of any entry older (by id) than the last match read.
        Matches from that time on are settled; when they are too few for the page, more are read.
        See docs/design.md, "Search".
        """
        wanted = params["offset"] + params["limit"]
        found: list[tuple[str, int]] = []  # (sort_at, id) of the user's visible matches read so far
        below = None
        batch = wanted + wanted // 4 + self._MARGIN
        read = 0
        while read < self._MAX_SETTLING:
            window = "" if below is None else " AND rowid < :below"
            ids = [
                row["rowid"]
                for row in self._all(
                    f"SELECT rowid FROM entries_fts WHERE entries_fts MATCH :query{window}"
                    " ORDER BY rowid DESC LIMIT :batch",
                    {**params, "below": below, "batch": batch},
                )
            ]
            read += len(ids)
            if ids:
                found += [
                    (row["sort_at"], row["id"])
                    for row in self._all(
                        "SELECT e.id, e.sort_at FROM entries e"
                        " JOIN subscriptions s ON s.feed_id = e.feed_id AND s.user_id = :user"
                        " JOIN people p ON p.id = s.person_id"
                        f" WHERE e.id IN ({', '.join(str(int(i)) for i in ids)}){hidden}",
                        params,
                    )
                ]
            found.sort(reverse=True)
            if len(ids) < batch:  # the index has no more: every match is known
                return [entry_id for _, entry_id in found[params["offset"] : wanted]]
            below = ids[-1]
            bound = self._value(
                "SELECT sort_at FROM entries INDEXED BY entries_timeline WHERE id < ?"
                " ORDER BY sort_at DESC, id DESC LIMIT 1",
                [below],
            )
            # An older entry with the bound's very time sorts after these: a smaller id.
            settled = [match for match in found if bound is None or match[0] >= bound]
            if len(settled) >= wanted:
                return [entry_id for _, entry_id in settled[params["offset"] : wanted]]
            batch *= 2
        # Ids far out of time order (posts imported with their old dates): walk the timeline and
        # keep the matches, which is right whatever the order of ids.
        sql = (
            "SELECT e.id FROM entries e INDEXED BY entries_timeline"
            " CROSS JOIN subscriptions s ON s.feed_id = e.feed_id AND s.user_id = :user"
            " JOIN people p ON p.id = s.person_id"
            f" WHERE e.id IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH :query){hidden}"
            " ORDER BY e.sort_at DESC, e.id DESC LIMIT :limit OFFSET :offset"
        )
        return [row["id"] for row in self._all(sql, params)]
