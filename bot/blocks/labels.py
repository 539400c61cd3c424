"""Words and emoji for the values people see."""

from __future__ import annotations

from storage.models import ItemKind, ItemStatus, JourneyStage, Severity, is_tombstone

KIND = {ItemKind.ALARM: "CX alarm", ItemKind.IDEA: "CX idea"}
KIND_EMOJI = {ItemKind.ALARM: ":rotating_light:", ItemKind.IDEA: ":bulb:"}

SEVERITY = {
    Severity.LOW: ":large_green_circle: Low",
    Severity.MEDIUM: ":large_yellow_circle: Medium",
    Severity.HIGH: ":large_orange_circle: High",
    Severity.CRITICAL: ":red_circle: Critical",
}
SEVERITY_PLAIN = {
    Severity.LOW: "Low",
    Severity.MEDIUM: "Medium",
    Severity.HIGH: "High",
    Severity.CRITICAL: "Critical",
}

STAGE = {
    JourneyStage.DISCOVER: "Discover",
    JourneyStage.BUY: "Buy",
    JourneyStage.ONBOARD: "Onboard",
    JourneyStage.USE: "Use",
    JourneyStage.GET_HELP: "Get help",
    JourneyStage.RENEW: "Renew",
    JourneyStage.LEAVE: "Leave",
}

STATUS = {
    ItemStatus.NEW: ":new: New, waiting for its owner",
    ItemStatus.ACKNOWLEDGED: ":eyes: Acknowledged",
    ItemStatus.ACTIONED: ":white_check_mark: Actioned",
    ItemStatus.DECLINED: ":no_entry_sign: Declined",
    ItemStatus.DUPLICATE: ":twisted_rightwards_arrows: Duplicate",
    ItemStatus.WITHDRAWN: ":leftwards_arrow_with_hook: Withdrawn",
}


FORGOTTEN = "someone"


def mention(slack_id: str) -> str:
    """A mention for a user or user group ID that cxbot itself chose (never user text); a person
    removed by retention or `cxbot forget` is "someone"."""
    if is_tombstone(slack_id):
        return FORGOTTEN
    if slack_id.startswith("S"):
        return f"<!subteam^{slack_id}>"
    return f"<@{slack_id}>"


def mentions(owner: str) -> str:
    return ", ".join(mention(part) for part in owner.split(",") if part)
