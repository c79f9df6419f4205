"""How names sort: the key a list of people (or groups) is ordered by.

French readers look "Émilie" up beside "Emilie", "éric" with "Eric", "Œdipe" under O and
"« Le Monde »" under L. Python and SQLite compare code points, which put every accented
capital after "z". The key folds case and accents so that plain code-point order (SQLite's
BINARY collation, Python's ``<``) comes out in dictionary order; ties are the caller's to break
(by id), so the key need not tell two names apart.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

# Letters that Unicode does not decompose into a base letter and a mark: spelt out as a
# dictionary files them ("œ" under "oe", "ø" under "o").
_LETTERS = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})
# Anything that is not a letter or a digit (quotes, guillemets, dashes, apostrophes, "@"):
# a word break, so "Jean-Pierre" files with "Jean Pierre" and "L'Équipe" with "L Équipe".
_BREAKS = re.compile(r"[\W_]+")


def listing_key(group_path: Sequence[str], name: str) -> tuple[list[str], str]:
    """Where a subscription goes in a list of them: by group, folder by folder, then by name."""
    return [sort_key(part) for part in group_path], sort_key(name)


def sort_key(name: str) -> str:
    """``name`` case-folded, without accents, ligatures spelt out, leading quotes and punctuation
    dropped and every other run of them one space: "« Le Monde »" -> "le monde", "Œdipe" -> "oedipe".

    Deterministic and never raising: the database calls it from a trigger on every name it stores.
    """
    if not isinstance(name, str):  # a trigger may hand over whatever a column holds
        name = "" if name is None else str(name)
    # casefold first, so that what it produces ("ß" -> "ss") is decomposed too.
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    folded = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_LETTERS)
    key = " ".join(word for word in _BREAKS.split(folded) if word)
    # A name of symbols only ("☕", "???") keeps them, rather than every such name sharing "".
    return key or folded.strip()
