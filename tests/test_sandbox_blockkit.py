"""The sandbox draws every block and element cxbot can send (issue 22).

The coverage tests render every builder in bot/blocks with realistic values, collect each block,
element, text object and view type in the JSON they make, and draw all of it in strict mode, which
raises on anything the page can't draw. A static net reads which slack_sdk Block Kit classes bot/
and handlers/ import, so a new kind of block fails here before any builder test renders one.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
import slack_sdk.models.blocks as sdk_blocks
import slack_sdk.models.views as sdk_views

import bot.blocks
from bot.blocks import claim, dialogs, digest, home, modal, nags, notices, replies, roundup, search, verify
from bot.blocks.card import CardExtras, HandedOver, card_blocks, item_buttons, moved_card
from bot.blocks.ids import Field, ItemAction
from bot.outbox.kinds import RaiserNews
from bot.sandbox.blockkit import (
    BLOCK_TYPES,
    ELEMENT_TYPES,
    TEXT_TYPES,
    VIEW_TYPES,
    Context,
    UnsupportedBlockKit,
    render_blocks,
    render_element,
    render_message,
    render_view,
)
from bot.sandbox.mrkdwn import EMOJI
from storage.figures import Digest, Flow, Recognition, Speed, Verification, Window
from storage.models import ClaimStatus, ItemKind, ItemStatus, RouteClaim, Severity
from tests.test_blocks import NOW, make_item

REPO = Path(__file__).resolve().parents[1]
STRICT = Context(names={"U0OWNER": "Olive", "U0RAISER": "Ravi", "C0CHECKOUT": "checkout"}, strict=True)
PERMALINK = "https://example.slack.com/archives/C0CHECKOUT/p1"

# What the issue says the page draws, and cxbot sends.
ISSUE_BLOCKS = {"header", "section", "context", "divider", "actions", "input"}
ISSUE_ELEMENTS = {
    "button",
    "overflow",
    "static_select",
    "plain_text_input",
    "radio_buttons",
    "checkboxes",
    "users_select",
    "conversations_select",
}


# Realistic values


def item(**overrides: object) -> Any:
    fields: dict[str, object] = {"snooze_count": 0}
    fields.update(overrides)
    return make_item(**fields)


def items() -> Iterator[Any]:
    """Every status of both kinds, in a route and in a grey area, with and without what cards add."""
    closed = {"closed_at": NOW, "acted_by": "U0OWNER", "resolution": "Fixed the *billing* job & <more>"}
    for kind in ItemKind:
        for status in ItemStatus:
            extra = closed if status in (ItemStatus.ACTIONED, ItemStatus.DECLINED) else {}
            severity = Severity.HIGH if kind is ItemKind.ALARM else None
            yield item(kind=kind, status=status, severity=severity, **extra)
            yield item(
                kind=kind, status=status, severity=severity, grey_area=True, area=None, owner="U0A,U0B"
            )
    yield item(status=ItemStatus.DUPLICATE, duplicate_of_id=3)
    yield item(status=ItemStatus.ACTIONED, led_to_action=False, **closed)
    yield item(status=ItemStatus.ACKNOWLEDGED, acknowledged_at=NOW, anonymous=True, customers="Pro plan")
    yield item(status=ItemStatus.NEW, source_permalink=PERMALINK, owner="S0GROUP")
    yield item(status=ItemStatus.NEW, source_channel="C0SOURCE", resolution="Earlier fix", text="x" * 4000)


EXTRAS = [
    CardExtras(),
    CardExtras(
        votes=3,
        handed_over=HandedOver(from_owner="U0GONE", to_owner="U0OWNER"),
        co_raisers=2,
        notices=(notices.channel_problem_notice(channel="C0X", area="checkout", problem="is_archived"),),
        verification=verify.confirmed_line(2),
    ),
]


def route_claim(status: ClaimStatus) -> RouteClaim:
    return RouteClaim(
        id=4,
        item_id=7,
        claimer="U0CLAIMER",
        area="Gift cards",
        owner="U0OWNER",
        channel="C0GIFTS",
        keywords=["gift card", "voucher", "a", "b", "c", "d", "e"],
        status=status,
        created_at=NOW,
        decided_by="U0LEAD" if status is not ClaimStatus.PENDING else None,
        decided_at=NOW if status is not ClaimStatus.PENDING else None,
        route_id=9,
    )


def a_digest() -> Digest:
    speed = Speed(median=timedelta(hours=3), p90=timedelta(days=3))
    window = Window(
        flow={ItemKind.ALARM: Flow(4, 3, 2, 1), ItemKind.IDEA: Flow(2, 1, 1, 0)},
        to_acknowledge=speed,
        to_action=Speed(None, None),
        people=5,
    )
    return Digest(
        start=NOW - timedelta(days=7),
        end=NOW,
        this_week=window,
        last_week=window,
        past_sla=1,
        oldest_past_sla=[(item(), NOW - timedelta(days=2))],
        grey_came_in=1,
        grey_resolved=1,
        grey_unowned=0,
        by_area=[("checkout", 3, 1), (None, 1, 0)],
        by_stage=[("buy", 2, 1), (None, 1, 0)],
        credited=[Recognition("U0RAISER", 2)],
        top_ideas=[(item(kind=ItemKind.IDEA, severity=None), 3)],
        verification=Verification(fixed=2, reopened=1, unconfirmed=1),
    )


def a_roundup(*, empty: bool = False) -> roundup.Roundup:
    done = item(status=ItemStatus.ACTIONED, resolution="We fixed it", closed_at=NOW)
    changes = [] if empty else [roundup.Change(item=done, raised_by="<@U0RAISER>", others=2)] * 21
    claimed = [] if empty else [roundup.Claimed(item=done, by="U0CLAIMER", area="Gift cards")]
    return roundup.Roundup(start=NOW, end=NOW, changes=changes, claimed=claimed, people=3)


SUGGESTIONS = [replies.Suggestion(item_id=3, text="Checkout <b>fails</b>", area=None, raised_by=2)]


def outputs() -> Iterator[tuple[str, object]]:
    """(builder, what it made) for every Block Kit builder in bot/blocks."""
    for each in items():
        for extras in EXTRAS:
            yield "card.card_blocks", card_blocks(each, extras)
            yield "card.item_buttons", item_buttons(each, extras)
        yield "card.moved_card", moved_card(each)
        yield "dialogs.actioned_modal", dialogs.actioned_modal(each)
        yield "dialogs.decline_modal", dialogs.decline_modal(each)
        yield "dialogs.reassign_modal", dialogs.reassign_modal(each, ["checkout", "billing"])
        yield "dialogs.duplicate_modal", dialogs.duplicate_modal(each)
        yield "verify.still_happening_modal", verify.still_happening_modal(each)
        for co_raiser in (False, True):
            yield (
                "verify.verify_question",
                verify.verify_question(each, co_raiser=co_raiser, anonymous=co_raiser, permalink=PERMALINK),
            )
    one = item()
    for kind in ItemKind:
        for source_note in (None, ":link: From a message in <#C0SOURCE>"):
            made = modal.ModalInput(
                kind=kind, areas=["checkout"], private_metadata="{}", source_note=source_note
            )
            yield "modal.filing_modal", modal.filing_modal(made)
    for groups in ((), [("S0GROUP", "CX leads")]):
        yield "claim.claim_modal", claim.claim_modal(one, claimer="U0C", keywords=["refund"], groups=groups)
    yield "claim.claim_note", claim.claim_note("Sent to the CX leads.")
    for status in ClaimStatus:
        for link in (None, PERMALINK):
            yield "claim.claim_request", claim.claim_request(route_claim(status), one, permalink=link)
            yield "claim.claim_decided", claim.claim_decided(route_claim(status), one, permalink=link)
            yield "claim.claimer_news", claim.claimer_news(route_claim(status), one, permalink=link)
        yield "claim.claim_thanks", claim.claim_thanks(route_claim(status), one)
    yield "digest.digest_reply", digest.digest_reply(a_digest(), zone="Europe/London")
    yield "roundup.roundup_reply", roundup.roundup_reply(a_roundup())
    yield "roundup.roundup_reply", roundup.roundup_reply(a_roundup(empty=True))
    for raised, waiting, board in (
        ([], [], []),
        ([one], [one, item(status=ItemStatus.ACTIONED)], [Recognition("U0R", 1)]),
    ):
        yield "home.home_view", home.home_view(raised=raised, waiting=waiting, board=board, votes={7: 2})
    many = [item(id=n, status=ItemStatus.NEW if n % 2 else ItemStatus.ACKNOWLEDGED) for n in range(1, 18)]
    yield "nags.nag_message", nags.nag_message(many, now=NOW + timedelta(days=3))
    yield "nags.nag_message", nags.nag_message([item(snooze_count=5)], now=NOW)
    yield "nags.escalation_message", nags.escalation_message(one, nags=3, now=NOW, permalink=PERMALINK)
    yield "nags.escalation_note", nags.escalation_note(nags=3, to=["U0LEAD", "S0GROUP"])
    closed = item(status=ItemStatus.ACTIONED, resolution="Refunded.\nFixed the job.", acted_by="U0OWNER")
    for news in RaiserNews:
        for anonymous in (None, True):
            yield (
                "notices.raiser_news",
                notices.raiser_news(
                    closed,
                    news,
                    by="U0OWNER",
                    text="Done",
                    original=3,
                    permalink=PERMALINK,
                    anonymous=anonymous,
                ),
            )
    yield "notices.owner_notice", notices.owner_notice(one, by="U0LEAD", permalink=PERMALINK)
    yield "notices.storm_notice", notices.storm_notice(one, joined=6, permalink=None)
    yield "notices.kudos", notices.kudos(closed, also_raised_by=["U0CO"], permalink=PERMALINK)
    yield "notices.kudos_addendum", notices.kudos_addendum(closed, person="U0CO", permalink=None)
    yield "notices.credit_question", notices.credit_question(closed, kudos_channel="C0KUDOS", co_raiser=True)
    for problem in ("is_archived", "weird_error"):
        yield (
            "notices.route_channel_problem",
            notices.route_channel_problem(
                one, channel="C0X", area=None, problem=problem, permalink=PERMALINK
            ),
        )
    yield "replies.simple", replies.simple("Done :tada:")
    yield "replies.saving_slowly", replies.saving_slowly()
    for settings in (
        {"card_failed": True},
        {"suggestions": SUGGESTIONS},
        {},
    ):
        for shape in (
            item(card_ts=None),
            item(card_ts=None, grey_area=True),
            item(grey_area=True),
            item(anonymous=True),
        ):
            yield "replies.confirmation", replies.confirmation(shape, permalink=PERMALINK, **settings)
    yield "replies.usage", replies.usage("/cx-alarm", unknown="--x")
    yield "replies.usage", replies.usage("/cx-idea")
    yield "search.search_modal", search.search_modal(query="refund", note="Nothing yet")
    yield "search.results_modal", search.results_modal("refund", SUGGESTIONS, joined=[3], note="Joined")
    yield "search.results_modal", search.results_modal("refund", SUGGESTIONS)
    yield "search.results_modal", search.results_modal("refund", [])
    yield "verify.answered_view", verify.answered_view("Thank you!")
    for reopened in (False, True):
        yield (
            "verify.still_happening_notice",
            verify.still_happening_notice(
                one, raiser=None, note="Again today", reopened=reopened, permalink=None
            ),
        )


def as_json(made: object) -> dict[str, Any]:
    """What would be sent: a view, or a message's text and blocks."""
    if isinstance(made, sdk_views.View):
        return {"view": made.to_dict()}
    if isinstance(made, replies.Reply):
        return {"message": {"text": made.text, "blocks": made.as_dicts()}}
    assert isinstance(made, list), made
    if all(isinstance(part, sdk_blocks.Block) for part in made):
        return {"message": {"text": "", "blocks": [part.to_dict() for part in made]}}
    # Elements (item_buttons): what App Home and the card put in an actions block.
    actions = {"type": "actions", "block_id": "b", "elements": [part.to_dict() for part in made]}
    return {"message": {"text": "", "blocks": [actions]}}


def kinds(node: Any, role: str, found: set[tuple[str, str]]) -> None:
    """Each typed object in Block Kit JSON, as (block | element | text | view, type)."""
    if isinstance(node, list):
        for entry in node:
            kinds(entry, role, found)
        return
    if not isinstance(node, dict):
        return
    if role == "context element":  # a context block holds text objects and image elements
        role = "text" if node.get("type") in ("mrkdwn", "plain_text") else "element"
    if "type" in node and role != "data":
        found.add((role, node["type"]))
    for key, value in node.items():
        if key == "blocks":
            kinds(value, "block", found)
        elif key == "elements" and role == "block":
            kinds(value, "context element" if node["type"] == "context" else "element", found)
        elif key in ("accessory", "element"):
            kinds(value, "element", found)
        elif key in ("view", "message"):
            kinds(value, "view" if key == "view" else "data", found)
        elif key in ("filter", "slack_file"):
            continue
        else:
            kinds(value, "text", found)


def produced() -> tuple[set[str], set[tuple[str, str]]]:
    builders: set[str] = set()
    found: set[tuple[str, str]] = set()
    for builder, made in outputs():
        builders.add(builder)
        kinds(as_json(made), "data", found)
    return builders, found


def draw(made: object, ctx: Context = STRICT) -> str:
    sent = as_json(made)
    return render_view(sent["view"], ctx) if "view" in sent else render_message(sent["message"], ctx)


# Coverage


def test_every_type_cxbot_produces_is_one_the_page_draws() -> None:
    _, found = produced()
    supported = {"block": BLOCK_TYPES, "element": ELEMENT_TYPES, "text": TEXT_TYPES, "view": VIEW_TYPES}
    missing = {(role, kind) for role, kind in found if kind not in supported[role]}
    assert not missing, f"the sandbox can't draw {sorted(missing)}"


def test_what_cxbot_produces_includes_what_the_issue_names() -> None:
    _, found = produced()
    assert {kind for role, kind in found if role == "block"} >= ISSUE_BLOCKS
    assert {kind for role, kind in found if role == "element"} >= ISSUE_ELEMENTS
    assert {kind for role, kind in found if role == "text"} == {"mrkdwn", "plain_text"}
    assert {kind for role, kind in found if role == "view"} == {"modal", "home"}


def test_every_builder_output_draws_in_strict_mode() -> None:
    for builder, made in outputs():
        page = draw(made)
        assert page, builder
        assert "bk-unsupported" not in page, builder


def builder_names() -> set[str]:
    """Every public function in bot/blocks that returns blocks, a Reply or a View."""
    names = set()
    for info in pkgutil.iter_modules(bot.blocks.__path__):
        module = importlib.import_module(f"bot.blocks.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            made = str(inspect.signature(function).return_annotation)
            mine = function.__module__ == module.__name__ and not name.startswith("_")
            if mine and re.search(r"\b(Reply|View|Block|InteractiveElement|SectionBlock)\b", made):
                names.add(f"{info.name}.{name}")
    return names


def test_the_coverage_renders_every_builder_in_bot_blocks() -> None:
    builders, _ = produced()
    assert {"card.card_blocks", "card.item_buttons", "home.home_view", "replies.simple"} <= builder_names()
    assert builder_names() - builders == set(), "render the new builder in outputs() above"


def imported_block_kit_classes() -> set[str]:
    """slack_sdk.models.blocks names imported anywhere in bot/ or handlers/ (but the sandbox)."""
    names = set()
    for path in [*REPO.joinpath("bot").rglob("*.py"), *REPO.joinpath("handlers").rglob("*.py")]:
        if "sandbox" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("slack_sdk.models.blocks"):
                names.update(alias.name for alias in node.names)
    return names


# Abstract bases and composition objects that have no `type` of their own: drawn as part of the
# element that holds them (options in their select, a filter on its conversations_select).
UNTYPED = {"Block", "InteractiveElement", "BlockElement", "Option", "OptionGroup", "ConversationFilter"}


def test_every_block_kit_class_the_code_imports_is_drawn() -> None:
    imported = imported_block_kit_classes()
    assert {"SectionBlock", "InputBlock", "ButtonElement"} <= imported  # the scan sees the imports
    for name in sorted(imported - UNTYPED):
        cls = getattr(sdk_blocks, name)
        kind = getattr(cls, "type", None)
        assert isinstance(kind, str), f"{name} has no type: add it to UNTYPED if it is drawn by its holder"
        if issubclass(cls, sdk_blocks.Block):
            assert kind in BLOCK_TYPES, name
        elif issubclass(cls, sdk_blocks.TextObject):
            assert kind in TEXT_TYPES, name
        else:
            assert issubclass(cls, sdk_blocks.BlockElement), name
            assert kind in ELEMENT_TYPES, name


@pytest.mark.parametrize(
    ("sent", "role"),
    [
        ({"type": "rich_text", "elements": []}, "block"),
        ({"type": "actions", "elements": [{"type": "datepicker", "action_id": "d"}]}, "element"),
        ({"type": "section", "text": {"type": "markdown", "text": "x"}}, "text object"),
    ],
)
def test_strict_mode_refuses_what_it_cannot_draw_and_lenient_mode_says_so(sent: dict, role: str) -> None:
    with pytest.raises(UnsupportedBlockKit, match=role):
        render_blocks([sent], STRICT)
    assert "bk-unsupported" in render_blocks([sent], Context())


def test_an_unknown_view_type_is_refused() -> None:
    with pytest.raises(UnsupportedBlockKit):
        render_view({"type": "workflow_step", "blocks": []}, STRICT)


def test_every_emoji_cxbot_writes_has_its_character() -> None:
    paths = [*REPO.joinpath("bot").rglob("*.py"), *REPO.joinpath("handlers").rglob("*.py")]
    source = "".join(path.read_text() for path in paths if "sandbox" not in path.parts)
    written = set(re.findall(r":([a-z][a-z0-9_]*[a-z]):", source))
    assert written - set(EMOJI) == set()


# The HTML, and the attributes the page's JavaScript reads


class Parsed(HTMLParser):
    """Every start tag with its attributes; refuses tags it never expects."""

    ALLOWED: ClassVar[set[str]] = {
        "div", "span", "strong", "em", "s", "code", "pre", "blockquote", "br", "a", "time", "h3", "hr",
        "button", "select", "option", "optgroup", "fieldset", "label", "input", "textarea", "img",
        "figure", "figcaption", "form", "header", "footer",
    }  # fmt: skip

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in self.ALLOWED, tag
        self.tags.append((tag, dict(attrs)))

    def with_attr(self, name: str, value: str | None = None) -> list[dict[str, str | None]]:
        return [attrs for _, attrs in self.tags if name in attrs and (value is None or attrs[name] == value)]


def test_a_card_renders_with_its_text_fields_and_buttons() -> None:
    card = item(text="Checkout fails on Safari & <Chrome>", customers="Pro")
    page = render_message(
        {"text": "CX alarm #7", "blocks": [b.to_dict() for b in card_blocks(card, CardExtras(votes=1))]},
        STRICT,
    )
    parsed = Parsed(page)
    assert "CX alarm #7" in page and "\U0001f6a8" in page  # :rotating_light:
    assert "Checkout fails on Safari &amp; &lt;Chrome&gt;" in page  # as typed, escaped once
    assert '<div class="bk-fields">' in page and "@Olive" in page and "@Ravi" in page
    buttons = parsed.with_attr("data-bk-element", "button")
    assert [b["data-action-id"] for b in buttons] == [
        ItemAction.ACKNOWLEDGE, ItemAction.MARK_ACTIONED, ItemAction.DECLINE, ItemAction.REASSIGN, ItemAction.ME_TOO,
    ]  # fmt: skip
    assert {b["data-block-id"] for b in buttons} == {"item_actions_7"}
    assert {b["data-value"] for b in buttons} == {"7"}
    assert buttons[0]["data-style"] == "primary" and "bk-button-primary" in (buttons[0]["class"] or "")
    assert json.loads(buttons[0]["data-text"] or "") == {
        "type": "plain_text",
        "text": "Acknowledge",
        "emoji": True,
    }
    (overflow,) = parsed.with_attr("data-bk-element", "overflow")
    assert overflow["data-action-id"] == ItemAction.MORE and overflow["data-block-id"] == "item_actions_7"
    options = [json.loads(attrs["data-option"] or "") for attrs in parsed.with_attr("data-option")]
    assert [option["value"] for option in options] == ["duplicate:7", "withdraw:7"]
    assert options[0]["text"] == {"type": "plain_text", "text": "Mark as duplicate", "emoji": True}
    assert [attrs["data-bk-block"] for attrs in parsed.with_attr("data-bk-block")] == [
        "section", "section", "section", "context", "actions",
    ]  # fmt: skip


def test_a_block_without_an_id_gets_one_from_its_place() -> None:
    page = render_blocks([{"type": "divider"}, {"type": "divider", "block_id": "mine"}], STRICT)
    assert [a["data-block-id"] for a in Parsed(page).with_attr("data-bk-block")] == ["bk-0", "mine"]


def test_filing_modal_inputs_carry_what_view_state_values_is_built_from() -> None:
    made = modal.filing_modal(
        modal.ModalInput(kind=ItemKind.ALARM, areas=["checkout"], private_metadata='{"c":"C1"}', text="Hi")
    )
    page = render_view(made.to_dict(), STRICT)
    parsed = Parsed(page)
    (form,) = parsed.with_attr("data-bk-view", "modal")
    assert form["data-callback-id"] == "cx_file_alarm" and form["data-private-metadata"] == '{"c":"C1"}'
    assert parsed.with_attr("data-bk-view-submit") and parsed.with_attr("data-bk-view-close")
    assert "Raise a CX alarm" in page and "Raise alarm" in page and "Cancel" in page
    stateful = {(a["data-block-id"], a["data-action-id"]): a for a in parsed.with_attr("data-bk-state")}
    expected = {
        Field.WHAT: ("plain_text_input", "value"),
        Field.CUSTOMERS: ("plain_text_input", "value"),
        Field.STAGE: ("static_select", "selected_option"),
        Field.SEVERITY: ("static_select", "selected_option"),
        Field.AREA: ("static_select", "selected_option"),
        Field.ANONYMOUS: ("checkboxes", "selected_options"),
    }
    assert {key: (a["data-bk-element"], a["data-bk-state"]) for key, a in stateful.items()} == {
        (field, field): kind for field, kind in expected.items()
    }
    assert all(a["data-bk-in-input"] == "true" for a in stateful.values())
    inputs = {a["data-block-id"]: a["data-optional"] for a in parsed.with_attr("data-bk-block", "input")}
    assert inputs[Field.WHAT] == "false" and inputs[Field.CUSTOMERS] == "true"
    (what,) = [a for tag, a in parsed.tags if tag == "textarea"]
    assert what["maxlength"] == "3000" and what["placeholder"] == "What did the customer run into?"
    assert ">Hi</textarea>" in page
    assert '<option value="medium" data-option=' in page and "selected>Medium</option>" in page
    checkbox = parsed.with_attr("type", "checkbox")[0]
    assert json.loads(checkbox["data-option"] or "")["value"] == "anonymous" and "checked" not in checkbox
    assert "<strong>File anonymously</strong>" in page and "bk-choice-description" in page
    assert "Not sure? Pick that" in page and "(optional)" in page


def test_radio_buttons_mark_their_initial_option() -> None:
    page = render_view(dialogs.actioned_modal(item()).to_dict(), STRICT)
    radios = Parsed(page).with_attr("type", "radio")
    assert [(r["value"], "checked" in r) for r in radios] == [("yes", True), ("no", False)]
    assert {r["name"] for r in radios} == {"led_to_action.led_to_action"}
    (group,) = Parsed(page).with_attr("data-bk-element", "radio_buttons")
    assert group["data-bk-state"] == "selected_option"


def test_user_and_conversation_selects_offer_the_names_the_page_knows() -> None:
    ctx = Context(names={"U0C": "Cleo", "U0A": "Abe", "C0GIFTS": "gifts", "S0G": "leads"}, strict=True)
    made = claim.claim_modal(item(), claimer="U0C", keywords=[], groups=[("S0G", "leads")])
    parsed = Parsed(render_view(made.to_dict(), ctx))
    (user,) = parsed.with_attr("data-bk-element", "users_select")
    assert user["data-bk-state"] == "selected_user" and user["data-action-id"] == Field.CLAIM_OWNER
    (channel,) = parsed.with_attr("data-bk-element", "conversations_select")
    assert channel["data-bk-state"] == "selected_conversation"
    assert json.loads(channel["data-filter"] or "") == {
        "include": ["public", "private"],
        "exclude_bot_users": True,
    }
    page = render_view(made.to_dict(), ctx)
    assert (
        '<option value="U0C" selected>@Cleo</option>' in page and '<option value="U0A">@Abe</option>' in page
    )
    assert '<option value="C0GIFTS">#gifts</option>' in page and 'U0A">#' not in page


def test_an_initial_user_the_page_doesnt_know_is_still_chosen() -> None:
    element = {"type": "users_select", "action_id": "who", "initial_user": "U0NEW"}
    assert '<option value="U0NEW" selected>@U0NEW</option>' in render_element(element, STRICT, block_id="b")


def test_static_select_option_groups_and_placeholder() -> None:
    element = {
        "type": "static_select",
        "action_id": "pick",
        "placeholder": {"type": "plain_text", "text": "Pick <one>"},
        "option_groups": [
            {
                "label": {"type": "plain_text", "text": "A & B"},
                "options": [{"text": {"type": "plain_text", "text": "x"}, "value": "1"}],
            }
        ],
    }
    page = render_element(element, STRICT, block_id="b")
    assert (
        '<optgroup label="A &amp; B">' in page
        and 'data-bk-placeholder="true" selected>Pick &lt;one&gt;' in page
    )
    assert Parsed(page).with_attr("data-option")[0]["value"] == "1"


def test_single_line_input_keeps_its_initial_value_and_limits() -> None:
    element = {
        "type": "plain_text_input",
        "action_id": "kw",
        "initial_value": 'a "quoted" <b>',
        "max_length": 75,
    }
    (field,) = Parsed(render_element(element, STRICT, block_id="b", in_input=True)).with_attr(
        "data-bk-state", "value"
    )
    assert field["value"] == 'a "quoted" <b>' and field["maxlength"] == "75" and field["type"] == "text"


def test_section_accessory_button_and_verbatim_text() -> None:
    reply = replies.confirmation(item(), permalink=None, suggestions=SUGGESTIONS)
    page = render_message({"text": reply.text, "blocks": reply.as_dicts()}, STRICT)
    (button,) = Parsed(page).with_attr("data-action-id", "metoo_join_instead")
    assert button["data-value"] == "7:3" and button["data-block-id"].startswith("bk-")
    assert "“Checkout &lt;b&gt;fails&lt;/b&gt;”" in page


def test_image_block_and_context_image() -> None:
    ctx = Context(files={"F1": "/files/F1.png"}, strict=True)
    blocks = [
        {
            "type": "image",
            "image_url": "https://example.com/chart.png",
            "alt_text": "chart",
            "title": {"type": "plain_text", "text": "Week"},
        },
        {"type": "image", "slack_file": {"id": "F1"}, "alt_text": "from a file"},
        {"type": "image", "image_url": "javascript:alert(1)", "alt_text": "bad"},
        {
            "type": "context",
            "elements": [{"type": "image", "image_url": "https://example.com/i.png", "alt_text": "i"}],
        },
    ]
    images = [a for tag, a in Parsed(render_blocks(blocks, ctx)).tags if tag == "img"]
    assert [a.get("src") for a in images] == [
        "https://example.com/chart.png",
        "/files/F1.png",
        None,
        "https://example.com/i.png",
    ]


def test_home_view_and_messages_without_blocks() -> None:
    made = home.home_view(raised=[item()], waiting=[item()], board=[Recognition("U0RAISER", 2)], votes={})
    page = render_view(made.to_dict(), STRICT)
    assert 'data-bk-view="home"' in page and "What you raised" in page and "<form" not in page
    assert render_message({"text": "*hi* <@U0OWNER>"}, STRICT) == (
        '<div class="bk-message"><div class="bk-message-text"><strong>hi</strong> '
        '<span class="bk-mention bk-mention-user" data-user-id="U0OWNER">@Olive</span></div></div>'
    )
    assert "*hi*" in render_message({"text": "*hi*", "mrkdwn": False}, STRICT)


def test_a_modal_without_submit_has_only_its_close_button() -> None:
    parsed = Parsed(render_view(claim.claim_note("Done").to_dict(), STRICT))
    assert parsed.with_attr("data-bk-view-close") and not parsed.with_attr("data-bk-view-submit")


def test_dates_in_cards_use_the_readers_zone() -> None:
    ctx = Context(tz=ZoneInfo("America/New_York"), now=datetime(2026, 11, 16, 12, tzinfo=UTC), strict=True)
    page = render_blocks([b.to_dict() for b in card_blocks(item())], ctx)
    assert "Raised <time" in page and "today 5:00 AM" in page


def test_hostile_values_in_attributes_never_break_out() -> None:
    hostile = '"><script>alert(1)</script>'
    element = {
        "type": "button",
        "action_id": hostile,
        "value": hostile,
        "text": {"type": "plain_text", "text": hostile},
        "url": "javascript:alert(1)",
    }
    view = {
        "type": "modal",
        "callback_id": hostile,
        "private_metadata": hostile,
        "title": {"type": "plain_text", "text": hostile},
        "blocks": [{"type": "actions", "block_id": hostile, "elements": [element]}],
    }
    page = render_view(view, STRICT)
    assert "<script" not in page
    parsed = Parsed(page)
    (button,) = parsed.with_attr("data-bk-element", "button")
    assert (
        button["data-action-id"] == hostile
        and button["data-value"] == hostile
        and button["data-block-id"] == hostile
    )
    assert "data-url" not in button
