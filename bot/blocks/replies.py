"""What the raiser is told: the confirmation, usage help and kind error messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.blocks import labels
from bot.blocks.ids import MeTooAction
from bot.blocks.text import preview
from storage.models import Item, ItemKind


@dataclass(frozen=True)
class Suggestion:
    """An open item that reads like one just filed: its raiser may join it instead ("me too")."""

    item_id: int
    text: str
    area: str | None
    raised_by: int  # people: its raiser and its co-raisers


@dataclass(frozen=True)
class Reply:
    """A short message: notification text plus the blocks that show it."""

    text: str
    blocks: list[Block]

    def as_dicts(self) -> list[dict[str, object]]:
        return [block.to_dict() for block in self.blocks]


def simple(text: str) -> Reply:
    return Reply(text=text, blocks=[SectionBlock(text=MarkdownTextObject(text=text))])


def saving_slowly() -> Reply:
    return simple(
        ":hourglass_flowing_sand: Saving this is taking longer than usual. I'll confirm here as soon "
        "as it's stored; there's no need to send it again."
    )


def confirmation(
    item: Item, *, permalink: str | None, card_failed: bool = False, suggestions: Sequence[Suggestion] = ()
) -> Reply:
    noun = "alarm" if item.kind is ItemKind.ALARM else "idea"
    if card_failed:
        headline = (
            f":floppy_disk: Your {noun} is saved as *#{item.id}*, but I couldn't post it to "
            f"<#{item.channel}>. The CX leads can see it; nothing is lost."
        )
    elif item.card_ts is None and not item.grey_area:
        headline = (
            f":white_check_mark: Your {noun} is filed as *#{item.id}* for "
            f"{labels.mentions(item.owner)}, who owns *{item.area}*. Its card is on its way to "
            f"<#{item.channel}>."
        )
    elif item.card_ts is None:
        headline = (
            f":white_check_mark: Your {noun} is filed as *#{item.id}*. No area fits it yet, so it "
            f"is on its way to the CX leads in <#{item.channel}> to find it an owner."
        )
    elif item.grey_area:
        headline = (
            f":white_check_mark: Your {noun} is filed as *#{item.id}*. No area fits it yet, so it "
            f"went to the CX leads in <#{item.channel}> to find it an owner."
        )
    else:
        headline = (
            f":white_check_mark: Your {noun} is filed as *#{item.id}* and went to "
            f"{labels.mentions(item.owner)}, who owns *{item.area}*."
        )
    if permalink:
        headline += f" <{permalink}|See it in the channel>"
    notes = ["You'll hear from me when its owner acts on it."]
    if item.anonymous:
        notes.insert(0, ":see_no_evil: Filed anonymously: your name isn't shown anywhere.")
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=headline)),
        ContextBlock(elements=[MarkdownTextObject(text=note) for note in notes]),
    ]
    if suggestions:
        blocks += _suggested(item, suggestions)
    return Reply(text=f"Your {noun} is filed as #{item.id}.", blocks=blocks)


def _suggested(item: Item, suggestions: Sequence[Suggestion]) -> list[Block]:
    """Open items that read like this one, each with a button to join it instead."""
    noun = "alarms" if item.kind is ItemKind.ALARM else "ideas"
    blocks: list[Block] = [
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text=f"*Already raised?* These open {noun} read alike:")),
    ]
    for suggestion in suggestions:
        people = f"{suggestion.raised_by} {'person' if suggestion.raised_by == 1 else 'people'}"
        where = suggestion.area or "a grey area"
        line = f"*#{suggestion.item_id}* “{preview(suggestion.text, 120)}”\n{where} · raised by {people}"
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=line, verbatim=True),
                accessory=ButtonElement(
                    text=f"Me too: join #{suggestion.item_id}",
                    action_id=MeTooAction.JOIN_INSTEAD,
                    value=f"{item.id}:{suggestion.item_id}",
                ),
            )
        )
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Joining folds #{item.id} into that one: you hear what its owner does and share "
                    "its credit. Not the same? Nothing to do: yours stays as it is."
                )
            ]
        )
    )
    return blocks


def usage(command: str, *, unknown: str | None = None) -> Reply:
    noun = "alarm" if command == "/cx-alarm" else "idea"
    lines = []
    if unknown:
        lines.append(f"I don't know the option `{_inline(unknown)}`.")
    lines += [
        f"*{command} what you saw*  files a CX {noun} at once.",
        f"*{command}*  on its own opens a form with more detail"
        + (" (severity, area, anonymity)." if noun == "alarm" else " (area, anonymity)."),
        f"*{command} help*  shows this.",
    ]
    if noun == "alarm":
        lines.append("You can also raise any message as an alarm: *More actions (⋯) > Raise as CX alarm*.")
    text = "\n".join(lines)
    return Reply(text=f"How to use {command}", blocks=[SectionBlock(text=MarkdownTextObject(text=text))])


def _inline(word: str) -> str:
    return preview(word.replace("`", "'"), 40)
