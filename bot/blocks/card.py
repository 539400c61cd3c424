"""The item card posted in its route's channel, and the notification text that goes with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    InteractiveElement,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    SectionBlock,
)

from bot.blocks import labels
from bot.blocks.ids import ClaimAction, ItemAction, MoreOption
from bot.blocks.text import FIELD_TEXT_LIMIT, SECTION_TEXT_LIMIT, preview, shown
from storage.models import Item, ItemKind, ItemStatus

GREY_AREA_NOTE = (
    ":white_circle: *Grey area*: no route fits this item, so it waits in triage for the CX leads "
    "to own it or pass it on. If it's yours to own, say *I can own this*."
)


@dataclass(frozen=True)
class HandedOver:
    """cxbot gave the item to `to_owner` because `from_owner`'s Slack account is deactivated."""

    from_owner: str
    to_owner: str


@dataclass(frozen=True)
class CardExtras:
    """What the card shows beyond the item's own columns."""

    votes: int = 0
    handed_over: HandedOver | None = None  # the latest reassignment, if cxbot made it
    co_raisers: int = 0  # people who said "me too"
    # Lines the card shows in a box of their own, such as why it is in triage.
    notices: tuple[str, ...] = ()
    # What its raisers said when asked "did this fix it?" (bot/blocks/verify.py), if anything.
    verification: str | None = None


def card_blocks(item: Item, extras: CardExtras = CardExtras()) -> list[Block]:
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=_title(item))),
        SectionBlock(
            text=MarkdownTextObject(
                text=shown(item.text, SECTION_TEXT_LIMIT, item_number=item.id), verbatim=True
            )
        ),
        SectionBlock(fields=_fields(item, extras)),
    ]
    if item.resolution:
        blocks.append(_resolution(item))
    if extras.notices:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=notice) for notice in extras.notices]))
    lines = _context_lines(item, extras)
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=line) for line in lines]))
    buttons = item_buttons(item, extras)
    if buttons:
        blocks.append(ActionsBlock(block_id=f"item_actions_{item.id}", elements=buttons))
    return blocks


def card_text(item: Item) -> str:
    """Notification text: what a phone or screen reader shows for the card."""
    return f"{labels.KIND[item.kind]} #{item.id}: {preview(item.text)}"


def moved_card(item: Item) -> list[Block]:
    where = f"<#{item.channel}>" if item.area else labels.mentions(item.owner)
    text = f":arrow_right: *{labels.KIND[item.kind]} #{item.id}* was reassigned and now lives in {where}."
    return [SectionBlock(text=MarkdownTextObject(text=text))]


def _title(item: Item) -> str:
    title = f"{labels.KIND_EMOJI[item.kind]} *{labels.KIND[item.kind]} #{item.id}*"
    if item.kind is ItemKind.ALARM and item.severity is not None:
        title += f"  ·  {labels.SEVERITY[item.severity]}"
    return title


def _fields(item: Item, extras: CardExtras) -> list[MarkdownTextObject]:
    raiser = "Anonymous" if item.anonymous else labels.mention(item.raiser_id)
    if extras.co_raisers:
        raiser += f" and {extras.co_raisers} other{'s' if extras.co_raisers != 1 else ''}"
    pairs = [
        ("Area", item.area or "Grey area (none fits)"),
        ("Journey stage", labels.STAGE[item.journey_stage] if item.journey_stage else "Not given"),
        ("Owner", labels.mentions(item.owner)),
        ("Raised by", raiser),
        ("Status", _status(item)),
    ]
    fields = [MarkdownTextObject(text=f"*{name}*\n{value}") for name, value in pairs]
    if item.customers:
        customers = shown(item.customers, FIELD_TEXT_LIMIT - 40, item_number=item.id)
        fields.append(MarkdownTextObject(text=f"*Customers affected*\n{customers}", verbatim=True))
    return fields


def _status(item: Item) -> str:
    status = labels.STATUS[item.status]
    if item.status is ItemStatus.DUPLICATE and item.duplicate_of_id:
        status += f" of #{item.duplicate_of_id}"
    if item.status is ItemStatus.ACTIONED and item.led_to_action is False:
        status += " (no change needed)"
    return status


def _resolution(item: Item) -> SectionBlock:
    heading = "What was done" if item.status is ItemStatus.ACTIONED else "Why it was declined"
    if item.status not in (ItemStatus.ACTIONED, ItemStatus.DECLINED):
        heading = "Last resolution (before it was reopened)"
    body = shown(item.resolution or "", SECTION_TEXT_LIMIT - 60, item_number=item.id)
    return SectionBlock(text=MarkdownTextObject(text=f"*{heading}*\n{body}", verbatim=True))


def when(moment: datetime) -> str:
    """A time each reader sees in their own time zone."""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def _context_lines(item: Item, extras: CardExtras) -> list[str]:
    times = [f"Raised {when(item.created_at)}"]
    if item.acknowledged_at:
        times.append(f"acknowledged {when(item.acknowledged_at)}")
    if item.closed_at:
        by = f" by {labels.mention(item.acted_by)}" if item.acted_by else ""
        if item.anonymous and item.acted_by == item.raiser_id:
            by = " by its raiser"  # folded into another by them ("me too"): still anonymous
        times.append(f"{item.status.value} {when(item.closed_at)}{by}")
    lines = [" · ".join(times)]
    if item.grey_area:
        lines.append(GREY_AREA_NOTE)
    if extras.handed_over is not None and extras.handed_over.to_owner == item.owner:
        lines.append(handed_over_note(extras.handed_over))
    if extras.verification:
        lines.append(extras.verification)
    if item.source_permalink:
        lines.append(f":link: Raised from <{item.source_permalink}|this message>")
    elif item.source_channel:
        lines.append(f":link: Raised from a message in <#{item.source_channel}>")
    if item.status in (ItemStatus.NEW, ItemStatus.ACKNOWLEDGED):
        lines.append("Owner: reply in this thread to acknowledge.")
    return lines


def handed_over_note(handed_over: HandedOver) -> str:
    gone = [labels.mention(person) for person in handed_over.from_owner.split(",") if person]
    whose = f"{gone[0]}'s Slack account is" if len(gone) == 1 else f"{', '.join(gone)}'s Slack accounts are"
    return (
        f":busts_in_silhouette: Reassigned to {labels.mentions(handed_over.to_owner)}: {whose} deactivated."
    )


def item_buttons(item: Item, extras: CardExtras = CardExtras()) -> list[InteractiveElement]:
    value = str(item.id)
    buttons: list[InteractiveElement] = []
    if item.status is ItemStatus.NEW:
        buttons.append(_button("Acknowledge", ItemAction.ACKNOWLEDGE, value, style="primary"))
    if item.status in (ItemStatus.NEW, ItemStatus.ACKNOWLEDGED):
        adopt = "Adopt idea" if item.kind is ItemKind.IDEA else "Mark actioned"
        buttons += [
            _button(adopt, ItemAction.MARK_ACTIONED, value),
            _button("Decline", ItemAction.DECLINE, value),
            _button("Reassign", ItemAction.REASSIGN, value),
        ]
    if item.status in (ItemStatus.ACTIONED, ItemStatus.DECLINED, ItemStatus.DUPLICATE):
        buttons.append(_button("Reopen", ItemAction.REOPEN, value))
    if item.kind is ItemKind.ALARM and item.status in (ItemStatus.NEW, ItemStatus.ACKNOWLEDGED):
        buttons.append(_button(":raised_hand: Me too", ItemAction.ME_TOO, value))
    if item.grey_area and item.status in (ItemStatus.NEW, ItemStatus.ACKNOWLEDGED):
        buttons.append(_button(":raising_hand: I can own this", ClaimAction.OFFER, value))
    if item.kind is ItemKind.IDEA and item.status is not ItemStatus.WITHDRAWN:
        buttons.append(_button(f":thumbsup: Upvote · {extras.votes}", ItemAction.UPVOTE, value))
    if item.status in (ItemStatus.NEW, ItemStatus.ACKNOWLEDGED):
        buttons.append(_more(item))
    return buttons


def _button(
    text: str, action: ItemAction | ClaimAction, value: str, *, style: str | None = None
) -> ButtonElement:
    return ButtonElement(text=text, action_id=action, value=value, style=style)


def _more(item: Item) -> OverflowMenuElement:
    options = [
        Option(value=f"{MoreOption.DUPLICATE}:{item.id}", label="Mark as duplicate"),
        Option(value=f"{MoreOption.WITHDRAW}:{item.id}", label="Withdraw (raiser, while new)"),
    ]
    return OverflowMenuElement(action_id=ItemAction.MORE, options=options)
