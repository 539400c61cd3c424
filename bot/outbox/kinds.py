"""The kinds of message the outbox carries. Each has one delivery function in bot/delivery.py."""

from __future__ import annotations

import enum


class OutboxKind(enum.StrEnum):
    POST_CARD = "post_card"
    CONFIRM_RAISER = "confirm_raiser"
    UPDATE_CARD = "update_card"
    RETIRE_CARD = "retire_card"
    DM_RAISER = "dm_raiser"
    DM_OWNER = "dm_owner"
    POST_KUDOS = "post_kudos"
    ASK_CREDIT = "ask_credit"
    DM_NAG = "dm_nag"
    ESCALATE = "escalate"
    THREAD_NOTE = "thread_note"
    POST_DIGEST = "post_digest"


class RaiserNews(enum.StrEnum):
    """What a raiser's DM is about."""

    ACKNOWLEDGED = "acknowledged"
    ACTIONED = "actioned"
    DECLINED = "declined"
    DUPLICATE = "duplicate"
    REOPENED = "reopened"
