""" "Did this fix it?": the question a raiser is asked some days after their item was actioned,
the short form behind **Still happening**, and what its owner and its card then say."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.blocks import labels
from bot.blocks.ids import Callback, Field, VerifyAction
from bot.blocks.replies import Reply
from bot.blocks.text import preview, shown
from storage.models import Item, ItemKind

NOTE_LIMIT = 3000


def _noun(item: Item) -> str:
    return "alarm" if item.kind is ItemKind.ALARM else "idea"


def _quote(text: str, limit: int) -> str:
    return "\n".join(f">{line}" for line in shown(text, limit).splitlines() or [""])


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def _date(moment: datetime) -> str:
    """A date each reader sees in their own time zone."""
    return f"<!date^{int(moment.timestamp())}^{{date}}|{moment:%d %B %Y}>"


def verify_question(item: Item, *, co_raiser: bool, anonymous: bool, permalink: str | None) -> Reply:
    """The DM: what was done, then Fixed for customers or Still happening."""
    whose = f"the {_noun(item)} you raised too" if co_raiser else f"your {_noun(item)}"
    by = labels.mention(item.acted_by) if item.acted_by else labels.mentions(item.owner)
    on = f"On {_date(item.closed_at)}, " if item.closed_at else ""
    head = (
        f":mag: {on}{by} marked {whose} *#{item.id}* (“{preview(item.text, 80)}”) as actioned. "
        f"Here's what was done:\n{_quote(item.resolution or '', 1500)}"
    )
    value = str(item.id)
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=head)),
        SectionBlock(text=MarkdownTextObject(text="*Did it fix things for customers?*")),
        ActionsBlock(
            block_id=f"verify_{item.id}",
            elements=[
                ButtonElement(
                    text="Fixed for customers", action_id=VerifyAction.FIXED, value=value, style="primary"
                ),
                ButtonElement(text="Still happening", action_id=VerifyAction.STILL_HAPPENING, value=value),
            ],
        ),
    ]
    notes = ["One click is all it takes. No answer is fine too: I won't ask again."]
    if permalink:
        notes.append(f"<{permalink}|Open the thread>")
    if anonymous:
        notes.insert(0, ":see_no_evil: You raised this anonymously; only you see this question.")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=note) for note in notes]))
    return Reply(text=f"Did this fix it? #{item.id}: {preview(item.text, 80)}", blocks=blocks)


def still_happening_modal(item: Item) -> View:
    return View(
        type="modal",
        callback_id=Callback.STILL_HAPPENING,
        title="Still happening",
        submit="Reopen it",
        close="Cancel",
        private_metadata=str(item.id),
        blocks=[
            _context(f"*{labels.KIND[item.kind]} #{item.id}*: {preview(item.text, 200)}"),
            InputBlock(
                block_id=Field.STILL_SEEING,
                label="What do you still see?",
                optional=True,
                hint="Optional. Its owner reads this, so a detail or an example helps them most.",
                element=PlainTextInputElement(
                    action_id=Field.STILL_SEEING,
                    multiline=True,
                    max_length=NOTE_LIMIT,
                    placeholder="A customer was charged twice again this morning.",
                ),
            ),
            _context("Reopening it puts it back with its owner. You'll hear from me when they act on it."),
        ],
    )


def answered_view(text: str) -> View:
    """What the form turns into once it is sent."""
    return View(
        type="modal",
        title="Thank you",
        close="Done",
        blocks=[SectionBlock(text=MarkdownTextObject(text=text))],
    )


def still_happening_notice(
    item: Item, *, raiser: str | None, note: str | None, reopened: bool, permalink: str | None
) -> Reply:
    """The DM to the owner. `raiser` is None when they raised it anonymously."""
    who = labels.mention(raiser) if raiser else "Someone who raised it anonymously"
    what = f"{labels.KIND[item.kind]} *#{item.id}* (“{preview(item.text, 120)}”)"
    if reopened:
        head = (
            f":arrows_counterclockwise: {who} says {what} is still happening for customers, so I reopened it."
        )
    else:
        head = f":arrows_counterclockwise: {who} says {what} is still happening for customers too."
    link = f" <{permalink}|Open it>" if permalink else ""
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=head + link))]
    if note:
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=f"*What they still see*\n{_quote(note, 2500)}"))
        )
    blocks.append(_context("Mark it actioned again once it's fixed; they'll hear what you did."))
    return Reply(text=f"#{item.id} is still happening for customers", blocks=blocks)


def confirmed_line(fixed: int) -> str:
    """The card's line once raisers said it is fixed. Nobody is named: some raise anonymously."""
    people = "the person who raised it" if fixed == 1 else f"{fixed} people who raised it"
    return f":white_check_mark: Confirmed fixed for customers by {people}."


def reopened_line(note: str | None) -> str:
    line = ":arrows_counterclockwise: Reopened by someone who raised it: still happening for customers."
    if note and note.strip():
        line += f" “{preview(note, 300)}”"
    return line
