"""Keeping the garbage collector's longest pauses away from the acks.

CPython's cycle collector walks every tracked object in the generations it collects. Once in a
while it collects them all, and then it walks everything imported at start-up (Bolt, slack_sdk,
SQLAlchemy, psycopg, the app): 40 to 55 ms under the ack benchmark's load, in both of `cxbot
run`'s processes. An ack waiting on a process in that pause waited with it, and those pauses
made most of cxbot's p99.

`gc.freeze()` moves every object alive at that moment into a permanent generation that the
collector skips. What start-up builds lives as long as the process anyway; objects made later
are collected as before, and a full collection now walks only those.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Call once the process is set up, before it serves: collect start-up's garbage, then freeze
    what is left."""
    gc.collect()
    gc.freeze()
