"""The owner's modals: mark actioned, decline, reassign, mark as duplicate; and reading them back."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks import labels
from bot.blocks.ids import Callback, Field
from bot.blocks.text import preview
from storage.models import Item, ItemKind

_YES = Option(value="yes", label="Yes: it led to a change")
_NO = Option(value="no", label="No: nothing needed changing")


def _about(item: Item) -> ContextBlock:
    return ContextBlock(
        elements=[
            MarkdownTextObject(text=f"*{labels.KIND[item.kind]} #{item.id}*: {preview(item.text, 200)}")
        ]
    )


def _modal(item: Item, callback: Callback, title: str, submit: str, blocks: list[Block]) -> View:
    return View(
        type="modal",
        callback_id=callback,
        title=title,
        submit=submit,
        close="Cancel",
        private_metadata=str(item.id),
        blocks=[_about(item), *blocks],
    )


def _text_input(field: Field, label: str, *, placeholder: str, hint: str | None = None) -> InputBlock:
    return InputBlock(
        block_id=field,
        label=label,
        hint=hint,
        element=PlainTextInputElement(
            action_id=field, multiline=True, max_length=3000, placeholder=placeholder
        ),
    )


def actioned_modal(item: Item) -> View:
    idea = item.kind is ItemKind.IDEA
    return _modal(
        item,
        Callback.MARK_ACTIONED,
        "Adopt idea" if idea else "Mark actioned",
        "Adopt" if idea else "Mark actioned",
        [
            _text_input(
                Field.WHAT_WAS_DONE,
                "What was done?",
                placeholder="We refunded the customer and fixed the double charge in the billing job.",
                hint="The raiser gets this word for word.",
            ),
            InputBlock(
                block_id=Field.LED_TO_ACTION,
                label="Did raising it lead to action?",
                hint="If yes, the raiser is thanked in public.",
                element=RadioButtonsElement(
                    action_id=Field.LED_TO_ACTION, options=[_YES, _NO], initial_option=_YES
                ),
            ),
        ],
    )


def decline_modal(item: Item) -> View:
    return _modal(
        item,
        Callback.DECLINE,
        "Decline",
        "Decline",
        [
            _text_input(
                Field.WHY,
                "Why not?",
                placeholder="It's on the roadmap for Q3, so we won't patch it now.",
                hint="The raiser reads this. Be kind and specific: they took the time to speak up.",
            )
        ],
    )


def reassign_modal(item: Item, areas: Sequence[str]) -> View:
    others = [area for area in areas if area != item.area]
    blocks: list[Block] = []
    if others:
        blocks.append(
            InputBlock(
                block_id=Field.NEW_AREA,
                label="Hand it to an area",
                optional=True,
                element=StaticSelectElement(
                    action_id=Field.NEW_AREA,
                    placeholder="Pick an area",
                    options=[Option(value=area, label=area) for area in others],
                ),
            )
        )
    blocks.append(
        InputBlock(
            block_id=Field.NEW_PERSON,
            label="…or to a person",
            optional=True,
            hint="Pick one: an area moves the card to that area's channel.",
            element=UserSelectElement(action_id=Field.NEW_PERSON, placeholder="Pick a person"),
        )
    )
    return _modal(item, Callback.REASSIGN, "Reassign", "Reassign", blocks)


def duplicate_modal(item: Item) -> View:
    return _modal(
        item,
        Callback.DUPLICATE,
        "Mark as duplicate",
        "Mark duplicate",
        [
            InputBlock(
                block_id=Field.ORIGINAL,
                label="Duplicate of item number",
                element=PlainTextInputElement(action_id=Field.ORIGINAL, max_length=12, placeholder="#12"),
            )
        ],
    )


def field_value(state_values: dict[str, Any], field: Field) -> dict[str, Any]:
    block = state_values.get(field)
    value = block.get(field) if isinstance(block, dict) else None
    return value if isinstance(value, dict) else {}


def typed_text(state_values: dict[str, Any], field: Field) -> str:
    value = field_value(state_values, field).get("value")
    return value if isinstance(value, str) else ""


def selected(state_values: dict[str, Any], field: Field) -> str | None:
    element = field_value(state_values, field)
    option = element.get("selected_option")
    if isinstance(option, dict) and isinstance(option.get("value"), str):
        return str(option["value"])
    for key in ("selected_user", "selected_conversation"):
        chosen = element.get(key)
        if isinstance(chosen, str) and chosen:
            return chosen
    return None


def item_number(text: str) -> int | None:
    found = re.fullmatch(r"\s*#?\s*(\d{1,9})\s*", text)
    return int(found.group(1)) if found else None
