"""The filing modal for alarms and ideas, and reading its submitted values back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks import labels
from bot.blocks.ids import Callback, Field
from bot.routing.rules import NOT_SURE
from storage.models import ItemKind, JourneyStage, Severity

WHAT_MAX_LENGTH = 3000
CUSTOMERS_MAX_LENGTH = 500
_NOT_SURE_OPTION = Option(value=NOT_SURE, label="Not sure")
_ANONYMOUS_OPTION = Option(
    value="anonymous",
    text=MarkdownTextObject(text="*File anonymously*"),
    description=MarkdownTextObject(text="Your name won't be shown to owners or in any channel."),
)


@dataclass(frozen=True)
class ModalInput:
    """What the modal was opened with; `private_metadata` carries where to reply."""

    kind: ItemKind
    areas: Sequence[str]
    private_metadata: str
    text: str = ""
    source_note: str | None = None


def filing_modal(modal: ModalInput) -> View:
    alarm = modal.kind is ItemKind.ALARM
    blocks: list[Block] = []
    if modal.source_note:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=modal.source_note)]))
    blocks += [
        _what(alarm, modal.text),
        _customers(),
        _stage(),
        *([_severity()] if alarm else []),
        _area(modal.areas),
        _anonymous(),
    ]
    return View(
        type="modal",
        callback_id=Callback.FILE_ALARM if alarm else Callback.FILE_IDEA,
        title="Raise a CX alarm" if alarm else "Share a CX idea",
        submit="Raise alarm" if alarm else "Share idea",
        close="Cancel",
        private_metadata=modal.private_metadata,
        blocks=blocks,
    )


def _what(alarm: bool, initial: str) -> InputBlock:
    return InputBlock(
        block_id=Field.WHAT,
        label="What happened?" if alarm else "What's your idea?",
        element=PlainTextInputElement(
            action_id=Field.WHAT,
            multiline=True,
            max_length=WHAT_MAX_LENGTH,
            initial_value=initial[:WHAT_MAX_LENGTH] or None,
            placeholder=(
                "What did the customer run into?" if alarm else "What would make the customer's day better?"
            ),
        ),
    )


def _customers() -> InputBlock:
    return InputBlock(
        block_id=Field.CUSTOMERS,
        label="Which customers are affected?",
        optional=True,
        element=PlainTextInputElement(
            action_id=Field.CUSTOMERS,
            max_length=CUSTOMERS_MAX_LENGTH,
            placeholder='A name, a segment, or "everyone on the Pro plan"',
        ),
    )


def _stage() -> InputBlock:
    return InputBlock(
        block_id=Field.STAGE,
        label="Journey stage",
        optional=True,
        element=StaticSelectElement(
            action_id=Field.STAGE,
            placeholder="Where in their journey?",
            options=[Option(value=stage.value, label=labels.STAGE[stage]) for stage in JourneyStage],
        ),
    )


def _severity() -> InputBlock:
    options = [Option(value=level.value, label=labels.SEVERITY_PLAIN[level]) for level in Severity]
    return InputBlock(
        block_id=Field.SEVERITY,
        label="Severity",
        element=StaticSelectElement(action_id=Field.SEVERITY, options=options, initial_option=options[1]),
    )


def _area(areas: Sequence[str]) -> InputBlock:
    options = [Option(value=area, label=area) for area in areas] + [_NOT_SURE_OPTION]
    return InputBlock(
        block_id=Field.AREA,
        label="Area",
        hint="Not sure? Pick that, and I'll route it by what you wrote.",
        element=StaticSelectElement(action_id=Field.AREA, options=options, initial_option=_NOT_SURE_OPTION),
    )


def _anonymous() -> InputBlock:
    return InputBlock(
        block_id=Field.ANONYMOUS,
        label="Privacy",
        optional=True,
        element=CheckboxesElement(action_id=Field.ANONYMOUS, options=[_ANONYMOUS_OPTION]),
    )


@dataclass(frozen=True)
class ModalValues:
    text: str
    customers: str | None
    stage: JourneyStage | None
    severity: Severity | None
    area: str | None
    anonymous: bool


def read_values(state_values: dict[str, Any]) -> ModalValues:
    """Read a view_submission's state.values; anything missing or malformed reads as unset."""

    def field(name: Field) -> dict[str, Any]:
        block = state_values.get(name)
        value = block.get(name) if isinstance(block, dict) else None
        return value if isinstance(value, dict) else {}

    def selected(name: Field) -> str | None:
        option = field(name).get("selected_option")
        value = option.get("value") if isinstance(option, dict) else None
        return value if isinstance(value, str) else None

    def typed(name: Field) -> str:
        value = field(name).get("value")
        return value if isinstance(value, str) else ""

    checked = field(Field.ANONYMOUS).get("selected_options")
    area = selected(Field.AREA)
    customers = typed(Field.CUSTOMERS)
    return ModalValues(
        text=typed(Field.WHAT),
        customers=customers if customers.strip() else None,  # as typed, unless left blank
        stage=_parse(JourneyStage, selected(Field.STAGE)),
        severity=_parse(Severity, selected(Field.SEVERITY)),
        area=None if area in (None, NOT_SURE) else area,
        anonymous=isinstance(checked, list) and len(checked) > 0,
    )


_Choice = TypeVar("_Choice", JourneyStage, Severity)


def _parse(enum_type: type[_Choice], value: str | None) -> _Choice | None:
    try:
        return enum_type(value) if value is not None else None
    except ValueError:
        return None
