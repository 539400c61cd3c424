"""The kinds of message the outbox carries, each delivered by one function in
bot/outbox/deliveries.py. How each is queued is in bot/outbox/messages.py."""

from __future__ import annotations

import enum


class OutboxKind(enum.StrEnum):
    POST_CARD = "post_card"
    CONFIRM_RAISER = "confirm_raiser"
    UPDATE_CARD = "update_card"
    RETIRE_CARD = "retire_card"
    DM_RAISER = "dm_raiser"
    DM_OWNER = "dm_owner"
    DM_LEADS = "dm_leads"
    POST_KUDOS = "post_kudos"
    ASK_CREDIT = "ask_credit"
    ASK_VERIFY = "ask_verify"
    DM_NAG = "dm_nag"
    ESCALATE = "escalate"
    THREAD_NOTE = "thread_note"
    POST_DIGEST = "post_digest"
    POST_DIGEST_CHART = "post_digest_chart"  # the digest's chart, in its thread, once it is posted
    PUBLISH_HOME = "publish_home"
    CLAIM_REQUEST = "claim_request"  # to triage: someone offers to own a grey area; Approve, Not now
    CLAIM_DECIDED = "claim_decided"  # that request, updated with the CX lead's answer
    DM_CLAIMER = "dm_claimer"  # the claimer hears the answer
    POST_CLAIM_THANKS = "post_claim_thanks"  # public thanks for owning a grey area


class RaiserNews(enum.StrEnum):
    """What a raiser's DM is about."""

    ACKNOWLEDGED = "acknowledged"
    ACTIONED = "actioned"
    DECLINED = "declined"
    DUPLICATE = "duplicate"
    REOPENED = "reopened"


class Priority(enum.IntEnum):
    FIRST = 0  # a raiser hearing their item landed; an owner's first card
    SOON = 1  # news of a change, to the people it concerns
    CAN_WAIT = 2  # nags, escalations, digests, App Home refreshes
