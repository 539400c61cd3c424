from dataclasses import dataclass

import pytest

from bot.routing.rules import RoutedBy, choose_route, matching_keywords


@dataclass(frozen=True)
class R:
    area: str
    keywords: tuple[str, ...]
    position: int


BILLING = R("billing", ("refund", "invoice", "charged twice"), 0)
ONBOARDING = R("onboarding", ("signup", "invoice"), 1)
ROUTES = [ONBOARDING, BILLING]  # deliberately not in file order


def test_picked_area_wins_over_keywords() -> None:
    decision = choose_route(text="refund please", picked_area="Onboarding", routes=ROUTES)
    assert decision.route is ONBOARDING
    assert decision.routed_by is RoutedBy.PICKED


def test_unknown_picked_area_falls_back_to_keywords() -> None:
    decision = choose_route(text="refund please", picked_area="retired-area", routes=ROUTES)
    assert decision.route is BILLING
    assert decision.routed_by is RoutedBy.KEYWORDS
    assert decision.matched_keywords == ("refund",)


def test_most_distinct_keywords_wins() -> None:
    decision = choose_route(text="Signup broke and the invoice was wrong", picked_area=None, routes=ROUTES)
    assert decision.route is ONBOARDING


def test_tie_goes_to_the_route_listed_first() -> None:
    decision = choose_route(text="where is my INVOICE?", picked_area=None, routes=ROUTES)
    assert decision.route is BILLING


def test_no_match_is_a_grey_area() -> None:
    decision = choose_route(text="the lobby smells", picked_area=None, routes=ROUTES)
    assert decision.route is None
    assert decision.routed_by is RoutedBy.GREY_AREA


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Refund!", ("refund",)),
        ("refunds", ()),
        ("prerefund", ()),
        ("I was CHARGED\n twice", ("charged twice",)),
        ("charged twiceover", ()),
    ],
)
def test_keywords_match_whole_words_case_insensitively(text: str, expected: tuple[str, ...]) -> None:
    assert matching_keywords(text, BILLING.keywords) == expected
