"""Every action, callback and block ID that cxbot puts in Block Kit, in one place."""

from __future__ import annotations

import enum


class ItemAction(enum.StrEnum):
    ACKNOWLEDGE = "item_acknowledge"
    MARK_ACTIONED = "item_mark_actioned"
    DECLINE = "item_decline"
    REASSIGN = "item_reassign"
    REOPEN = "item_reopen"
    UPVOTE = "item_upvote"
    MORE = "item_more"
    SNOOZE = "item_snooze"
    ME_TOO = "item_me_too"


class MeTooAction(enum.StrEnum):
    JOIN_INSTEAD = "metoo_join_instead"  # in a raiser's confirmation: `<just filed>:<item to join>`
    FIND = "metoo_find"  # App Home: open the search
    JOIN_FOUND = "metoo_join_found"  # a result in the search: the item's number


class ClaimAction(enum.StrEnum):
    OFFER = "claim_offer"  # "I can own this" on a grey-area card: the item's number
    APPROVE = "claim_approve"  # in triage: the claim's number
    NOT_NOW = "claim_not_now"


class MoreOption(enum.StrEnum):
    """Choices in the card's overflow menu; the option value is `<choice>:<item id>`."""

    DUPLICATE = "duplicate"
    WITHDRAW = "withdraw"


class CreditAction(enum.StrEnum):
    CREDIT_ME = "credit_me"
    STAY_ANONYMOUS = "stay_anonymous"


class VerifyAction(enum.StrEnum):
    """The raiser's answer to "did this fix it?"; the value is the item's number."""

    FIXED = "verify_fixed"
    STILL_HAPPENING = "verify_still_happening"  # opens a short form


class Callback(enum.StrEnum):
    FILE_ALARM = "cx_file_alarm"
    FILE_IDEA = "cx_file_idea"
    MARK_ACTIONED = "cx_mark_actioned"
    DECLINE = "cx_decline"
    REASSIGN = "cx_reassign"
    DUPLICATE = "cx_duplicate"
    FIND = "cx_find"
    CLAIM = "cx_claim"
    STILL_HAPPENING = "cx_still_happening"


class Field(enum.StrEnum):
    """block_id and action_id of each modal input (the same string for both)."""

    WHAT = "what_happened"
    CUSTOMERS = "customers"
    STAGE = "journey_stage"
    SEVERITY = "severity"
    AREA = "area"
    ANONYMOUS = "anonymous"
    WHAT_WAS_DONE = "what_was_done"
    LED_TO_ACTION = "led_to_action"
    WHY = "why"
    NEW_AREA = "new_area"
    NEW_PERSON = "new_person"
    ORIGINAL = "original"
    LOOKING_FOR = "looking_for"
    CLAIM_AREA = "claim_area"
    CLAIM_OWNER = "claim_owner"
    CLAIM_GROUP = "claim_group"
    CLAIM_CHANNEL = "claim_channel"
    CLAIM_KEYWORDS = "claim_keywords"
    STILL_SEEING = "still_seeing"
