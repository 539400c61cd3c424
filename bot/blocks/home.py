"""App Home: what you raised, what waits on you, and the recognition board."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.blocks import labels
from bot.blocks.card import CardExtras, item_buttons, when
from bot.blocks.ids import MeTooAction
from bot.blocks.text import preview
from storage.figures import Recognition
from storage.models import Item

MAX_BLOCKS = 100


def home_view(
    *, raised: Sequence[Item], waiting: Sequence[Item], board: Sequence[Recognition], votes: dict[int, int]
) -> View:
    blocks: list[Block] = [
        ActionsBlock(
            block_id="home_me_too",
            elements=[ButtonElement(text=":mag: Seen it raised? Say “me too”", action_id=MeTooAction.FIND)],
        ),
        HeaderBlock(text="What you raised"),
    ]
    blocks += [_raised_row(item) for item in raised] or [
        _note("Nothing yet. `/cx-alarm` or `/cx-idea` to start.")
    ]
    blocks += [DividerBlock(), HeaderBlock(text="Waiting on you")]
    if waiting:
        for item in waiting:
            blocks += _waiting_rows(item, votes.get(item.id, 0))
    else:
        blocks.append(_note("Nothing is waiting on you. :tada:"))
    blocks += [DividerBlock(), HeaderBlock(text="Recognition board")]
    blocks.append(_note("People whose alarms and ideas led to action in the last 90 days."))
    blocks += [_board(board)] if board else [_note("No credits yet: the first could be yours.")]
    return View(type="home", blocks=blocks[:MAX_BLOCKS])


def _raised_row(item: Item) -> SectionBlock:
    anonymous = " · _anonymous_" if item.anonymous else ""
    text = (
        f"*#{item.id}* {preview(item.text, 120)}\n"
        f"{labels.STATUS[item.status]} · last update {when(item.updated_at)}{anonymous}"
    )
    return SectionBlock(text=MarkdownTextObject(text=text))


def _waiting_rows(item: Item, votes: int) -> list[Block]:
    raised = f"{labels.KIND_EMOJI[item.kind]} *#{item.id}* {preview(item.text, 200)}"
    detail = f"{labels.STATUS[item.status]} · {item.area or 'grey area'} · raised {when(item.created_at)}"
    rows: list[Block] = [SectionBlock(text=MarkdownTextObject(text=f"{raised}\n{detail}"))]
    buttons = item_buttons(item, CardExtras(votes=votes))
    if buttons:
        rows.append(ActionsBlock(block_id=f"home_actions_{item.id}", elements=buttons))
    return rows


def _board(board: Sequence[Recognition]) -> SectionBlock:
    lines = [
        f"{index}. {labels.mention(entry.user_id)}: {entry.alarms} item{'s' if entry.alarms != 1 else ''}"
        for index, entry in enumerate(board, 1)
    ]
    return SectionBlock(text=MarkdownTextObject(text="\n".join(lines)))


def _note(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])
