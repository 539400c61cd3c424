"""The item card posted in its route's channel, and the notification text that goes with it."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.blocks import labels
from bot.blocks.ids import ItemAction
from bot.blocks.text import FIELD_TEXT_LIMIT, SECTION_TEXT_LIMIT, preview, shown
from storage.models import Item, ItemKind

GREY_AREA_NOTE = (
    ":white_circle: *Grey area*: no route fits this item, so it waits in triage for the CX leads "
    "to own it or pass it on."
)


def card_blocks(item: Item) -> list[Block]:
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=_title(item))),
        SectionBlock(
            text=MarkdownTextObject(
                text=shown(item.text, SECTION_TEXT_LIMIT, item_number=item.id), verbatim=True
            )
        ),
        SectionBlock(fields=_fields(item)),
    ]
    context = _context_lines(item)
    if context:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=line) for line in context]))
    blocks.append(_owner_buttons(item))
    return blocks


def card_text(item: Item) -> str:
    """Notification text: what a phone or screen reader shows for the card."""
    return f"{labels.KIND[item.kind]} #{item.id}: {preview(item.text)}"


def _title(item: Item) -> str:
    title = f"{labels.KIND_EMOJI[item.kind]} *{labels.KIND[item.kind]} #{item.id}*"
    if item.kind is ItemKind.ALARM and item.severity is not None:
        title += f"  ·  {labels.SEVERITY[item.severity]}"
    return title


def _fields(item: Item) -> list[MarkdownTextObject]:
    raiser = "Anonymous" if item.anonymous else labels.mention(item.raiser_id)
    pairs = [
        ("Area", item.area or "Grey area (none fits)"),
        ("Journey stage", labels.STAGE[item.journey_stage] if item.journey_stage else "Not given"),
        ("Owner", labels.mentions(item.owner)),
        ("Raised by", raiser),
        ("Status", labels.STATUS[item.status]),
    ]
    fields = [MarkdownTextObject(text=f"*{name}*\n{value}") for name, value in pairs]
    if item.customers:
        customers = shown(item.customers, FIELD_TEXT_LIMIT - 40, item_number=item.id)
        fields.append(MarkdownTextObject(text=f"*Customers affected*\n{customers}", verbatim=True))
    return fields


def _context_lines(item: Item) -> list[str]:
    lines = []
    if item.grey_area:
        lines.append(GREY_AREA_NOTE)
    if item.source_permalink:
        lines.append(f":link: Raised from <{item.source_permalink}|this message>")
    elif item.source_channel:
        lines.append(f":link: Raised from a message in <#{item.source_channel}>")
    return lines


def _owner_buttons(item: Item) -> ActionsBlock:
    value = str(item.id)
    return ActionsBlock(
        block_id=f"item_actions_{item.id}",
        elements=[
            ButtonElement(text="Acknowledge", action_id=ItemAction.ACKNOWLEDGE, value=value, style="primary"),
            ButtonElement(text="Mark actioned", action_id=ItemAction.MARK_ACTIONED, value=value),
            ButtonElement(text="Decline", action_id=ItemAction.DECLINE, value=value),
            ButtonElement(text="Reassign", action_id=ItemAction.REASSIGN, value=value),
        ],
    )
