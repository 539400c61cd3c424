"""The "you said, we did" roundup: what changed because people spoke up, in a few warm lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.blocks import labels
from bot.blocks.replies import Reply
from bot.blocks.text import preview
from storage.models import Item, ItemKind

# Slack allows 50 blocks a message: the header, totals, a divider, the items, the grey areas.
MAX_SHOWN = 20


@dataclass(frozen=True)
class Change:
    """One item that led to a change, and who raised it, as the roundup may name them."""

    item: Item
    raised_by: str  # a mention, or "a colleague" for someone not to be named
    others: int  # co-raisers besides


@dataclass(frozen=True)
class Claimed:
    """A grey area that found an owner, and who gave it one."""

    item: Item
    by: str
    area: str | None


@dataclass(frozen=True)
class Roundup:
    start: datetime
    end: datetime
    changes: Sequence[Change]
    claimed: Sequence[Claimed]
    people: int  # distinct people behind the changes


def roundup_reply(roundup: Roundup) -> Reply:
    span = f"{roundup.start:%-d %b} to {roundup.end:%-d %b}"
    alarms = sum(1 for change in roundup.changes if change.item.kind is ItemKind.ALARM)
    ideas = len(roundup.changes) - alarms
    if not roundup.changes and not roundup.claimed:
        text = f"You said, we did ({span}): nothing closed the loop this time. Keep raising what you see."
        return Reply(text=text, blocks=[SectionBlock(text=MarkdownTextObject(text=f":seedling: {text}"))])
    head = (
        f"Because people spoke up, {_count(alarms, 'alarm')} led to a fix and {_count(ideas, 'idea')} "
        f"changed how we work, thanks to {_count(roundup.people, 'person', 'people')}."
    )
    if roundup.claimed:
        head += f" {_count(len(roundup.claimed), 'grey area')} found an owner."
    blocks: list[Block] = [
        HeaderBlock(text="You said, we did"),
        SectionBlock(text=MarkdownTextObject(text=head)),
        ContextBlock(elements=[MarkdownTextObject(text=span)]),
    ]
    for change in list(roundup.changes)[:MAX_SHOWN]:
        blocks += [DividerBlock(), _change(change)]
    if len(roundup.changes) > MAX_SHOWN:
        more = len(roundup.changes) - MAX_SHOWN
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"…and {more} more.")]))
    if roundup.claimed:
        lines = [
            f"• {labels.mention(claim.by)} took on #{claim.item.id} “{preview(claim.item.text, 80)}”"
            + (f" for *{claim.area}*" if claim.area else "")
            for claim in list(roundup.claimed)[:MAX_SHOWN]
        ]
        blocks += [
            DividerBlock(),
            SectionBlock(
                text=MarkdownTextObject(text="*Grey areas that found an owner*\n" + "\n".join(lines))
            ),
        ]
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(text="Seen something? `/cx-alarm` or `/cx-idea`: it's how these happened.")
            ]
        )
    )
    return Reply(text=f"You said, we did: {head}", blocks=blocks)


def _change(change: Change) -> SectionBlock:
    item = change.item
    spotted = "spotted" if item.kind is ItemKind.ALARM else "suggested"
    who = change.raised_by + (f" and {_count(change.others, 'other')}" if change.others else "")
    text = (
        f"{labels.KIND_EMOJI[item.kind]} *{who}* {spotted}: “{preview(item.text, 200)}”\n"
        f"*What changed:* {preview(item.resolution or '', 300)}"
    )
    return SectionBlock(text=MarkdownTextObject(text=text, verbatim=True))


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else (many or one + 's')}"
