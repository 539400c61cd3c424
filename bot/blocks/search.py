"""App Home's "me too" search: a modal to describe what you saw, then the open items that match,
each with a button to join it."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.blocks.ids import Callback, Field, MeTooAction
from bot.blocks.replies import Suggestion
from bot.blocks.text import preview

TITLE = "Me too"


def search_modal(*, query: str = "", note: str | None = None) -> View:
    """The search form: what did you see?"""
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(
                text="Seen a problem someone may have raised already? Say what you saw, and join "
                "their alarm or idea instead of filing it again."
            )
        ),
        InputBlock(
            block_id=Field.LOOKING_FOR,
            label="What did you see?",
            element=PlainTextInputElement(
                action_id=Field.LOOKING_FOR,
                max_length=300,
                initial_value=query or None,
                placeholder="refund page blank",
            ),
        ),
    ]
    if note:
        blocks.append(_context(note))
    return _modal(blocks, submit="Search", close="Close")


def results_modal(
    query: str, found: Sequence[Suggestion], *, joined: Sequence[int] = (), note: str | None = None
) -> View:
    """The open items that match, each with Me too (or a tick once joined); search again below."""
    if not found:
        nothing = f"Nothing open matches “{preview(query, 80)}”. Try other words."
        return search_modal(query=query, note=note or nothing)
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"*Open items like “{preview(query, 80)}”*"))
    ]
    if note:
        blocks.append(_context(note))
    blocks += [_result(suggestion, joined=suggestion.item_id in joined) for suggestion in found]
    blocks.append(
        _context("You'll hear what its owner does, as its raiser does. Not there? `/cx-alarm` files it.")
    )
    blocks += search_modal(query=query).blocks[1:]
    return _modal(blocks, submit="Search again", close="Done", query=query)


def _result(suggestion: Suggestion, *, joined: bool) -> SectionBlock:
    people = f"{suggestion.raised_by} {'person' if suggestion.raised_by == 1 else 'people'}"
    line = (
        f"*#{suggestion.item_id}* “{preview(suggestion.text, 120)}”\n"
        f"{suggestion.area or 'a grey area'} · raised by {people}"
    )
    if joined:
        return SectionBlock(
            text=MarkdownTextObject(text=f"{line}\n:white_check_mark: You're on it", verbatim=True)
        )
    button = ButtonElement(
        text=":raised_hand: Me too", action_id=MeTooAction.JOIN_FOUND, value=str(suggestion.item_id)
    )
    return SectionBlock(text=MarkdownTextObject(text=line, verbatim=True), accessory=button)


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def _modal(blocks: list[Block], *, submit: str, close: str, query: str = "") -> View:
    return View(
        type="modal",
        callback_id=Callback.FIND,
        title=TITLE,
        submit=submit,
        close=close,
        private_metadata=query[:300],
        blocks=blocks,
    )
