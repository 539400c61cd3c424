"""Claiming a grey area end to end over HTTP against the fake Slack: "I can own this" on a grey-area
card, its form, a CX lead's Approve or Not now in triage, the route it makes, the item it moves,
the public thanks, and what later items and `cxbot routes import` do with the claimed route."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from bot.blocks.ids import Callback, ClaimAction, Field
from bot.jobs.roundup import build_roundup
from bot.sandbox.fake_slack import Call, FakeSlack
from storage.models import ClaimStatus, Event, Item, Route, RouteClaim
from tests.support import ADMINS, TRIAGE, BotUnderTest, block_action, view_submission

LEAD = ADMINS[0]
CARL = "U0CARL"
GIFTS = "C0GIFTS"
GREY_TEXT = "Gift card balance vanishes after a partial redemption at the till"


def file(bot: BotUnderTest, fake: FakeSlack, text: str, *, user: str = "U0RAISER") -> Item:
    assert (
        bot.command("/cx-alarm", text, user=user, response_url=fake.response_url(f"file-{user}")).status
        == 200
    )
    bot.settle()
    with bot.runtime.deps.session_factory() as session:
        item = session.scalars(select(Item).where(Item.text == text)).one()
        session.expunge(item)
        return item


def item(bot: BotUnderTest, item_id: int) -> Item:
    with bot.runtime.deps.session_factory() as session:
        found = session.get(Item, item_id)
        assert found is not None
        session.expunge(found)
        return found


def claims(bot: BotUnderTest) -> list[RouteClaim]:
    with bot.runtime.deps.session_factory() as session:
        rows = list(session.scalars(select(RouteClaim).order_by(RouteClaim.id)))
        session.expunge_all()
        return rows


def route(bot: BotUnderTest, area: str) -> Route | None:
    with bot.runtime.deps.session_factory() as session:
        found = session.scalar(select(Route).where(Route.area == area))
        if found is not None:
            session.expunge(found)
        return found


def events(bot: BotUnderTest, item_id: int) -> list[tuple[str, dict[str, Any]]]:
    with bot.runtime.deps.session_factory() as session:
        rows = session.scalars(select(Event).where(Event.item_id == item_id).order_by(Event.id))
        return [(row.kind, dict(row.data)) for row in rows]


def buttons_of(call: Call) -> list[str]:
    return [
        element["action_id"]
        for block in call.args["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def click(
    bot: BotUnderTest,
    fake: FakeSlack,
    action_id: str,
    value: str,
    *,
    user: str,
    name: str,
    channel: str = TRIAGE,
) -> None:
    payload = block_action(
        action_id=action_id, value=value, user=user, response_url=fake.response_url(name), channel=channel
    )
    assert bot.interaction(payload).status == 200
    bot.settle()


def told(fake: FakeSlack, name: str) -> str:
    return " ".join(c.all_text() for c in fake.calls_to("response_url") if c.path.endswith(f"/{name}"))


def claim_values(
    *,
    area: str = "Gift cards",
    owner: str | None = CARL,
    group: str | None = None,
    channel: str | None = GIFTS,
    keywords: str = "gift card, redemption",
) -> dict[str, Any]:
    group_option = {"text": {"type": "plain_text", "text": "gift team"}, "value": group} if group else None
    return {
        Field.CLAIM_AREA: {Field.CLAIM_AREA: {"type": "plain_text_input", "value": area}},
        Field.CLAIM_OWNER: {Field.CLAIM_OWNER: {"type": "users_select", "selected_user": owner}},
        Field.CLAIM_GROUP: {Field.CLAIM_GROUP: {"type": "static_select", "selected_option": group_option}},
        Field.CLAIM_CHANNEL: {
            Field.CLAIM_CHANNEL: {"type": "conversations_select", "selected_conversation": channel}
        },
        Field.CLAIM_KEYWORDS: {Field.CLAIM_KEYWORDS: {"type": "plain_text_input", "value": keywords}},
    }


def submit(bot: BotUnderTest, item_id: int, *, user: str, view_id: str = "VCLAIM1", **fields: Any) -> Any:
    payload = view_submission(
        callback_id=Callback.CLAIM,
        values=claim_values(**fields),
        user=user,
        view_id=view_id,
        private_metadata=str(item_id),
    )
    answer = bot.interaction(payload)
    assert answer.status == 200
    bot.settle()
    return answer.json()


def posts_to(fake: FakeSlack, channel: str) -> list[Call]:
    return [c for c in fake.calls_to("chat.postMessage") if c.args["channel"] == channel and c.fault is None]


def test_anyone_claims_a_grey_area_and_a_cx_lead_approves_it(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    fake_slack.set_usergroup("S0GIFTS", [CARL], name="Gift team")
    grey = file(bot, fake_slack, GREY_TEXT)
    file(bot, fake_slack, "Refund not received after 10 days")
    [grey_card] = [c for c in posts_to(fake_slack, TRIAGE) if f"#{grey.id}" in c.args["text"]]
    assert ClaimAction.OFFER in buttons_of(grey_card)
    assert "I can own this" in grey_card.all_text()
    [routed_card] = posts_to(fake_slack, "C0BILLING")
    assert ClaimAction.OFFER not in buttons_of(routed_card)

    # Carl, who is no CX lead, offers: the form opens with him as owner and the distinctive words.
    click(bot, fake_slack, ClaimAction.OFFER, str(grey.id), user=CARL, name="offer")
    [opened] = fake_slack.calls_to("views.open")
    form = json.dumps(opened.args["view"])
    assert opened.args["view"]["callback_id"] == Callback.CLAIM
    assert '"initial_user": "U0CARL"' in form and "Gift team" in form and "S0GIFTS" in form
    [keywords] = [b for b in opened.args["view"]["blocks"] if b.get("block_id") == Field.CLAIM_KEYWORDS]
    suggested = keywords["element"]["initial_value"]
    assert suggested == "balance, vanishes, partial, redemption"  # no "gift card": Carl adds it

    # A kind error on each field that can't be a route, and nothing stored.
    assert submit(bot, grey.id, user=CARL, area="billing")["errors"][Field.CLAIM_AREA].startswith(
        "There's already an area called “billing”"
    )
    assert Field.CLAIM_AREA in submit(bot, grey.id, user=CARL, area="<!channel> gifts")["errors"]
    assert (
        "at least one keyword"
        in submit(bot, grey.id, user=CARL, keywords=" , ")["errors"][Field.CLAIM_KEYWORDS]
    )
    common = submit(bot, grey.id, user=CARL, keywords="gift card, the")["errors"][Field.CLAIM_KEYWORDS]
    assert "“the” is too common" in common
    assert claims(bot) == []

    answer = submit(bot, grey.id, user=CARL)
    assert answer["response_action"] == "update"
    assert "A CX lead will look at it" in json.dumps(answer["view"])
    submit(bot, grey.id, user=CARL)  # Slack retried the same submission: still one claim
    [claim] = claims(bot)
    assert (claim.area, claim.owner, claim.channel, claim.keywords) == (
        "Gift cards",
        CARL,
        GIFTS,
        ["gift card", "redemption"],
    )
    assert claim.status is ClaimStatus.PENDING

    [request] = [c for c in posts_to(fake_slack, TRIAGE) if "offers to own a grey area" in c.all_text()]
    assert buttons_of(request) == [ClaimAction.APPROVE, ClaimAction.NOT_NOW]
    assert "Gift cards" in request.all_text() and f"<#{GIFTS}>" in request.all_text()
    assert route(bot, "Gift cards") is None

    # Only a CX lead may answer.
    click(bot, fake_slack, ClaimAction.APPROVE, str(claim.id), user=CARL, name="carl-approves")
    assert "Only a CX lead" in told(fake_slack, "carl-approves")
    assert claims(bot)[0].status is ClaimStatus.PENDING

    click(bot, fake_slack, ClaimAction.APPROVE, str(claim.id), user=LEAD, name="lead-approves")
    assert "is an area now" in told(fake_slack, "lead-approves")
    created = route(bot, "Gift cards")
    assert created is not None and created.active and created.claimed_by == CARL
    assert (created.owner, created.channel, created.keywords) == (CARL, GIFTS, ["gift card", "redemption"])
    moved = item(bot, grey.id)
    assert (moved.area, moved.owner, moved.channel, moved.grey_area) == ("Gift cards", CARL, GIFTS, False)
    kinds = [kind for kind, _ in events(bot, grey.id)]
    assert kinds[-3:] == ["claim_offered", "claim_approved", "reassigned"]
    reassigned = events(bot, grey.id)[-1][1]
    assert reassigned["from_grey_area"] is True and reassigned["claimed_by"] == CARL

    # Its card moved to the new channel; the request shows the answer; Carl hears; the thanks is public.
    [new_card] = posts_to(fake_slack, GIFTS)
    assert f"#{grey.id}" in new_card.args["text"] and ClaimAction.OFFER not in buttons_of(new_card)
    updates = {c.args["ts"]: c for c in fake_slack.calls_to("chat.update")}
    assert "now lives in" in updates[grey_card.response["ts"]].all_text()
    decided = updates[request.response["ts"]]
    assert "Approved by <@U0ADMIN1>" in decided.all_text() and buttons_of(decided) == []
    [dm] = [c for c in posts_to(fake_slack, CARL) if "approved your claim" in c.all_text()]
    assert "Gift cards" in dm.all_text() and f"<#{GIFTS}>" in dm.all_text()
    [thanks] = [c for c in posts_to(fake_slack, "C0KUDOS") if "owning a grey area" in c.all_text()]
    assert "Thank you, <@U0CARL>" in thanks.all_text() and "“gift card” or “redemption”" in thanks.all_text()

    # A second click is told how it went; later items with its keywords go straight there.
    click(bot, fake_slack, ClaimAction.NOT_NOW, str(claim.id), user=ADMINS[1], name="late")
    assert "already approved by <@U0ADMIN1>" in told(fake_slack, "late")
    later = file(bot, fake_slack, "Customer's gift card was declined online", user="U0DORA")
    assert (item(bot, later.id).area, item(bot, later.id).channel) == ("Gift cards", GIFTS)
    fake_slack.assert_no_violations()


def test_not_now_leaves_the_item_in_triage_and_tells_the_claimer(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    grey = file(bot, fake_slack, GREY_TEXT)
    submit(bot, grey.id, user=CARL, group="S0GIFTS", owner=CARL)
    [claim] = claims(bot)
    assert claim.owner == "S0GIFTS"  # a group chosen wins over the person
    click(bot, fake_slack, ClaimAction.NOT_NOW, str(claim.id), user=LEAD, name="not-now")
    assert claims(bot)[0].status is ClaimStatus.DECLINED
    assert route(bot, "Gift cards") is None
    assert item(bot, grey.id).grey_area and item(bot, grey.id).channel == TRIAGE
    [dm] = [c for c in posts_to(fake_slack, CARL) if "Not now" in c.all_text()]
    assert "stays in triage" in dm.all_text()
    [request] = [c for c in posts_to(fake_slack, TRIAGE) if "offers to own" in c.all_text()]
    [decided] = [c for c in fake_slack.calls_to("chat.update") if c.args["ts"] == request.response["ts"]]
    assert "said not now" in decided.all_text() and buttons_of(decided) == []
    assert [kind for kind, _ in events(bot, grey.id)][-2:] == ["claim_offered", "claim_declined"]
    # Carl may offer again, better put.
    assert submit(bot, grey.id, user=CARL, view_id="VCLAIM2", area="Vouchers")["response_action"] == "update"
    assert [c.status for c in claims(bot)] == [ClaimStatus.DECLINED, ClaimStatus.PENDING]


def test_a_cx_leads_claim_needs_no_approval(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    grey = file(bot, fake_slack, GREY_TEXT)
    answer = submit(bot, grey.id, user=LEAD, owner=LEAD)
    assert "is an area now" in json.dumps(answer["view"])
    [claim] = claims(bot)
    assert claim.status is ClaimStatus.APPROVED and claim.decided_by == LEAD
    assert not [c for c in posts_to(fake_slack, TRIAGE) if "offers to own" in c.all_text()]
    assert item(bot, grey.id).area == "Gift cards"
    assert [c for c in posts_to(fake_slack, "C0KUDOS") if "owning a grey area" in c.all_text()]
    assert not [c for c in posts_to(fake_slack, LEAD) if "approved your claim" in c.all_text()]


def test_an_item_that_found_an_owner_meanwhile_cant_be_claimed(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    grey = file(bot, fake_slack, GREY_TEXT)
    submit(bot, grey.id, user=CARL)
    [claim] = claims(bot)
    # A CX lead hands the item to billing before anyone answers the claim.
    payload = view_submission(
        callback_id=Callback.REASSIGN,
        values={
            Field.NEW_AREA: {
                Field.NEW_AREA: {
                    "type": "static_select",
                    "selected_option": {
                        "text": {"type": "plain_text", "text": "billing"},
                        "value": "billing",
                    },
                }
            },
            Field.NEW_PERSON: {Field.NEW_PERSON: {"type": "users_select", "selected_user": None}},
        },
        user=LEAD,
        view_id="VREASSIGN",
        private_metadata=str(grey.id),
    )
    assert bot.interaction(payload).status == 200
    bot.settle()
    click(bot, fake_slack, ClaimAction.OFFER, str(grey.id), user="U0DORA", name="dora-offers")
    assert "isn't a grey area any more" in told(fake_slack, "dora-offers")
    assert fake_slack.calls_to("views.open") == []
    # Approving the earlier claim still makes the area; the item stays with billing.
    click(bot, fake_slack, ClaimAction.APPROVE, str(claim.id), user=LEAD, name="approve")
    assert "stays where it is" in told(fake_slack, "approve")
    assert route(bot, "Gift cards") is not None and item(bot, grey.id).area == "billing"


def test_the_roundup_names_who_claimed_a_grey_area(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    grey = file(bot, fake_slack, GREY_TEXT)
    submit(bot, grey.id, user=CARL)
    [claim] = claims(bot)
    click(bot, fake_slack, ClaimAction.APPROVE, str(claim.id), user=LEAD, name="approve")
    now = bot.runtime.deps.clock()
    with bot.runtime.deps.session_factory() as session:
        roundup = build_roundup(session, start=grey.created_at, end=now.replace(year=now.year + 1))
    [claimed] = roundup.claimed
    assert (claimed.by, claimed.area, claimed.item.id) == (CARL, "Gift cards", grey.id)


def test_an_area_name_is_taken_whatever_its_case_and_accents(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    """SQLite's lower() knows only ASCII: names are compared as Python compares them."""
    grey = file(bot, fake_slack, GREY_TEXT)
    assert (
        submit(bot, grey.id, user=LEAD, owner=LEAD, area="Ärger am Schalter")["response_action"] == "update"
    )
    other = file(bot, fake_slack, "The till swallows coupons at the self-checkout")
    errors = submit(bot, other.id, user=CARL, view_id="VCLAIM9", area="ÄRGER AM SCHALTER")["errors"]
    assert errors[Field.CLAIM_AREA].startswith("There's already an area called “Ärger am Schalter”")
