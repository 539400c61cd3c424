"""The kinds of message the outbox carries. Each has one delivery function in bot/delivery.py."""

from __future__ import annotations

import enum


class OutboxKind(enum.StrEnum):
    POST_CARD = "post_card"
    CONFIRM_RAISER = "confirm_raiser"
