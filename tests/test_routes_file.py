from pathlib import Path

import pytest

from bot.routing.routes_file import RoutesFileError, load_routes_file, parse_routes

GOOD = """
# comment
[[routes]]
area = "billing"
owner = "U0123ABCD"
channel = "C0123ABCD"
keywords = ["Refund", "invoice", "refund"]
escalate_to = "U0999ZZZZ"

[[routes]]
area = "onboarding"
owner = "S0GROUP1"
channel = "G0PRIVATE"
"""


def test_good_file_is_read_in_order() -> None:
    routes = parse_routes(GOOD, path="routes.toml")
    assert [r.area for r in routes] == ["billing", "onboarding"]
    assert routes[0].keywords == ("refund", "invoice")
    assert routes[0].escalate_to == "U0999ZZZZ"
    assert routes[1].owner == "S0GROUP1"
    assert routes[1].keywords == ()
    assert routes[1].escalate_to is None
    assert [r.position for r in routes] == [0, 1]


def test_empty_file_means_no_routes() -> None:
    assert parse_routes("", path="routes.toml") == []


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            GOOD.replace('escalate_to = "U0999ZZZZ"', 'escalate = "U0999ZZZZ"'),
            8,
            "unknown key 'escalate'",
        ),
        (GOOD.replace('owner = "U0123ABCD"\n', ""), 3, "route 1 has no 'owner'"),
        (GOOD.replace('channel = "G0PRIVATE"\n', ""), 10, "route 2 has no 'channel'"),
        (GOOD.replace('"U0123ABCD"', '"alice"'), 5, "'owner' must be a user ID"),
        (GOOD.replace('"C0123ABCD"', '"#billing"'), 6, "'channel' must be a channel ID"),
        (GOOD.replace('"U0999ZZZZ"', '"C0999ZZZZ"'), 8, "'escalate_to' must be a user ID"),
        (
            GOOD.replace('["Refund", "invoice", "refund"]', '"refund"'),
            7,
            "'keywords' must be a list",
        ),
        (
            GOOD.replace('"onboarding"', '"Billing"'),
            11,
            "area 'Billing' is already used by route 1",
        ),
        (GOOD.replace('"onboarding"', '"Not sure"'), 11, "'not sure' is reserved"),
        (GOOD.replace('"onboarding"', '"' + "x" * 76 + '"'), 11, "longer than 75"),
        (GOOD + "\nextra = 1\n", 15, "unknown key 'extra'"),
        (GOOD + "\nverify_after = -1\n", 15, "'verify_after' must be a number of working days"),
        (GOOD + '\nverify_after = "3d"\n', 15, "from 0 (never ask) to 365, got '3d'"),
        (GOOD + "\nverify_after = true\n", 15, "'verify_after' must be a number"),
        (GOOD.replace('area = "billing"', 'area = "billing'), 4, "not valid TOML"),
        (GOOD.replace('area = "billing"', "area = 7"), 4, "'area' must be a non-empty string"),
    ],
)
def test_bad_file_is_refused_with_file_line_and_problem(text: str, line: int, problem: str) -> None:
    with pytest.raises(RoutesFileError) as caught:
        parse_routes(text, path="conf/routes.toml")
    assert caught.value.path == "conf/routes.toml"
    assert problem in caught.value.problem
    assert caught.value.line == line
    assert str(caught.value).startswith(f"conf/routes.toml:{line}: ")


def test_verify_after_is_working_days_and_zero_turns_it_off() -> None:
    specs = parse_routes(GOOD + "\nverify_after = 0\n", path="r")
    assert [spec.verify_after for spec in specs] == [None, 0.0]
    assert parse_routes(GOOD + "\nverify_after = 1.5\n", path="r")[1].verify_after == 1.5


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RoutesFileError, match="cannot read"):
        load_routes_file(tmp_path / "nope.toml")
