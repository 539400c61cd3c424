"""Slack's mrkdwn drawn as HTML for the sandbox: each construct, nesting, entities, and text that
tries to become markup."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.blocks.card import when
from bot.blocks.text import escape
from bot.sandbox.mrkdwn import Names, mrkdwn_to_html, plain_to_html

NAMES = Names(names={"U1": "Ann", "C1": "general", "S1": "cx-leads"})


def md(text: str, names: Names = NAMES, *, verbatim: bool = False) -> str:
    return mrkdwn_to_html(text, names, verbatim=verbatim)


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("*bold*", "<strong>bold</strong>"),
        ("_italic_", "<em>italic</em>"),
        ("~strike~", "<s>strike</s>"),
        ("`a *b* c`", '<code class="bk-code">a *b* c</code>'),
        ("one\ntwo", "one<br>two"),
        ("*not bold *", "*not bold *"),
        ("snake_case_name and 2*3*4", "snake_case_name and 2*3*4"),
        ("*bold _both_*", "<strong>bold <em>both</em></strong>"),
        ("_*both*_ ~*x*~", "<em><strong>both</strong></em> <s><strong>x</strong></s>"),
        ("*two\nlines*", "*two<br>lines*"),
    ],
)
def test_formatting(text: str, html: str) -> None:
    assert md(text) == html


def test_preformatted_blocks_keep_their_text_as_is() -> None:
    assert md("before\n```\nx *y* <@U1>\n  indented\n```\nafter") == (
        'before<pre class="bk-pre">x *y* &lt;@U1&gt;\n  indented</pre>after'
    )


def test_quotes_at_line_start_as_cxbot_writes_them() -> None:
    quoted = "\n".join(f">{line}" for line in escape("We refunded <them>\n& fixed it").splitlines())
    assert md(f"Here's what was done:\n{quoted}\nThanks") == (
        'Here\'s what was done:<blockquote class="bk-quote">We refunded &lt;them&gt;<br>&amp; fixed it'
        "</blockquote>Thanks"
    )
    assert md("&gt; escaped quote") == '<blockquote class="bk-quote">escaped quote</blockquote>'
    assert md("a > b") == "a &gt; b"


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("<@U1>", '<span class="bk-mention bk-mention-user" data-user-id="U1">@Ann</span>'),
        ("<@U2|bob>", '<span class="bk-mention bk-mention-user" data-user-id="U2">@bob</span>'),
        ("<@U3>", '<span class="bk-mention bk-mention-user" data-user-id="U3">@U3</span>'),
        ("<#C1>", '<span class="bk-mention bk-mention-channel" data-channel-id="C1">#general</span>'),
        ("<#C2|other>", '<span class="bk-mention bk-mention-channel" data-channel-id="C2">#other</span>'),
        ("<!subteam^S1>", '<span class="bk-mention bk-mention-group" data-group-id="S1">@cx-leads</span>'),
        ("<!subteam^S2|@ops>", '<span class="bk-mention bk-mention-group" data-group-id="S2">@ops</span>'),
        ("<!here>", '<span class="bk-mention bk-mention-broadcast" data-broadcast="here">@here</span>'),
        (
            "<!channel>",
            '<span class="bk-mention bk-mention-broadcast" data-broadcast="channel">@channel</span>',
        ),
        (
            "<!everyone>",
            '<span class="bk-mention bk-mention-broadcast" data-broadcast="everyone">@everyone</span>',
        ),
    ],
)
def test_mentions(text: str, html: str) -> None:
    assert md(text) == html


def test_a_name_is_escaped_too() -> None:
    names = Names(names={"U1": "<b>Ann</b>"})
    assert "@&lt;b&gt;Ann&lt;/b&gt;" in md("<@U1>", names)


def test_mentions_inside_formatting() -> None:
    assert md("*Thank you, <@U1>!*") == (
        '<strong>Thank you, <span class="bk-mention bk-mention-user" data-user-id="U1">@Ann</span>!</strong>'
    )


LINK = '<a class="bk-link" href="{}" target="_blank" rel="noopener noreferrer">{}</a>'


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("<https://x.com/a?b=1&amp;c=2|the label>", LINK.format("https://x.com/a?b=1&amp;c=2", "the label")),
        ("<https://x.com>", LINK.format("https://x.com", "https://x.com")),
        ("<mailto:a@b.c|mail>", LINK.format("mailto:a@b.c", "mail")),
        ("<slack://open|app>", LINK.format("slack://open", "app")),
        ("<https://x.com|*not bold*>", LINK.format("https://x.com", "*not bold*")),
        ("<javascript:alert(1)|click>", "click"),
        ("<JavaScript:alert(1)>", "JavaScript:alert(1)"),
        ("<data:text/html,<b>|x>", "&lt;data:text/html,&lt;b&gt;|x&gt;"),
        ("<ftp://x.com|files>", "files"),
        ('<https://x.com/" onclick="alert(1)|x>', "x"),  # not a URL: spaces
        (
            '<https://x.com/"onclick="alert(1)|x>',
            LINK.format("https://x.com/&quot;onclick=&quot;alert(1)", "x"),
        ),
    ],
)
def test_links_only_for_safe_schemes(text: str, html: str) -> None:
    assert md(text) == html


def test_bare_urls_are_linked_unless_verbatim() -> None:
    assert (
        md("see https://x.com/a_b_c. ok")
        == f"see {LINK.format('https://x.com/a_b_c', 'https://x.com/a_b_c')}. ok"
    )
    assert md("see https://x.com/a_b_c. ok", verbatim=True) == "see https://x.com/a_b_c. ok"


def test_entities_are_not_escaped_twice() -> None:
    assert md("R&amp;D &lt;3 &gt;_&lt;") == "R&amp;D &lt;3 &gt;_&lt;"
    assert md("&amp;lt; stays visible") == "&amp;lt; stays visible"  # the visible text is "&lt;"
    assert md("a & b") == "a &amp; b"  # an unescaped & is still text


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "*<script>*",
        "`<script>`",
        "```<script>```",
        "><script>alert(1)</script>",
        "<@U1|<script>>",
        '<https://x.com|"><script>alert(1)</script>>',
        "<!date^1^{date}|<script>>",
        ":<script>:",
        "\x00" + "0\x01",
    ],
)
def test_hostile_text_never_becomes_markup(text: str) -> None:
    out = md(text)
    assert "<script" not in out and "<img" not in out and "\x00" not in out


class Tags(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


SAFE_TAGS = {"strong", "em", "s", "code", "pre", "blockquote", "br", "span", "a", "time"}


PIECES = [*"<>&;*_~`|!@#^:/\"' \nabUC1", "https://", "javascript:", "&lt;", "!date^1^{date}", "!subteam^"]


@given(st.lists(st.sampled_from(PIECES)).map("".join))
def test_any_text_makes_only_the_markup_mrkdwn_means(text: str) -> None:
    for tag, attrs in Tags(md(text)).tags:
        assert tag in SAFE_TAGS, (text, tag)
        for name, value in attrs:
            assert not name.startswith("on"), (text, name)
            if name == "href":
                assert value is not None and value.startswith(("https://", "http://", "mailto:", "slack:"))


def test_emoji_shortcodes() -> None:
    assert md(":tada: done") == '<span class="bk-emoji" title=":tada:">\U0001f389</span> done'
    assert md(":white_check_mark:") == '<span class="bk-emoji" title=":white_check_mark:">\u2705</span>'
    assert md(":not_an_emoji: at 10:30:45") == ":not_an_emoji: at 10:30:45"
    assert md("`:tada:`") == '<code class="bk-code">:tada:</code>'


STAMP = int(datetime(2026, 11, 16, 10, tzinfo=UTC).timestamp())


def test_dates_show_the_fallback_without_a_zone() -> None:
    assert md(f"<!date^{STAMP}^{{date_short_pretty}} {{time}}|2026-11-16 10:00 UTC>") == (
        '<time class="bk-date">2026-11-16 10:00 UTC</time>'
    )


def test_dates_in_the_readers_zone() -> None:
    zone = Names(tz=ZoneInfo("Asia/Tokyo"))
    assert md(f"<!date^{STAMP}^{{date_short_pretty}} {{time}}|x>", zone) == (
        '<time class="bk-date" datetime="2026-11-16T19:00:00+09:00">Nov 16, 2026 7:00 PM</time>'
    )
    formats = "{date_num} · {date} · {date_long} · {time_secs} · {unknown}"
    assert md(f"<!date^{STAMP}^{formats}|x>", zone).split(">")[1].split("<")[0] == (
        "2026-11-16 · November 16th, 2026 · Monday, November 16th, 2026 · 7:00:00 PM · {unknown}"
    )


def test_pretty_dates_say_today_yesterday_tomorrow() -> None:
    for day, word in ((16, "today"), (17, "yesterday"), (15, "tomorrow"), (20, "Nov 16, 2026")):
        names = Names(tz=UTC, now=datetime(2026, 11, day, 23, tzinfo=UTC))
        assert f">{word} 10:00 AM<" in md(f"<!date^{STAMP}^{{date_short_pretty}} {{time}}|x>", names)


def test_a_date_with_a_link_and_cxbots_own_dates() -> None:
    names = Names(tz=UTC)
    assert md(f"<!date^{STAMP}^{{date}}^https://x.com|x>", names).startswith(
        '<a class="bk-link" href="https://x.com"'
    )
    assert ">Nov 16, 2026 10:00 AM<" in md(when(datetime(2026, 11, 16, 10, tzinfo=UTC)), names)


def test_plain_text() -> None:
    tada = '<span class="bk-emoji" title=":tada:">\U0001f389</span>'
    assert (
        plain_to_html("*not bold* <b> &amp; :tada:\nnext") == f"*not bold* &lt;b&gt; &amp;amp; {tada}<br>next"
    )
    assert plain_to_html(":tada:", emoji_codes=False) == ":tada:"
