from bot.blocks.text import escape, preview, shown, trim


def test_escape_neutralises_slack_markup() -> None:
    raw = "<!channel> <!here> <!everyone> <!subteam^S123> <@U999> <#C1> <http://x|y> a & b"
    escaped = escape(raw)
    assert "<" not in escaped and ">" not in escaped
    assert escaped.startswith("&lt;!channel&gt;")
    assert "a &amp; b" in escaped


def test_escape_defuses_plain_broadcast_words() -> None:
    escaped = escape("hey @channel and @HERE, @everyone; email@here.com")
    for word in ("@channel", "@HERE", "@everyone"):
        assert word not in escaped
    assert "@\u2060channel" in escaped


def test_trim_never_splits_an_entity() -> None:
    escaped = escape("a" * 8 + "&&&&")
    cut = trim(escaped, 12, "…")
    assert cut.endswith("…")
    assert not cut[:-1].rstrip("&amp;").endswith("&")
    assert "&am…" not in cut and "&…" not in cut


def test_shown_trims_long_text_with_a_note() -> None:
    text = "x" * 5000
    result = shown(text, 3000, item_number=12)
    assert len(result) <= 3000
    assert "5,000 characters" in result and "#12" in result


def test_short_text_is_untouched_apart_from_escaping() -> None:
    assert shown("fine", 3000) == "fine"


def test_preview_is_one_line() -> None:
    assert preview("a\n\nb   c") == "a b c"
