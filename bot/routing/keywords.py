"""Keywords to suggest for a new route: the words of an item that set it apart.

A word is distinctive when few other recent items use it ("refund" in a shop's triage says little;
"giftcard" says a lot). Common English words, numbers and very short words are never suggested.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

MAX_SUGGESTED = 4
_WORD = re.compile(r"[^\W\d_][\w'-]*[^\W_]|[^\W\d_]{3,}")
_STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
    don't down during each even ever every few for from further get gets getting got had hadn't has
    hasn't have haven't having he her here hers herself him himself his how i i'm if in into is isn't
    it it's its itself just keep keeps kept let's like made make makes many may me more most much must
    my myself need needs never no nor not now of off on once one only or other our ours ourselves out
    over own really said same say says see seems she should shouldn't since so some still such than
    that that's the their theirs them themselves then there there's these they they're this those
    though through to too two under until up us use used using very via was wasn't we we're were
    weren't what when where which while who whom why will with won't would wouldn't yet you you're
    your yours yourself yourselves customer customers client clients user users someone people today
    yesterday again please thanks thank issue issues problem problems anyone everyone nobody thing
    things time times day days week weeks find found show shows showing shown work works working
    worked try tried trying want wants wanted know knew told tell asked ask asking look looks looking
    able unable new old instead seem seemed going went come comes came getting give gives given
    """.split()  # noqa: SIM905 (a word list reads better as text)
)


def too_common(keyword: str) -> bool:
    """A keyword that would route most items: a common word, or one or two letters."""
    folded = keyword.strip().casefold()
    return len(folded) < 3 or folded in _STOPWORDS


def words_of(text: str) -> list[str]:
    """The text's words, lower-cased, in order, without repeats, stopwords or numbers."""
    found = (match.group(0).casefold() for match in _WORD.finditer(text))
    return [word for word in dict.fromkeys(found) if word not in _STOPWORDS and len(word) >= 3]


def distinctive_words(text: str, others: Iterable[str], *, limit: int = MAX_SUGGESTED) -> list[str]:
    """Up to `limit` words of `text` that the fewest of `others` (other items' texts) use, in the
    order they appear in `text`."""
    candidates = words_of(text)
    texts = list(others)
    document_frequency = _document_frequency(texts, set(candidates))
    if len(texts) >= 4:  # a word most items use routes everything: never suggest it
        candidates = [word for word in candidates if document_frequency[word] * 2 <= len(texts)]
    if not candidates:
        return []
    rarity = {word: math.log1p(1 / (1 + document_frequency[word])) for word in candidates}
    # The rarest first; among equally rare words, the longer (more specific) first.
    chosen = sorted(candidates, key=lambda word: (-rarity[word], -len(word), candidates.index(word)))[:limit]
    return [word for word in candidates if word in chosen]


def _document_frequency(texts: Iterable[str], wanted: set[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(wanted.intersection(words_of(text)))
    return counts


def parse_keywords(text: str) -> tuple[str, ...]:
    """Keywords as typed in a form: separated by commas or new lines, any case."""
    parts: Sequence[str] = re.split(r"[,\n;]", text)
    return tuple(dict.fromkeys(part.strip().casefold() for part in parts if part.strip()))
