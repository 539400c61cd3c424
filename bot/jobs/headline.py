"""What opens the digest: at most three lines that say what needs a leader this week.

Up to two problems, most pressing first (alarms past their SLA, fixes their raisers reopened,
grey areas still unowned), then one piece of good news (a named raiser's alarm led to a fix);
with no good news, a third problem takes its place.
"""

from __future__ import annotations

from storage.figures import Digest

MOST = 3


def choose_headline(digest: Digest) -> tuple[str, ...]:
    problems = [
        kind
        for kind, present in (
            ("past_sla", bool(digest.past_sla_by_area)),
            ("reopened", digest.verification.reopened > 0),
            ("grey", digest.grey_unowned > 0),
        )
        if present
    ]
    good = ["fix"] if digest.credited_fix is not None else []
    return tuple([*problems[: MOST - len(good)], *good][:MOST])
