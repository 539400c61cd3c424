"""Keywords suggested for a claimed grey area, and keywords as typed in its form."""

from __future__ import annotations

from bot.routing.keywords import distinctive_words, parse_keywords, words_of


def test_words_leave_out_common_words_numbers_and_short_ones() -> None:
    assert words_of("The customer can't use 2 gift cards at the till, at all!") == [
        "gift",
        "cards",
        "till",
    ]


def test_the_rarest_words_are_suggested_in_the_order_they_were_written() -> None:
    others = [
        "Checkout page times out on mobile",
        "Checkout button greyed out on the app",
        "Refund policy unclear on the checkout page",
        "Delivery tracking link broken",
    ]
    text = "Gift card balance vanishes at checkout after a partial redemption"
    # "checkout" is in three of the four other items: it would route half of everything here.
    assert distinctive_words(text, others) == ["balance", "vanishes", "partial", "redemption"]
    assert distinctive_words(text, others, limit=2) == ["vanishes", "redemption"]


def test_with_nothing_to_compare_with_the_longer_words_win() -> None:
    assert distinctive_words("Clients can't find the cancellation link in emails", []) == [
        "cancellation",
        "link",
        "emails",
    ]
    assert distinctive_words("it is not there", []) == []


def test_accents_and_other_scripts_are_words_too() -> None:
    assert words_of("Le remboursement n'arrive jamais, délai dépassé") == [
        "remboursement",
        "n'arrive",
        "jamais",
        "délai",
        "dépassé",
    ]


def test_typed_keywords_split_on_commas_and_lines_trimmed_lower_cased_once_each() -> None:
    assert parse_keywords(" Gift card, voucher\nGIFT CARD ;  , redemption ") == (
        "gift card",
        "voucher",
        "redemption",
    )
    assert parse_keywords(" , ;\n") == ()
