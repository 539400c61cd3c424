"""Slack's mrkdwn, and plain_text, as HTML.

The text arrives as the sender wrote it for Slack: `&`, `<` and `>` in what people typed are
already `&amp;`, `&lt;` and `&gt;`, and a real `<...>` is a mention, a date or a link. Visible text is
unescaped once and escaped again for HTML, so nothing shows doubled and nothing typed becomes
markup; `<...>` that is none of Slack's forms shows as the text it is.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

# The shortcodes cxbot writes (tests/test_sandbox_blockkit.py checks every one in bot/ and
# handlers/ is here), and a few common ones; any other stays as its `:shortcode:` text.
EMOJI: Mapping[str, str] = {
    "alarm_clock": "\u23f0",
    "arrow_right": "\u27a1\ufe0f",
    "arrows_counterclockwise": "\U0001f504",
    "bulb": "\U0001f4a1",
    "busts_in_silhouette": "\U0001f465",
    "cyclone": "\U0001f300",
    "eyes": "\U0001f440",
    "floppy_disk": "\U0001f4be",
    "heart": "\u2764\ufe0f",
    "hourglass": "\u231b",
    "hourglass_flowing_sand": "\u23f3",
    "inbox_tray": "\U0001f4e5",
    "large_green_circle": "\U0001f7e2",
    "large_orange_circle": "\U0001f7e0",
    "large_yellow_circle": "\U0001f7e1",
    "leftwards_arrow_with_hook": "\u21a9\ufe0f",
    "link": "\U0001f517",
    "mag": "\U0001f50d",
    "new": "\U0001f195",
    "no_entry_sign": "\U0001f6ab",
    "pray": "\U0001f64f",
    "raised_hand": "\u270b",
    "raising_hand": "\U0001f64b",
    "red_circle": "\U0001f534",
    "rotating_light": "\U0001f6a8",
    "see_no_evil": "\U0001f648",
    "seedling": "\U0001f331",
    "smile": "\U0001f604",
    "speech_balloon": "\U0001f4ac",
    "tada": "\U0001f389",
    "thumbsup": "\U0001f44d",
    "+1": "\U0001f44d",
    "trophy": "\U0001f3c6",
    "twisted_rightwards_arrows": "\U0001f500",
    "warning": "\u26a0\ufe0f",
    "white_check_mark": "\u2705",
    "white_circle": "\u26aa",
    "x": "\u274c",
}

LINK_SCHEMES = ("http", "https", "mailto", "slack")
BROADCASTS = ("here", "channel", "everyone")


@dataclass(frozen=True)
class Names:
    """What the page knows of the workspace, for mentions and dates.

    `names` maps user, channel and user group IDs to what to show (without `@` or `#`); `tz` is
    the reader's time zone for `<!date^...>` (None shows the sender's fallback text); `now` makes
    `{date_pretty}` say today, yesterday or tomorrow.
    """

    names: Mapping[str, str] = field(default_factory=dict)
    tz: tzinfo | None = None
    now: datetime | None = None


_NOBODY = Names()
_HELD = re.compile("\x00(\\d+)\x01")
_SENTINELS = re.compile("[\x00\x01]")
_FENCE = re.compile(r"```(.*?)```", re.DOTALL)
_QUOTE = re.compile(r"^(?:>|&gt;) ?")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_URL = r"(?<![\w/@])https?://[^\s<>\"'`]*[^\s<>\"'`.,;:!?)\]]"
_TOKENS = r"`(?P<code>[^`\n]+)`|<(?P<angle>[^<>\n]*)>|:(?P<emoji>[a-z0-9_+-]+):"
_INLINE = re.compile(_TOKENS)
_INLINE_LINKING = re.compile(_TOKENS + rf"|(?P<url>{_URL})")
_SAFE_LINK = re.compile(rf"(?i)(?:{'|'.join(LINK_SCHEMES)}):\S+\Z")
_SCHEME = re.compile(r"\s*[a-zA-Z][a-zA-Z0-9+.-]*:")
_DATE_TOKEN = re.compile(r"\{([a-z_]+)\}")


def _style(mark: str) -> re.Pattern[str]:
    m = re.escape(mark)
    return re.compile(rf"(?<![\w{m}]){m}(?=[^\s{m}])(.+?)(?<=[^\s{m}]){m}(?![\w{m}])")


_STYLES = ((_style("*"), "strong"), (_style("_"), "em"), (_style("~"), "s"))


def unescape(text: str) -> str:
    """Slack's three entities, once: `&amp;lt;` is the visible text `&lt;`."""
    return _ENTITY.sub(lambda match: _ENTITIES[match.group(1)], text)


def text_html(text: str) -> str:
    """Sender-escaped text as HTML text (never in an attribute): never markup, never escaped twice."""
    return html.escape(unescape(text), quote=False)


def safe_url(url: str) -> str | None:
    """The URL, unescaped, if it may be a link (http, https, mailto, slack:); else None."""
    plain = unescape(url)
    return plain if _SAFE_LINK.match(plain) else None


def link(url: str, label_html: str) -> str:
    return (
        f'<a class="bk-link" href="{html.escape(url, quote=True)}" target="_blank" '
        f'rel="noopener noreferrer">{label_html}</a>'
    )


def emoji(name: str) -> str:
    """`:name:` as its character, or as the shortcode text when the table hasn't it."""
    char = EMOJI.get(name)
    if char is None:
        return html.escape(f":{name}:")
    return f'<span class="bk-emoji" title=":{html.escape(name)}:">{char}</span>'


def plain_to_html(text: str, *, emoji_codes: bool = True) -> str:
    """A plain_text object's text: shown as written (no entities, no formatting), line breaks kept."""
    if not emoji_codes:
        return html.escape(text).replace("\n", "<br>")
    parts = re.split(r":([a-z0-9_+-]+):", text)
    out = [html.escape(part) if index % 2 == 0 else emoji(part) for index, part in enumerate(parts)]
    return "".join(out).replace("\n", "<br>")


def mrkdwn_to_html(text: str, names: Names = _NOBODY, *, verbatim: bool = False) -> str:
    """A mrkdwn text object's text as HTML. `verbatim` leaves bare URLs unlinked, as Slack does."""
    text = _SENTINELS.sub("", text)
    out: list[str] = []
    pieces = _FENCE.split(text)
    for index, piece in enumerate(pieces):
        if index % 2:
            out.append(f'<pre class="bk-pre">{text_html(piece.strip(chr(10)))}</pre>')
        else:
            trimmed = piece.removeprefix("\n") if index else piece
            trimmed = trimmed.removesuffix("\n") if index < len(pieces) - 1 else trimmed
            if trimmed:
                out.append(_lines(trimmed, names, verbatim))
    return "".join(out)


def _lines(text: str, names: Names, verbatim: bool) -> str:
    """Lines joined by <br>; runs of lines that start with `>` in a blockquote."""
    chunks: list[str] = []
    quoted: list[str] = []
    plain: list[str] = []

    def flush_plain() -> None:
        if plain:
            chunks.append("<br>".join(plain))
            plain.clear()

    def flush_quoted() -> None:
        if quoted:
            chunks.append(f'<blockquote class="bk-quote">{"<br>".join(quoted)}</blockquote>')
            quoted.clear()

    for line in text.split("\n"):
        quote = _QUOTE.match(line)
        if quote:
            flush_plain()
            quoted.append(_inline(line[quote.end() :], names, verbatim))
        else:
            flush_quoted()
            plain.append(_inline(line, names, verbatim))
    flush_plain()
    flush_quoted()
    return "".join(chunks)


def _inline(line: str, names: Names, verbatim: bool) -> str:
    held: list[str] = []

    def hold(piece: str) -> str:
        held.append(piece)
        return f"\x00{len(held) - 1}\x01"

    def token(match: re.Match[str]) -> str:
        if match.group("code") is not None:
            return hold(f'<code class="bk-code">{text_html(match.group("code"))}</code>')
        if match.group("angle") is not None:
            return hold(angle(match.group("angle"), names))
        if match.group("emoji") is not None:
            return hold(emoji(match.group("emoji")))
        url = match.group("url")
        return hold(link(unescape(url), text_html(url)))

    pattern = _INLINE if verbatim else _INLINE_LINKING
    marked = text_html(pattern.sub(token, line))
    styled = _styled(marked, hold)

    def restore(text: str) -> str:
        return _HELD.sub(lambda match: restore(held[int(match.group(1))]), text)

    return restore(styled)


def _styled(text: str, hold: Callable[[str], str]) -> str:
    for pattern, tag in _STYLES:
        text = pattern.sub(_wrapper(tag, hold), text)
    return text


def _wrapper(tag: str, hold: Callable[[str], str]) -> Callable[[re.Match[str]], str]:
    def wrap(match: re.Match[str]) -> str:
        return hold(f"<{tag}>{_styled(match.group(1), hold)}</{tag}>")

    return wrap


def angle(body: str, names: Names = _NOBODY) -> str:
    """What Slack makes of `<body>`: a mention, a date, a link, or (none of those) the text itself."""
    target, _, label = body.partition("|")
    if target.startswith("@"):
        return _mention("user", target[1:], label, "@", names)
    if target.startswith("#"):
        return _mention("channel", target[1:], label, "#", names)
    if target.startswith("!subteam^"):
        return _mention("group", target.removeprefix("!subteam^"), label.removeprefix("@"), "@", names)
    if target.startswith("!date^"):
        return _date(target, label, names)
    if target.removeprefix("!") in BROADCASTS:
        word = target.removeprefix("!")
        return f'<span class="bk-mention bk-mention-broadcast" data-broadcast="{word}">@{word}</span>'
    url = safe_url(target)
    if url is not None:
        return link(url, text_html(label or target))
    if _SCHEME.match(target):
        return text_html(label or target)  # a link of another scheme (javascript:, data:): its words only
    return text_html(f"&lt;{body}&gt;")


def _mention(kind: str, slack_id: str, label: str, sign: str, names: Names) -> str:
    shown = names.names.get(slack_id) or unescape(label) or slack_id
    return (
        f'<span class="bk-mention bk-mention-{kind}" data-{kind}-id="{html.escape(slack_id)}">'
        f"{sign}{html.escape(shown)}</span>"
    )


def _date(target: str, fallback: str, names: Names) -> str:
    """`<!date^{seconds}^{format}^{optional link}|{fallback}>`, in the reader's zone if known."""
    parts = target.split("^")
    seconds, form = (parts[1], parts[2]) if len(parts) >= 3 else ("", "")
    if names.tz is None or not seconds.lstrip("-").isdigit():
        shown = text_html(fallback)
        stamp = ""
    else:
        moment = datetime.fromtimestamp(int(seconds), names.tz)
        shown = _formatted(form, moment, names.now)
        stamp = f' datetime="{moment.isoformat()}"'
    url = safe_url(parts[3]) if len(parts) >= 4 else None
    body = f'<time class="bk-date"{stamp}>{shown}</time>'
    return link(url, body) if url else body


def _formatted(form: str, moment: datetime, now: datetime | None) -> str:
    pieces = _DATE_TOKEN.split(form)
    out = [
        _date_token(piece, moment, now) if index % 2 else text_html(piece)
        for index, piece in enumerate(pieces)
    ]
    return "".join(out)


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _date_token(token: str, moment: datetime, now: datetime | None) -> str:
    date = f"{moment:%B} {_ordinal(moment.day)}, {moment.year}"
    forms = {
        "date_num": f"{moment:%Y-%m-%d}",
        "date": date,
        "date_short": f"{moment:%b} {moment.day}, {moment.year}",
        "date_long": f"{moment:%A}, {date}",
        "time": f"{moment.hour % 12 or 12}:{moment:%M %p}",
        "time_secs": f"{moment.hour % 12 or 12}:{moment:%M:%S %p}",
    }
    if token.endswith("_pretty") and token.removesuffix("_pretty") in forms:
        return html.escape(_relative_day(moment, now) or forms[token.removesuffix("_pretty")])
    return html.escape(forms.get(token, f"{{{token}}}"))


def _relative_day(moment: datetime, now: datetime | None) -> str | None:
    if now is None or moment.tzinfo is None:
        return None
    today = now.astimezone(moment.tzinfo).date()
    days = {today: "today", today - timedelta(days=1): "yesterday", today + timedelta(days=1): "tomorrow"}
    return days.get(moment.date())
