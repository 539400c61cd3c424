"""Block Kit rendering: the values the pure render functions return."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.blocks.card import CardExtras, HandedOver, card_blocks, card_text
from bot.blocks.modal import ModalInput, filing_modal, read_values
from bot.blocks.replies import confirmation, usage
from storage.models import Item, ItemKind, ItemStatus, JourneyStage, Severity
from tests.support import modal_values

NOW = datetime(2026, 11, 16, 10, tzinfo=UTC)


def make_item(**overrides: object) -> Item:
    fields: dict[str, object] = {
        "id": 7,
        "kind": ItemKind.ALARM,
        "status": ItemStatus.NEW,
        "text": "Checkout fails on Safari",
        "customers": None,
        "journey_stage": JourneyStage.BUY,
        "severity": Severity.HIGH,
        "raiser_id": "U0RAISER",
        "anonymous": False,
        "area": "checkout",
        "grey_area": False,
        "routed_by": "picked",
        "owner": "U0OWNER",
        "channel": "C0CHECKOUT",
        "card_ts": "1.1",
        "source_channel": None,
        "source_ts": None,
        "source_permalink": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    fields.update(overrides)
    return Item(**fields)


def dicts(blocks: list) -> str:  # type: ignore[type-arg]
    import json

    return json.dumps([block.to_dict() for block in blocks])


def test_card_shows_everything_an_owner_needs() -> None:
    shown = dicts(card_blocks(make_item()))
    for expected in ("CX alarm #7", "High", "checkout", "Buy", "<@U0OWNER>", "<@U0RAISER>", "New"):
        assert expected in shown
    assert "Grey area" not in shown


def test_idea_card_has_no_severity() -> None:
    shown = dicts(card_blocks(make_item(kind=ItemKind.IDEA, severity=None)))
    assert "CX idea #7" in shown and "High" not in shown


def test_grey_area_card_is_marked_and_mentions_every_admin() -> None:
    shown = dicts(card_blocks(make_item(grey_area=True, area=None, owner="U0A1,U0A2")))
    assert "Grey area" in shown and "<@U0A1>" in shown and "<@U0A2>" in shown


def test_anonymous_card_never_names_the_raiser() -> None:
    blocks = card_blocks(make_item(anonymous=True))
    assert "U0RAISER" not in dicts(blocks) and "Anonymous" in dicts(blocks)


def test_group_owner_is_a_subteam_mention() -> None:
    assert "<!subteam^S0GROUP>" in dicts(card_blocks(make_item(owner="S0GROUP")))


def test_card_text_is_a_short_escaped_preview() -> None:
    text = card_text(make_item(text="<!here> " + "long " * 100))
    assert text.startswith("CX alarm #7: &lt;!here&gt;") and len(text) < 200


def test_source_link_on_card() -> None:
    shown = dicts(
        card_blocks(make_item(source_channel="C0S", source_permalink="https://x.slack.com/archives/C0S/p1"))
    )
    assert "https://x.slack.com/archives/C0S/p1" in shown


def test_card_says_who_took_over_from_a_deactivated_owner_while_they_still_own_it() -> None:
    handed = CardExtras(handed_over=HandedOver(from_owner="U0GONE", to_owner="U0CFO"))
    shown = dicts(card_blocks(make_item(owner="U0CFO"), handed))
    assert "Reassigned to <@U0CFO>: <@U0GONE>'s Slack account is deactivated." in shown
    assert "<@U0GONE>" not in dicts(card_blocks(make_item(owner="U0SOMEONE"), handed))  # passed on since
    to_leads = CardExtras(handed_over=HandedOver(from_owner="U0A,U0B", to_owner="U0L1,U0L2"))
    shown = dicts(card_blocks(make_item(owner="U0L1,U0L2"), to_leads))
    assert "Reassigned to <@U0L1>, <@U0L2>: <@U0A>, <@U0B>'s Slack accounts are deactivated." in shown


def test_confirmation_variants() -> None:
    routed = dicts(confirmation(make_item(), permalink="https://p").blocks)
    assert "#7" in routed and "<@U0OWNER>" in routed and "https://p" in routed
    grey = dicts(confirmation(make_item(grey_area=True, area=None), permalink=None).blocks)
    assert "CX leads" in grey
    on_its_way = dicts(confirmation(make_item(card_ts=None), permalink=None).blocks)
    assert "filed as *#7*" in on_its_way and "on its way to <#" in on_its_way
    unposted = dicts(confirmation(make_item(card_ts=None), permalink=None, card_failed=True).blocks)
    assert "saved as *#7*" in unposted and "couldn't post" in unposted
    anonymous = dicts(confirmation(make_item(anonymous=True), permalink=None).blocks)
    assert "anonymously" in anonymous


def test_usage_escapes_the_unknown_option() -> None:
    shown = dicts(usage("/cx-idea", unknown="--<!here>").blocks)
    assert "<!here>" not in shown and "/cx-idea" in shown and "severity" not in shown


def test_modal_round_trip() -> None:
    view = filing_modal(
        ModalInput(kind=ItemKind.ALARM, areas=["billing"], private_metadata='{"c":"C1"}')
    ).to_dict()
    assert view["private_metadata"] == '{"c":"C1"}'
    assert len(view["title"]["text"]) <= 24 and len(view["submit"]["text"]) <= 24
    values = read_values(
        modal_values(
            "It broke", customers=" ACME ", stage="get_help", severity="low", area="billing", anonymous=True
        )
    )
    assert values.text == "It broke" and values.customers == " ACME "  # as typed
    assert values.stage is JourneyStage.GET_HELP and values.severity is Severity.LOW
    assert values.area == "billing" and values.anonymous
    assert read_values(modal_values("x", area="not sure")).area is None
    assert read_values({}).text == ""
