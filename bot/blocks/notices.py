"""Messages that close the loop: DMs to raisers and new owners, public credit, and the question an
anonymous raiser is asked before being credited."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.blocks import labels
from bot.blocks.ids import CreditAction
from bot.blocks.replies import Reply
from bot.blocks.text import SECTION_TEXT_LIMIT, preview, shown
from bot.outbox.kinds import RaiserNews
from storage.models import Item, ItemKind


def _noun(item: Item) -> str:
    return "alarm" if item.kind is ItemKind.ALARM else "idea"


def _link(permalink: str | None, label: str = "Open the thread") -> str:
    return f" <{permalink}|{label}>" if permalink else ""


def _quote(text: str, limit: int = SECTION_TEXT_LIMIT - 400) -> str:
    return "\n".join(f">{line}" for line in shown(text, limit).splitlines() or [""])


def raiser_news(
    item: Item,
    news: RaiserNews,
    *,
    by: str,
    text: str | None,
    original: int | None,
    permalink: str | None,
    co_raiser: bool = False,
    anonymous: bool | None = None,
) -> Reply:
    """News for the item's raiser, or (`co_raiser`) for someone who said "me too" to it."""
    whose = f"the {_noun(item)} you raised too," if co_raiser else f"your {_noun(item)}"
    subject = f"{whose} *#{item.id}* (“{preview(item.text, 80)}”)"
    owner = labels.mention(by)
    if news is RaiserNews.ACKNOWLEDGED:
        head = f":eyes: {owner} acknowledged {subject} and is looking into it."
    elif news is RaiserNews.ACTIONED:
        head = f":white_check_mark: {owner} acted on {subject}. Here's what was done:\n{_quote(text or '')}"
    elif news is RaiserNews.DECLINED:
        head = (
            f":speech_balloon: {owner} looked at {subject} and decided not to act on it this time. "
            f"Their reason:\n{_quote(text or '')}\nThank you for raising it: knowing is what lets us choose."
        )
    elif news is RaiserNews.DUPLICATE:
        head = (
            f":twisted_rightwards_arrows: {subject} was already raised as *#{original}*, "
            "so it joins that one. "
            f"If #{original} leads to action, you share the credit."
        )
    else:
        head = f":arrows_counterclockwise: {owner} reopened {subject}."
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=head + _link(permalink)))]
    if item.anonymous if anonymous is None else anonymous:
        blocks.append(_context(":see_no_evil: You raised this anonymously; only you get these messages."))
    return Reply(text=f"News on {whose.rstrip(',')} #{item.id}", blocks=blocks)


def owner_notice(item: Item, *, by: str, permalink: str | None) -> Reply:
    head = (
        f":inbox_tray: {labels.mention(by)} handed you {labels.KIND[item.kind]} *#{item.id}*: "
        f"“{preview(item.text, 200)}”.{_link(permalink, 'Open it')}"
    )
    return Reply(
        text=f"{labels.KIND[item.kind]} #{item.id} is yours now",
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=head)),
            _context("Acknowledge it with the button on its card, or by replying in its thread."),
        ],
    )


def storm_notice(item: Item, *, joined: int, permalink: str | None) -> Reply:
    """One DM to the owner when many people join one alarm within an hour."""
    severity = labels.SEVERITY[item.severity] if item.severity else "raised"
    head = (
        f":cyclone: *{joined} people* said “me too” to {labels.KIND[item.kind]} *#{item.id}* within "
        f"the hour: “{preview(item.text, 200)}”. Its severity is now *{severity}*."
        f"{_link(permalink, 'Open it')}"
    )
    return Reply(
        text=f"{labels.KIND[item.kind]} #{item.id}: {joined} people raised it within the hour",
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=head)),
            _context("They all hear what you do with it. Acknowledge it so they know someone has it."),
        ],
    )


def kudos(item: Item, *, also_raised_by: Sequence[str], permalink: str | None) -> Reply:
    raisers = [labels.mention(item.raiser_id), *(labels.mention(user) for user in also_raised_by)]
    who = raisers[0] if len(raisers) == 1 else ", ".join(raisers[:-1]) + " and " + raisers[-1]
    acted = labels.mention(item.acted_by) if item.acted_by else labels.mentions(item.owner)
    spotted = "spotted" if item.kind is ItemKind.ALARM else "suggested"
    head = f":trophy: *Thank you, {who}!* You {spotted} something that made the customer's experience better."
    body = (
        f"*What was {spotted}* (#{item.id})\n{_quote(item.text, 1200)}\n"
        f"*What changed*, thanks to {acted}\n{_quote(item.resolution or '', 1200)}"
    )
    return Reply(
        text=f"Thank you, {who}, for raising #{item.id}",
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=head)),
            SectionBlock(text=MarkdownTextObject(text=body, verbatim=True)),
            _context(f"Raising it is how it got fixed.{_link(permalink, 'See the thread')}"),
        ],
    )


def kudos_addendum(item: Item, *, person: str, permalink: str | None) -> Reply:
    """A short thanks to a co-raiser who agreed to be named after the item's kudos went out."""
    spotted = "spotted" if item.kind is ItemKind.ALARM else "suggested"
    head = (
        f":trophy: *Thank you too, {labels.mention(person)}!* You {spotted} #{item.id} as well: "
        f"“{preview(item.text, 120)}”.{_link(permalink, 'See the thread')}"
    )
    return Reply(
        text=f"Thank you too, for raising #{item.id}",
        blocks=[SectionBlock(text=MarkdownTextObject(text=head))],
    )


def credit_question(item: Item, *, kudos_channel: str, co_raiser: bool = False) -> Reply:
    whose = (
        f"The {_noun(item)} you raised too, anonymously," if co_raiser else f"Your anonymous {_noun(item)}"
    )
    head = (
        f":tada: {whose} *#{item.id}* led to action:\n"
        f"{_quote(item.resolution or '', 1500)}\n"
        f"May we thank you by name in <#{kudos_channel}>? Nobody sees your name unless you say yes."
    )
    value = str(item.id)
    return Reply(
        text=f"Your anonymous {_noun(item)} #{item.id} led to action",
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=head)),
            ActionsBlock(
                block_id=f"credit_{item.id}",
                elements=[
                    ButtonElement(
                        text="Credit me publicly",
                        action_id=CreditAction.CREDIT_ME,
                        value=value,
                        style="primary",
                    ),
                    ButtonElement(text="Stay anonymous", action_id=CreditAction.STAY_ANONYMOUS, value=value),
                ],
            ),
        ],
    )


_WHY_NOT = {
    "is_archived": "that channel is archived",
    "channel_not_found": "that channel doesn't exist, or it is private and cxbot isn't in it",
    "not_in_channel": "that channel is private and cxbot isn't a member",
}
_FIX = {
    "is_archived": (
        "Unarchive the channel, or point the route at a live one in the routes file and restart cxbot."
    ),
    "channel_not_found": (
        "If the channel is private, invite cxbot there (`/invite @cxbot` in the channel). Otherwise "
        "point the route at a channel that exists in the routes file and restart cxbot."
    ),
    "not_in_channel": "Invite cxbot there: type `/invite @cxbot` in the channel.",
}


def _route_name(area: str | None) -> str:
    return f"the *{area}* route" if area else "its route"


def channel_problem_notice(*, channel: str, area: str | None, problem: str) -> str:
    """The line on a card that landed in triage because its route's channel refused it."""
    why = _WHY_NOT.get(problem, f"Slack said `{problem}`")
    return (
        f":warning: Meant for <#{channel}> ({_route_name(area)}), but {why}. It waits here in "
        "triage until a CX lead fixes the route."
    )


def route_channel_problem(
    item: Item, *, channel: str, area: str | None, problem: str, permalink: str | None
) -> Reply:
    """The DM to each CX lead: which route to fix, and how."""
    why = _WHY_NOT.get(problem, f"Slack said `{problem}`")
    head = (
        f":rotating_light: {labels.KIND[item.kind]} *#{item.id}* couldn't go to <#{channel}> "
        f"for {_route_name(area)}: {why}. I posted it in triage instead.{_link(permalink, 'Open it')}"
    )
    fix = _FIX.get(problem, "Check the route's channel in the routes file, then restart cxbot.")
    return Reply(
        text=f"Fix {_route_name(area).replace('*', '')}: its channel can't take cards",
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=head)),
            SectionBlock(text=MarkdownTextObject(text=f"*To fix it:* {fix}")),
            _context("Until then, its items come to triage. `cxbot doctor` checks every route."),
        ],
    )


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])
