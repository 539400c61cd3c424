"""Which open items read like a new one: the "me too" suggestions.

Texts are compared with rapidfuzz's token_sort_ratio after folding case and accents and dropping
punctuation: the same words in another order score 100, a typo costs a few points, and words in
common decide more than their order. Chosen by measurement against the labelled pairs in
tests/matching_pairs.py, beside rapidfuzz's other scorers and PostgreSQL's pg_trgm
(`python -m benchmarks.matching`, docs/matching.md): it had the best recall at a precision of
0.9 or more, and it works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

# At or above this score, two texts are taken to report the same problem.
THRESHOLD = 62.0
_WORDS = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower case, accents off (é → e, ü → u), words only: what the matcher compares."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(_WORDS.findall(utils.default_process(bare)))


def similarity(first: str, second: str) -> float:
    """0 to 100: how alike two texts read."""
    return float(fuzz.token_sort_ratio(fold(first), fold(second)))


@dataclass(frozen=True)
class Match:
    key: int
    score: float


def best_matches(text: str, candidates: Iterable[tuple[int, str]], *, limit: int = 3) -> list[Match]:
    """Up to `limit` candidates (key, text) at or above THRESHOLD, best first."""
    choices: dict[int, str] = {key: fold(candidate) for key, candidate in candidates}
    found: Sequence[tuple[str, float, int]] = process.extract(
        fold(text), choices, scorer=fuzz.token_sort_ratio, score_cutoff=THRESHOLD, limit=limit
    )
    return [Match(key=key, score=float(score)) for _text, score, key in found]


# A search is a few words against whole texts: their words all in an item's text score 100.
SEARCH_THRESHOLD = 70.0


def search(query: str, candidates: Iterable[tuple[int, str]], *, limit: int = 5) -> list[Match]:
    """Up to `limit` candidates (key, text) whose text contains the query's words, or nearly."""
    choices: dict[int, str] = {key: fold(candidate) for key, candidate in candidates}
    found: Sequence[tuple[str, float, int]] = process.extract(
        fold(query), choices, scorer=fuzz.token_set_ratio, score_cutoff=SEARCH_THRESHOLD, limit=limit
    )
    return [Match(key=key, score=float(score)) for _text, score, key in found]
