"""A submission: what a raiser filed, checked once, when it is made."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.blocks.modal import ModalValues
from bot.errors import InvalidSubmission
from storage.models import ItemKind, JourneyStage, Severity

MAX_TEXT_LENGTH = 100_000
MAX_CUSTOMERS_LENGTH = 5_000


@dataclass(frozen=True)
class ReplyTarget:
    """Where to confirm to the raiser: Slack's response_url if we have one, else a DM."""

    response_url: str | None = None
    channel_id: str | None = None


@dataclass(frozen=True)
class Submission:
    """Making one checks its text: an empty or overlong one raises InvalidSubmission, with a kind
    explanation for the raiser."""

    kind: ItemKind
    text: str
    raiser_id: str
    customers: str | None = None
    journey_stage: JourneyStage | None = None
    severity: Severity | None = None
    picked_area: str | None = None
    anonymous: bool = False
    source_channel: str | None = None
    source_ts: str | None = None
    intake_key: str | None = None
    reply: ReplyTarget = ReplyTarget()

    def __post_init__(self) -> None:
        check_text(self.text, kind=self.kind)


def check_text(text: str, *, kind: ItemKind) -> None:
    """InvalidSubmission, with a kind explanation, if the text can't be filed."""
    if not text.strip():
        noun = "what happened" if kind is ItemKind.ALARM else "your idea"
        raise InvalidSubmission(f"Please tell me {noun}; it can't be empty.", field="what_happened")
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidSubmission(
            f"That's {len(text):,} characters; I can keep up to {MAX_TEXT_LENGTH:,}. "
            "Could you shorten it, or link to a doc with the details?",
            field="what_happened",
        )


@dataclass(frozen=True)
class ModalContext:
    """Carried through the modal in private_metadata: where to reply and what message it came from."""

    response_url: str | None = None
    channel_id: str | None = None
    source_channel: str | None = None
    source_ts: str | None = None

    def encode(self) -> str:
        fields = {
            "r": self.response_url,
            "c": self.channel_id,
            "sc": self.source_channel,
            "st": self.source_ts,
        }
        return json.dumps({key: value for key, value in fields.items() if value})

    @classmethod
    def decode(cls, raw: str | None) -> ModalContext:
        try:
            fields: Any = json.loads(raw or "{}")
        except ValueError:
            return cls()
        if not isinstance(fields, dict):
            return cls()

        def text(key: str) -> str | None:
            value = fields.get(key)
            return value if isinstance(value, str) and value else None

        return cls(text("r"), text("c"), text("sc"), text("st"))


def submission_from_modal(
    *, kind: ItemKind, values: ModalValues, raiser_id: str, context: ModalContext, view_id: str
) -> Submission:
    return Submission(
        kind=kind,
        text=values.text,
        raiser_id=raiser_id,
        customers=values.customers,
        journey_stage=values.stage,
        severity=values.severity,
        picked_area=values.area,
        anonymous=values.anonymous,
        source_channel=context.source_channel,
        source_ts=context.source_ts,
        intake_key=f"view:{view_id}" if view_id else None,
        reply=ReplyTarget(response_url=context.response_url, channel_id=context.channel_id),
    )
