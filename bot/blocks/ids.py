"""Every action, callback and block ID that cxbot puts in Block Kit, in one place."""

from __future__ import annotations

import enum


class ItemAction(enum.StrEnum):
    ACKNOWLEDGE = "item_acknowledge"
    MARK_ACTIONED = "item_mark_actioned"
    DECLINE = "item_decline"
    REASSIGN = "item_reassign"


class Callback(enum.StrEnum):
    FILE_ALARM = "cx_file_alarm"
    FILE_IDEA = "cx_file_idea"
    RAISE_FROM_MESSAGE = "cx_raise_from_message"


class Field(enum.StrEnum):
    """block_id and action_id of each input in the filing modal (the same string for both)."""

    WHAT = "what_happened"
    CUSTOMERS = "customers"
    STAGE = "journey_stage"
    SEVERITY = "severity"
    AREA = "area"
    ANONYMOUS = "anonymous"
