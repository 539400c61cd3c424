"""Who may do what, end to end: every listener the app registers (buttons, the ⋯ menu's options,
form submissions, commands, the message shortcut, events), driven over signed HTTP against the
real Bolt app by each of five actors, on a fresh item in a state where the action is otherwise
valid.

The verdicts in MATRIX are written out by hand from the README's rules; they are not computed from
bot/permissions.py. An allowed action must have its effect; a refused one must tell the user why,
privately and kindly, and change nothing: no item, event, vote or outbox row, and no call to Slack
but the refusal itself. tests/test_lifecycle.py holds the same rules for every state, in the core;
this file proves that every way in enforces them, and that no listener was left out.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from slack_bolt import App
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.blocks.ids import (
    Callback,
    ClaimAction,
    CreditAction,
    Field,
    ItemAction,
    MeTooAction,
    MoreOption,
    VerifyAction,
)
from bot.deps import Deps
from bot.items import flows, lifecycle
from bot.items.permissions import Actor
from bot.jobs.verify import run_verify_sweep
from bot.routing import claims
from bot.sandbox import envelopes
from bot.sandbox.fake_slack import Call, FakeSlack
from handlers import register_all
from storage.models import (
    ClaimStatus,
    CreditState,
    Event,
    Item,
    ItemKind,
    ItemStatus,
    OutboxMessage,
    RouteClaim,
    Vote,
)
from tests.support import ADMINS, BotUnderTest, HttpAnswer, block_action, modal_values, view_submission

OWNER = "U0BILLING"  # owns the billing route (tests/support.py ROUTES_TOML)
MEMBER = "U0ONB1"  # a member of S0ONBOARD, the user group that owns the onboarding route
ADMIN = "U0ADMIN1"  # a CX lead (CX_ADMINS)
RAISER = "U0RAISER"  # raised every item an action is tried on
STRANGER = "U0STRANGER"  # none of the above
NEWBIE = "U0NEWBIE"  # whom reassignments hand items to
GROUP = "S0ONBOARD"
CLAIMER = "U0CLAIMER"  # offered to own the grey areas that CX leads answer
GREY = ("grey", "claimed")  # items that fit no route: as filed, and with an offer to own waiting

ACTORS = ("owner", "member", "admin", "raiser", "stranger")
USER = {"owner": OWNER, "member": MEMBER, "admin": ADMIN, "raiser": RAISER, "stranger": STRANGER}
# The route of the item each actor tries: the owner's own, the member's group's, and for the rest
# one of each kind (the stranger is tried on the group's item, so group membership is what's checked).
AREA = {"owner": "billing", "member": "onboarding", "admin": "billing", "raiser": "billing"}
AREA["stranger"] = "onboarding"


class V(enum.Enum):
    YES = "allowed: it has its effect"
    NO = "refused, kindly and privately; nothing changes"
    NOTE = "kept as a comment on the item; nothing else changes"


Y, N, C = V.YES, V.NO, V.NOTE

# Row: a registered listener (kind:id), with a [variant] where one listener does two things.
MATRIX: dict[str, tuple[V, V, V, V, V]] = {
    # row                                  owner member admin raiser stranger
    "action:item_acknowledge":              (Y, Y, Y, N, N),
    "action:item_mark_actioned":            (Y, Y, Y, N, N),  # opens the form
    "action:item_decline":                  (Y, Y, Y, N, N),  # opens the form
    "action:item_reassign":                 (Y, Y, Y, N, N),  # opens the form
    "action:item_more:duplicate":           (Y, Y, Y, N, N),  # opens the form
    "action:item_more:withdraw":            (N, N, N, Y, N),  # the raiser, while new
    "action:item_reopen":                   (Y, Y, Y, N, N),
    "action:item_snooze":                   (Y, Y, Y, N, N),
    "action:item_upvote":                   (Y, Y, Y, Y, Y),  # one vote each, whatever the title
    "action:item_me_too":                   (Y, Y, Y, N, Y),  # anyone but its raiser joins an alarm
    "action:metoo_join_instead":            (N, N, N, Y, N),  # the raiser folds theirs into another
    "action:metoo_find":                    (Y, Y, Y, Y, Y),  # App Home's search: opens it
    "view:cx_find":                         (Y, Y, Y, Y, Y),  # ...and runs it
    "action:metoo_join_found":              (Y, Y, Y, N, Y),  # Me too on a result
    "action:claim_offer":                   (Y, Y, Y, Y, Y),  # anyone may offer to own a grey area
    "view:cx_claim":                        (Y, Y, Y, Y, Y),  # ...and send the offer
    "action:claim_approve":                 (N, N, Y, N, N),  # CX leads answer offers in triage
    "action:claim_not_now":                 (N, N, Y, N, N),
    "action:credit_me":                     (N, N, N, Y, N),  # the anonymous raiser's choice
    "action:stay_anonymous":                (N, N, N, Y, N),
    "action:verify_fixed":                  (N, N, N, Y, N),  # "did this fix it?": whoever was asked
    "action:verify_still_happening":        (N, N, N, Y, N),  # opens the form
    "view:cx_still_happening":              (N, N, N, Y, N),  # ...which reopens it
    "view:cx_mark_actioned":                (Y, Y, Y, N, N),
    "view:cx_decline":                      (Y, Y, Y, N, N),
    "view:cx_reassign":                     (Y, Y, Y, N, N),
    "view:cx_duplicate":                    (Y, Y, Y, N, N),
    "view:cx_file_alarm":                   (Y, Y, Y, Y, Y),  # anyone can sound the alarm
    "view:cx_file_idea":                    (Y, Y, Y, Y, Y),
    "command:/cx-alarm":                    (Y, Y, Y, Y, Y),
    "command:/cx-alarm [form]":             (Y, Y, Y, Y, Y),
    "command:/cx-idea":                     (Y, Y, Y, Y, Y),
    "command:/cx-idea [form]":              (Y, Y, Y, Y, Y),
    "command:/cx-digest":                   (N, N, Y, N, N),  # CX leads only
    "shortcut:cx_raise_from_message":       (Y, Y, Y, Y, Y),
    "event:message":                        (Y, Y, Y, C, C),  # a thread reply: acknowledges, or a comment
    "event:app_home_opened":                (Y, Y, Y, Y, Y),  # each sees their own App Home
}  # fmt: skip
# Events Slack itself sends, about the app rather than from a person: tests/test_slack_failures.py.
FROM_SLACK_ITSELF = {"event:tokens_revoked", "event:app_uninstalled"}


def listener_of(row: str) -> str:
    return row.split(" [", 1)[0]


# Finding every listener --------------------------------------------------------------------------------


class _Recorder:
    """Stands in for the Bolt App while handlers.register_all registers: notes each listener."""

    def __init__(self) -> None:
        self.listeners: list[str] = []

    def _note(self, kind: str) -> Callable[..., Callable[[Any], Any]]:
        def register(constraint: Any, *_args: Any, **_kwargs: Any) -> Callable[[Any], Any]:
            self.listeners.append(f"{kind}:{constraint}")
            return lambda listener: listener

        return register

    def __getattr__(self, name: str) -> Any:
        kinds = {"action": "action", "view_submission": "view", "view": "view", "command": "command"}
        kinds |= {"shortcut": "shortcut", "event": "event", "message": "event:message"}
        if name in kinds:
            return self._note(kinds[name])
        if name == "error":
            return lambda handler: handler  # not a user action
        raise AssertionError(f"handlers register with app.{name}(); teach this test about it")


def registered_listeners() -> list[str]:
    """Every listener handlers/ registers, with the ⋯ menu split into its options."""
    recorder = _Recorder()
    register_all(cast(App, recorder), cast(Deps, object()))
    listeners = []
    for listener in recorder.listeners:
        if listener == f"action:{ItemAction.MORE}":
            listeners += [f"{listener}:{option}" for option in MoreOption]
        else:
            listeners.append(listener)
    return listeners


def test_the_matrix_covers_every_listener_and_every_id() -> None:
    registered = registered_listeners()
    assert len(registered) == len(set(registered)), "a listener is registered twice"
    rows = {listener_of(row) for row in MATRIX}
    people = set(registered) - FROM_SLACK_ITSELF
    assert sorted(people - rows) == [], "listeners with no row in MATRIX: give each a verdict"
    assert sorted(rows - set(registered)) == [], "rows in MATRIX for listeners that no longer exist"
    assert set(MATRIX) == set(SCENARIOS), "every row needs a scenario that drives it"
    # And every id cxbot puts on a button or a form reaches one of them.
    ids = {f"action:{a}" for a in ItemAction if a is not ItemAction.MORE} | {
        f"action:{c}" for c in (*CreditAction, *ClaimAction)
    }
    ids |= {f"action:{v}" for v in VerifyAction}
    ids |= {f"view:{c}" for c in Callback} | {f"action:{ItemAction.MORE}:{o}" for o in MoreOption}
    assert ids <= set(registered)


def test_the_recorder_sees_what_bolt_registers() -> None:
    """The recorder above counts the same listeners the real Bolt app ends up with."""
    app = App(token="xoxb-1-test", signing_secret="s", token_verification_enabled=False)
    before = len(app._listeners)
    register_all(app, cast(Deps, object()))
    options = len(MoreOption) - 1  # the ⋯ menu is one listener, split into its options above
    assert len(app._listeners) - before == len(registered_listeners()) - options


# Driving the bot ---------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    items: list[tuple[Any, ...]]
    events: list[tuple[int, str, str]]
    votes: list[tuple[int, str]]
    outbox: int
    calls: int


@dataclass
class Case:
    row: str
    actor: str
    surface: str  # "message" (a card, a DM, a channel), "home" (App Home) or "modal" (an open one)
    n: int
    item_id: int | None = None
    answer: HttpAnswer | None = None
    before: Snapshot | None = None
    after: Snapshot | None = None
    new_calls: list[Call] = field(default_factory=list)

    @property
    def user(self) -> str:
        return USER[self.actor]

    @property
    def name(self) -> str:
        return f"{self.row} by the {self.actor}" + (" from App Home" if self.surface == "home" else "")

    @property
    def reply_to(self) -> str:
        return f"authz-{self.n}"

    @property
    def text(self) -> str:
        if SCENARIOS[self.row].item in GREY:  # fits no route
            return f"authz case {self.n}: the till swallows gift vouchers"
        return f"authz case {self.n}: refund never arrived"


LOOKUPS = {"usergroups.users.list", "users.info", "auth.test", "chat.getPermalink"}


class World:
    def __init__(self, bot: BotUnderTest, fake: FakeSlack) -> None:
        self.bot, self.fake = bot, fake
        self._views = 0
        self.original = 0  # the item duplicates are folded into
        self.claim_on: dict[int, int] = {}  # a grey item -> the claim waiting on it

    def view_id(self) -> str:
        self._views += 1
        return f"VAUTHZ{self._views:04d}"

    # Reading ----------------------------------------------------------------------------------------
    def item(self, item_id: int) -> Item:
        with self.bot.runtime.deps.session_factory() as session:
            item = session.get(Item, item_id)
            assert item is not None
            return item

    def item_by_text(self, text: str) -> Item | None:
        with self.bot.runtime.deps.session_factory() as session:
            return session.scalars(select(Item).where(Item.text == text)).one_or_none()

    def snapshot(self) -> Snapshot:
        columns = [column.key for column in Item.__table__.columns]
        with self.bot.runtime.deps.session_factory() as session:
            items = [
                tuple(getattr(i, c) for c in columns) for i in session.scalars(select(Item).order_by(Item.id))
            ]
            events = [(e.item_id, e.kind, e.actor) for e in session.scalars(select(Event).order_by(Event.id))]
            votes = [(v.item_id, v.voter_id) for v in session.scalars(select(Vote).order_by(Vote.item_id))]
            outbox = len(session.scalars(select(OutboxMessage.id)).all())
        return Snapshot(items, events, sorted(votes), outbox, len(self.fake.calls))

    def calls_since(self, snapshot: Snapshot) -> list[Call]:
        return [c for c in self.fake.calls[snapshot.calls :] if c.method not in LOOKUPS]

    # Setting up -------------------------------------------------------------------------------------
    def file(self, text: str, *, area: str, kind: ItemKind = ItemKind.ALARM, anonymous: bool = False) -> None:
        """Files an item as the raiser, through the filing form; it is stored before the answer."""
        callback = Callback.FILE_IDEA if kind is ItemKind.IDEA else Callback.FILE_ALARM
        severity = None if kind is ItemKind.IDEA else "medium"
        values = modal_values(text, area=area, anonymous=anonymous, severity=severity)
        payload = view_submission(callback_id=callback, values=values, user=RAISER, view_id=self.view_id())
        assert self.bot.interaction(payload).status == 200

    def close(self, item_id: int, *, led_to_action: bool) -> None:
        """Marks an item actioned, as a CX lead, through the core: the state some rows start from."""
        deps = self.bot.runtime.deps

        def apply(session: Session, item: Item, who: Actor) -> lifecycle.Change:
            return lifecycle.mark_actioned(
                session=session,
                item=item,
                actor=who,
                now=deps.clock(),
                what_was_done="Fixed it",
                led_to_action=led_to_action,
            )

        flows.change_item(deps, item_id=item_id, user_id=ADMIN, key=None, apply=apply)

    def offer_to_own(self, item_id: int, n: int) -> None:
        """Someone who is no CX lead offers to own the grey item: the claim waits in triage."""
        proposal = claims.Proposal(f"Area {n}", CLAIMER, "C0CLAIMS", ("voucher",))
        deps = self.bot.runtime.deps
        claims.offer(deps, item_id=item_id, user_id=CLAIMER, proposal=proposal, key=f"prepare-{n}")
        with deps.session_factory() as session:
            claim = session.scalars(select(RouteClaim).where(RouteClaim.item_id == item_id)).one()
            self.claim_on[item_id] = claim.id

    def claim_status(self, item_id: int) -> ClaimStatus:
        with self.bot.runtime.deps.session_factory() as session:
            return session.get_one(RouteClaim, self.claim_on[item_id]).status

    # Sending ----------------------------------------------------------------------------------------
    def click(
        self, case: Case, action_id: str, option: str | None = None, value: str | None = None
    ) -> HttpAnswer:
        payload = block_action(
            action_id=action_id,
            value=value if value is not None else "" if option else str(case.item_id),
            user=case.user,
            response_url=self.fake.response_url(case.reply_to),
            channel="D0RAISER" if action_id in set(CreditAction) else "C0BILLING",
            home=case.surface == "home",
            modal=envelopes.view(view_id="VFIND", callback_id=Callback.FIND, private_metadata="refund")
            if case.surface == "modal"
            else None,
            selected_option={"value": f"{option}:{case.item_id}"} if option else None,
        )
        return self.bot.interaction(payload)

    def submit(
        self, case: Case, callback: str, values: dict[str, Any], *, metadata: str | None = None
    ) -> HttpAnswer:
        payload = view_submission(
            callback_id=callback,
            values=values,
            user=case.user,
            view_id=self.view_id(),  # a form nobody opened: forged, as anyone could try
            private_metadata=str(case.item_id) if metadata is None else metadata,
        )
        return self.bot.interaction(payload)

    def command(self, case: Case, command: str, text: str) -> HttpAnswer:
        return self.bot.command(
            command, text, user=case.user, response_url=self.fake.response_url(case.reply_to)
        )

    def event(self, case: Case, event: dict[str, Any]) -> HttpAnswer:
        return self.bot.event(event, event_id=f"EvAuthz{case.n}")


# What each row needs, how it is sent, and what it does when allowed ---------------------------------------

Send = Callable[[World, Case], HttpAnswer]
Effect = Callable[[World, Case], None]


@dataclass(frozen=True)
class Scenario:
    send: Send
    effect: Effect
    refusal: str = "tell"  # "tell": ephemeral or a notice; "form": an error in the form; "ack": the reply
    says: str = "owner or a CX lead"  # what the refusal tells them: who can
    # The item it acts on: alarm, idea, actioned, credit_asked, verify_asked (actioned, and its raiser
    # asked "did this fix it?"), or none.
    item: str | None = "alarm"
    surfaces: tuple[str, ...] = ("message",)


def becomes(status: ItemStatus, event: str) -> Effect:
    def effect(world: World, case: Case) -> None:
        assert case.item_id is not None
        assert world.item(case.item_id).status is status
        assert case.before is not None and case.after is not None
        new = case.after.events[len(case.before.events) :]
        assert (case.item_id, event, case.user) in new, f"no {event} event by {case.user}: {new}"

    return effect


def opens_form(callback: str) -> Effect:
    def effect(world: World, case: Case) -> None:
        opened = [c for c in case.new_calls if c.method == "views.open"]
        assert len(opened) == 1, f"views.open calls: {opened}"
        assert opened[0].args["view"]["callback_id"] == callback
        if case.item_id is not None:
            assert opened[0].args["view"]["private_metadata"] == str(case.item_id)
        assert case.after is not None and case.before is not None
        assert _state(case.after) == _state(case.before), "opening a form changes nothing"

    return effect


def filed(kind: ItemKind) -> Effect:
    def effect(world: World, case: Case) -> None:
        item = world.item_by_text(case.text)
        assert item is not None, "nothing was filed"
        assert (item.kind, item.raiser_id) == (kind, case.user)

    return effect


def voted(world: World, case: Case) -> None:
    assert case.after is not None and case.item_id is not None
    assert (case.item_id, case.user) in case.after.votes


def co_raised(world: World, case: Case) -> None:
    assert case.before is not None and case.after is not None and case.item_id is not None
    new = case.after.events[len(case.before.events) :]
    assert (case.item_id, "co_raised", case.user) in new, f"no co_raised event by {case.user}: {new}"


def search_results(world: World, case: Case) -> None:
    assert case.answer is not None and case.before is not None and case.after is not None
    body = case.answer.json()
    assert body["response_action"] == "update" and body["view"]["callback_id"] == Callback.FIND
    assert "refund" in json.dumps(body["view"]).lower()
    assert _state(case.after) == _state(case.before), "a search changes nothing"


def offered(world: World, case: Case) -> None:
    """The offer is stored (a CX lead's is approved at once, and its item moved)."""
    assert case.before is not None and case.after is not None and case.item_id is not None
    new = case.after.events[len(case.before.events) :]
    assert (case.item_id, "claim_offered", case.user) in new, f"no claim_offered by {case.user}: {new}"
    assert world.item(case.item_id).grey_area is (case.actor != "admin")


def claim_answered(status: ClaimStatus) -> Effect:
    def effect(world: World, case: Case) -> None:
        assert case.item_id is not None
        assert world.claim_status(case.item_id) is status

    return effect


def claim_values(n: int) -> dict[str, Any]:
    return {
        **text_value(Field.CLAIM_AREA, f"Area {n}"),
        Field.CLAIM_OWNER: {Field.CLAIM_OWNER: {"type": "users_select", "selected_user": USER["raiser"]}},
        Field.CLAIM_CHANNEL: {
            Field.CLAIM_CHANNEL: {"type": "conversations_select", "selected_conversation": "C0CLAIMS"}
        },
        **text_value(Field.CLAIM_KEYWORDS, "voucher"),
    }


def credit(state: CreditState) -> Effect:
    def effect(world: World, case: Case) -> None:
        assert case.item_id is not None
        assert world.item(case.item_id).credit is state

    return effect


def reassigned(world: World, case: Case) -> None:
    assert case.item_id is not None
    becomes(ItemStatus.NEW, "reassigned")(world, case)
    assert world.item(case.item_id).owner == NEWBIE


def snoozed(world: World, case: Case) -> None:
    assert case.item_id is not None
    assert world.item(case.item_id).snooze_count == 1
    assert case.before is not None and case.after is not None
    assert (case.item_id, "snoozed", case.user) in case.after.events[len(case.before.events) :]


def digest_shown(world: World, case: Case) -> None:
    [shown] = [c for c in case.new_calls if c.method == "response_url"]
    assert shown.path.endswith(case.reply_to) and shown.args["response_type"] == "ephemeral"
    assert "Weekly CX digest" in shown.all_text()


def home_published(world: World, case: Case) -> None:
    published = [c for c in case.new_calls if c.method == "views.publish"]
    assert [c.args["user_id"] for c in published] == [case.user]
    assert case.after is not None and case.before is not None
    before, after = _state(case.before), _state(case.after)
    assert after[:3] == before[:3]  # items, events, votes: nothing changes...
    assert after[3] == before[3] + 1  # ...but the publish went through the outbox


def duplicate_of_original(world: World, case: Case) -> None:
    becomes(ItemStatus.DUPLICATE, "duplicate")(world, case)
    assert case.item_id is not None
    assert world.item(case.item_id).duplicate_of_id == world.original


def thread_reply(world: World, case: Case) -> HttpAnswer:
    assert case.item_id is not None
    item = world.item(case.item_id)
    assert item.card_ts, "the card was posted"
    event = {
        "type": "message",
        "channel": item.channel,
        "user": case.user,
        "text": "I can look into this",
        "ts": f"{1800000000 + case.n}.000100",
        "thread_ts": item.card_ts,
        "event_ts": f"{1800000000 + case.n}.000100",
        "channel_type": "channel",
    }
    return world.event(case, event)


def shortcut(world: World, case: Case) -> HttpAnswer:
    return world.bot.interaction(
        envelopes.message_action(
            callback_id="cx_raise_from_message",
            user=case.user,
            channel="C0SUPPORT",
            message=envelopes.message(user="U0CUSTOMER", ts="1700000000.000200", text="Help"),
            response_url=world.fake.response_url(case.reply_to),
            trigger=f"trigger-authz-{case.n}",
        )
    )


def text_value(field_id: str, value: str) -> dict[str, Any]:
    return {field_id: {field_id: {"type": "plain_text_input", "value": value}}}


ACTIONED = {
    **text_value("what_was_done", "Refunded and fixed the job"),
    "led_to_action": {"led_to_action": {"type": "radio_buttons", "selected_option": {"value": "yes"}}},
}
TO_NEWBIE = {"new_person": {"new_person": {"type": "users_select", "selected_user": NEWBIE}}}
BUTTON = ("message", "home")  # an item's buttons are on its card (and nag DMs) and in App Home

SCENARIOS: dict[str, Scenario] = {
    "action:item_acknowledge": Scenario(
        lambda w, c: w.click(c, ItemAction.ACKNOWLEDGE),
        becomes(ItemStatus.ACKNOWLEDGED, "acknowledged"),
        surfaces=BUTTON,
    ),
    "action:item_mark_actioned": Scenario(
        lambda w, c: w.click(c, ItemAction.MARK_ACTIONED), opens_form(Callback.MARK_ACTIONED), surfaces=BUTTON
    ),
    "action:item_decline": Scenario(
        lambda w, c: w.click(c, ItemAction.DECLINE), opens_form(Callback.DECLINE), surfaces=BUTTON
    ),
    "action:item_reassign": Scenario(
        lambda w, c: w.click(c, ItemAction.REASSIGN), opens_form(Callback.REASSIGN), surfaces=BUTTON
    ),
    "action:item_more:duplicate": Scenario(
        lambda w, c: w.click(c, ItemAction.MORE, MoreOption.DUPLICATE),
        opens_form(Callback.DUPLICATE),
        surfaces=BUTTON,
    ),
    "action:item_more:withdraw": Scenario(
        lambda w, c: w.click(c, ItemAction.MORE, MoreOption.WITHDRAW),
        becomes(ItemStatus.WITHDRAWN, "withdrawn"),
        says="Only the person who raised",
        surfaces=BUTTON,
    ),
    "action:item_reopen": Scenario(
        lambda w, c: w.click(c, ItemAction.REOPEN),
        becomes(ItemStatus.ACKNOWLEDGED, "reopened"),
        item="actioned",
        surfaces=BUTTON,
    ),
    "action:item_snooze": Scenario(lambda w, c: w.click(c, ItemAction.SNOOZE), snoozed, surfaces=BUTTON),
    "action:item_upvote": Scenario(
        lambda w, c: w.click(c, ItemAction.UPVOTE), voted, item="idea", surfaces=BUTTON
    ),
    "action:item_me_too": Scenario(
        lambda w, c: w.click(c, ItemAction.ME_TOO), co_raised, says="You raised", surfaces=BUTTON
    ),
    "action:metoo_join_instead": Scenario(
        lambda w, c: w.click(c, MeTooAction.JOIN_INSTEAD, value=f"{c.item_id}:{w.original}"),
        duplicate_of_original,
        says="Only the person who raised",
    ),
    "action:metoo_find": Scenario(
        lambda w, c: w.click(c, MeTooAction.FIND), opens_form(Callback.FIND), item=None, surfaces=("home",)
    ),
    "view:cx_find": Scenario(
        lambda w, c: w.submit(c, Callback.FIND, text_value("looking_for", "refund"), metadata=""),
        search_results,
        item=None,
    ),
    "action:metoo_join_found": Scenario(
        lambda w, c: w.click(c, MeTooAction.JOIN_FOUND), co_raised, says="You raised", surfaces=("modal",)
    ),
    "action:claim_offer": Scenario(
        lambda w, c: w.click(c, ClaimAction.OFFER), opens_form(Callback.CLAIM), item="grey", surfaces=BUTTON
    ),
    "view:cx_claim": Scenario(
        lambda w, c: w.submit(c, Callback.CLAIM, claim_values(c.n)), offered, item="grey"
    ),
    "action:claim_approve": Scenario(
        lambda w, c: w.click(c, ClaimAction.APPROVE, value=str(w.claim_on[c.item_id or 0])),
        claim_answered(ClaimStatus.APPROVED),
        says="Only a CX lead",
        item="claimed",
    ),
    "action:claim_not_now": Scenario(
        lambda w, c: w.click(c, ClaimAction.NOT_NOW, value=str(w.claim_on[c.item_id or 0])),
        claim_answered(ClaimStatus.DECLINED),
        says="Only a CX lead",
        item="claimed",
    ),
    "action:credit_me": Scenario(
        lambda w, c: w.click(c, CreditAction.CREDIT_ME),
        credit(CreditState.POSTED),
        says="Only the person who raised",
        item="credit_asked",
    ),
    "action:stay_anonymous": Scenario(
        lambda w, c: w.click(c, CreditAction.STAY_ANONYMOUS),
        credit(CreditState.DECLINED),
        says="Only the person who raised",
        item="credit_asked",
    ),
    "action:verify_fixed": Scenario(
        lambda w, c: w.click(c, VerifyAction.FIXED),
        becomes(ItemStatus.ACTIONED, "verified"),
        says="Only the people who raised",
        item="verify_asked",
    ),
    "action:verify_still_happening": Scenario(
        lambda w, c: w.click(c, VerifyAction.STILL_HAPPENING),
        opens_form(Callback.STILL_HAPPENING),
        says="Only the people who raised",
        item="verify_asked",
    ),
    "view:cx_still_happening": Scenario(
        lambda w, c: w.submit(c, Callback.STILL_HAPPENING, text_value("still_seeing", "Still broken")),
        becomes(ItemStatus.ACKNOWLEDGED, "reopened"),
        refusal="form",
        says="Only the people who raised",
        item="verify_asked",
    ),
    "view:cx_mark_actioned": Scenario(
        lambda w, c: w.submit(c, Callback.MARK_ACTIONED, ACTIONED),
        becomes(ItemStatus.ACTIONED, "actioned"),
        refusal="form",
    ),
    "view:cx_decline": Scenario(
        lambda w, c: w.submit(c, Callback.DECLINE, text_value("why", "Policy says 10 days")),
        becomes(ItemStatus.DECLINED, "declined"),
        refusal="form",
    ),
    "view:cx_reassign": Scenario(
        lambda w, c: w.submit(c, Callback.REASSIGN, TO_NEWBIE), reassigned, refusal="form"
    ),
    "view:cx_duplicate": Scenario(
        lambda w, c: w.submit(c, Callback.DUPLICATE, text_value("original", f"#{w.original}")),
        duplicate_of_original,
        refusal="form",
    ),
    "view:cx_file_alarm": Scenario(
        lambda w, c: w.submit(c, Callback.FILE_ALARM, modal_values(c.text), metadata=""),
        filed(ItemKind.ALARM),
        item=None,
    ),
    "view:cx_file_idea": Scenario(
        lambda w, c: w.submit(c, Callback.FILE_IDEA, modal_values(c.text, severity=None), metadata=""),
        filed(ItemKind.IDEA),
        item=None,
    ),
    "command:/cx-alarm": Scenario(
        lambda w, c: w.command(c, "/cx-alarm", c.text), filed(ItemKind.ALARM), item=None
    ),
    "command:/cx-alarm [form]": Scenario(
        lambda w, c: w.command(c, "/cx-alarm", ""), opens_form(Callback.FILE_ALARM), item=None
    ),
    "command:/cx-idea": Scenario(
        lambda w, c: w.command(c, "/cx-idea", c.text), filed(ItemKind.IDEA), item=None
    ),
    "command:/cx-idea [form]": Scenario(
        lambda w, c: w.command(c, "/cx-idea", ""), opens_form(Callback.FILE_IDEA), item=None
    ),
    "command:/cx-digest": Scenario(
        lambda w, c: w.command(c, "/cx-digest", ""),
        digest_shown,
        refusal="ack",
        says="for the CX leads",
        item=None,
    ),
    "shortcut:cx_raise_from_message": Scenario(shortcut, opens_form(Callback.FILE_ALARM), item=None),
    "event:message": Scenario(thread_reply, becomes(ItemStatus.ACKNOWLEDGED, "acknowledged"), refusal="none"),
    "event:app_home_opened": Scenario(
        lambda w, c: w.event(c, {"type": "app_home_opened", "user": c.user, "tab": "home"}),
        home_published,
        item=None,
    ),
}


def _state(snapshot: Snapshot) -> tuple[Any, ...]:
    return snapshot.items, snapshot.events, snapshot.votes, snapshot.outbox


# Checking a refusal ------------------------------------------------------------------------------------


def check_refused(world: World, case: Case, scenario: Scenario) -> None:
    assert case.before is not None and case.after is not None and case.answer is not None
    assert case.answer.status == 200, f"answered {case.answer.status}"
    assert _state(case.after) == _state(case.before), "a refusal changed the database"
    body = case.answer.json() if case.answer.body else {}
    if scenario.refusal == "form":
        assert body.get("response_action") == "errors", f"the form was accepted: {body}"
        [message] = body["errors"].values()
        _kind(message, scenario.says)
        assert case.new_calls == [], f"calls besides the refusal: {[c.method for c in case.new_calls]}"
    elif scenario.refusal == "ack":
        assert body.get("response_type") == "ephemeral", f"no private refusal in the answer: {body}"
        _kind(body["text"], scenario.says)
        assert case.new_calls == [], f"calls besides the refusal: {[c.method for c in case.new_calls]}"
    elif case.surface == "modal":  # said in the modal itself
        assert [c.method for c in case.new_calls] == ["views.update"], (
            "wanted the modal updated, and nothing else"
        )
        [updated] = case.new_calls
        assert updated.args["view_id"] == "VFIND"
        _kind(updated.all_text(), scenario.says)
    elif case.surface == "home":  # no channel to whisper in: a small notice, not a form
        assert [c.method for c in case.new_calls] == ["views.open"], "wanted one notice, and nothing else"
        [notice] = case.new_calls
        assert "callback_id" not in notice.args["view"] and "submit" not in notice.args["view"]
        _kind(notice.all_text(), scenario.says)
    else:
        methods = [c.method for c in case.new_calls]
        assert methods == ["response_url"], "wanted one ephemeral reply, and nothing else"
        [told] = case.new_calls
        assert told.path.endswith(case.reply_to), told.path
        assert told.args["response_type"] == "ephemeral" and told.args["replace_original"] is False
        _kind(told.all_text(), scenario.says)


def _kind(text: str, says: str) -> None:
    """A refusal says who can, and isn't the generic 'something went wrong'."""
    assert says in text, f"the refusal doesn't say who can: {text!r}"
    assert "went wrong" not in text and "Traceback" not in text, text


def check_comment(world: World, case: Case) -> None:
    """A thread reply from someone who doesn't manage the item: a comment, and nothing else."""
    assert case.before is not None and case.after is not None and case.item_id is not None
    assert world.item(case.item_id).status is ItemStatus.NEW
    new_events = case.after.events[len(case.before.events) :]
    assert new_events == [(case.item_id, "comment", case.user)], new_events
    assert case.after.votes == case.before.votes and case.after.outbox == case.before.outbox
    assert case.new_calls == [], [c.method for c in case.new_calls]


# The matrix, end to end ------------------------------------------------------------------------------


def cases() -> list[Case]:
    found, n = [], 0
    for row, scenario in SCENARIOS.items():
        for surface in scenario.surfaces:
            for actor in ACTORS:
                n += 1
                found.append(Case(row=row, actor=actor, surface=surface, n=n))
    return found


def prepare(world: World, all_cases: list[Case]) -> None:
    """Files a fresh item for every case that acts on one, puts it in the state the row starts
    from, and delivers its card; and files the item duplicates are folded into."""
    world.file("The original refund complaint", area="billing")
    for case in all_cases:
        need = SCENARIOS[case.row].item
        if need is not None:
            kind = ItemKind.IDEA if need == "idea" else ItemKind.ALARM
            area = "not sure" if need in GREY else AREA[case.actor]
            world.file(case.text, area=area, kind=kind, anonymous=need == "credit_asked")
    original = world.item_by_text("The original refund complaint")
    assert original is not None
    world.original = original.id
    for case in all_cases:
        need = SCENARIOS[case.row].item
        if need is None:
            continue
        item = world.item_by_text(case.text)
        assert item is not None, f"{case.name}: its item wasn't filed"
        case.item_id = item.id
        if need in ("actioned", "credit_asked", "verify_asked"):
            world.close(item.id, led_to_action=need == "credit_asked")
        if need == "claimed":
            world.offer_to_own(item.id, case.n)
    deps = world.bot.runtime.deps
    asked_at = deps.clock() + timedelta(days=3)  # 3 working days after the Monday they were actioned
    run_verify_sweep(
        deps.session_factory,
        at=asked_at,
        now=deps.clock(),
        interval=timedelta(minutes=15),
        people_of=deps.people_of,
    )
    world.bot.settle()
    for case in all_cases:
        if case.item_id is not None:
            item = world.item(case.item_id)
            if SCENARIOS[case.row].item in GREY:
                assert item.grey_area and item.owner == ",".join(ADMINS)
                continue
            assert item.owner == {"billing": OWNER, "onboarding": GROUP}[AREA[case.actor]]
            if SCENARIOS[case.row].item == "credit_asked":
                assert item.credit is CreditState.ASKED


def run(world: World, case: Case) -> None:
    scenario = SCENARIOS[case.row]
    case.before = world.snapshot()
    case.answer = scenario.send(world, case)
    world.bot.settle()
    case.after = world.snapshot()
    case.new_calls = world.calls_since(case.before)
    verdict = MATRIX[case.row][ACTORS.index(case.actor)]
    if verdict is V.YES:
        assert case.answer.status == 200, f"answered {case.answer.status}"
        body = case.answer.json() if case.answer.body else None
        assert not (isinstance(body, dict) and body.get("response_action") == "errors"), body
        scenario.effect(world, case)
    elif verdict is V.NOTE:
        check_comment(world, case)
    else:
        check_refused(world, case, scenario)


def test_every_action_by_every_actor(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    fake_slack.set_usergroup(GROUP, [MEMBER])
    world = World(bot, fake_slack)
    all_cases = cases()
    prepare(world, all_cases)
    failures = []
    for case in all_cases:
        try:
            run(world, case)
        except Exception as error:  # every case is tried; all that fail are listed
            verdict = MATRIX[case.row][ACTORS.index(case.actor)]
            detail = str(error) if isinstance(error, AssertionError) else repr(error)
            failures.append(f"{case.name} (wanted: {verdict.value}): {detail}")
    assert failures == [], f"{len(failures)} of {len(all_cases)} cases failed:\n" + "\n".join(failures)
    assert fake_slack.violations == []
