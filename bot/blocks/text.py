"""User text shown as text: escaped as Slack documents, never a ping, trimmed to Slack's limits."""

from __future__ import annotations

import re

SECTION_TEXT_LIMIT = 3000
FIELD_TEXT_LIMIT = 2000
NOTIFICATION_PREVIEW = 150

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ESCAPE = re.compile("[&<>]")
# Words that Slack may turn into broadcast mentions when it parses plain text.
_BROADCAST_WORDS = re.compile(r"@(?=(channel|here|everyone)\b)", re.IGNORECASE)
_WORD_JOINER = "\u2060"
_ENTITY_TAIL = re.compile(r"&[a-z]{0,3}$")


def escape(text: str) -> str:
    """Escape &, < and > so that Slack shows user text as typed: `<!channel>` stays inert text.

    Also puts an invisible word joiner after the @ of @channel, @here and @everyone, so that
    Slack's own mention parsing (which runs on unescaped words) finds nothing to ping.
    """
    escaped = _ESCAPE.sub(lambda match: _ESCAPES[match.group(0)], text)
    return _BROADCAST_WORDS.sub("@" + _WORD_JOINER, escaped)


def trim(escaped: str, limit: int, note: str) -> str:
    """Cut already-escaped text to fit `limit` characters with `note` appended; never split an entity."""
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: max(limit - len(note), 0)]
    cut = _ENTITY_TAIL.sub("", cut)
    return cut.rstrip() + note


def shown(text: str, limit: int, *, item_number: int | None = None) -> str:
    """User text escaped and trimmed to `limit`, with a note saying where the rest is."""
    escaped = escape(text)
    where = f" The full text is stored with #{item_number}." if item_number else ""
    note = f"… _(trimmed: {len(text):,} characters in all.{where})_"
    return trim(escaped, limit, note)


def preview(text: str, limit: int = NOTIFICATION_PREVIEW) -> str:
    """A one-line preview for notification text: whitespace folded, escaped, trimmed."""
    one_line = " ".join(text.split())
    return trim(escape(one_line), limit, "…")
