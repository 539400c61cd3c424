"""The nag DM, the escalation DM and the note left in an escalated item's thread."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    InteractiveElement,
    MarkdownTextObject,
    SectionBlock,
)

from bot.blocks import labels
from bot.blocks.ids import ItemAction
from bot.blocks.replies import Reply
from bot.blocks.text import preview
from bot.items.sla import MAX_SNOOZES, waiting_since
from storage.models import Item, ItemStatus

MAX_ITEMS_SHOWN = 15


def age(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 1:
        return f"{max(int(delta.total_seconds() // 60), 1)} min"
    if hours < 48:
        return f"{int(hours)} h"
    return f"{int(hours // 24)} days"


def nag_message(items: Sequence[Item], *, now: datetime) -> Reply:
    count = len(items)
    head = f":alarm_clock: *{count} CX item{'s are' if count != 1 else ' is'} waiting on you.*"
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=head))]
    for item in items[:MAX_ITEMS_SHOWN]:
        blocks += _item_rows(item, now)
    if count > MAX_ITEMS_SHOWN:
        blocks.append(
            _context(f"…and {count - MAX_ITEMS_SHOWN} more under *Waiting on you* in cxbot's App Home.")
        )
    blocks.append(
        _context("You get one of these at most once per item per staleness period, in working hours.")
    )
    return Reply(text=f"{count} CX item{'s' if count != 1 else ''} waiting on you", blocks=blocks)


def _item_rows(item: Item, now: datetime) -> list[Block]:
    state = "waiting for acknowledgement" if item.status is ItemStatus.NEW else "acknowledged, not closed"
    text = (
        f"{labels.KIND_EMOJI[item.kind]} *#{item.id}* {preview(item.text, 150)}\n"
        f"{state} for *{age(now - waiting_since(item))}* · {item.area or 'grey area'}"
    )
    value = str(item.id)
    buttons: list[InteractiveElement] = []
    if item.status is ItemStatus.NEW:
        buttons.append(
            ButtonElement(text="Acknowledge", action_id=ItemAction.ACKNOWLEDGE, value=value, style="primary")
        )
    buttons.append(ButtonElement(text="Mark actioned", action_id=ItemAction.MARK_ACTIONED, value=value))
    if item.snooze_count < MAX_SNOOZES:
        buttons.append(ButtonElement(text="Snooze 1 day", action_id=ItemAction.SNOOZE, value=value))
    return [
        SectionBlock(text=MarkdownTextObject(text=text)),
        ActionsBlock(block_id=f"nag_{item.id}", elements=buttons),
    ]


def escalation_message(item: Item, *, nags: int, now: datetime, permalink: str | None) -> Reply:
    link = f" <{permalink}|Open it>" if permalink else ""
    text = (
        f":rotating_light: *#{item.id}* has waited {age(now - waiting_since(item))} and its owner "
        f"({labels.mentions(item.owner)}) hasn't answered {nags} reminders, so it comes to you.\n"
        f"“{preview(item.text, 200)}”{link}"
    )
    return Reply(
        text=f"Escalated: CX item #{item.id}", blocks=[SectionBlock(text=MarkdownTextObject(text=text))]
    )


def escalation_note(*, nags: int, to: Sequence[str]) -> Reply:
    who = ", ".join(labels.mention(person) for person in to)
    text = f":rotating_light: No answer after {nags} reminders, so this is escalated to {who}."
    return Reply(text=text, blocks=[SectionBlock(text=MarkdownTextObject(text=text))])


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])
