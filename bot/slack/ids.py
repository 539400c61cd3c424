"""Shapes of Slack IDs, checked wherever an ID comes from a file or a setting."""

from __future__ import annotations

import re

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
USERGROUP_ID = re.compile(r"^S[A-Z0-9]{2,20}$")
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,20}$")


def is_user(value: str) -> bool:
    return bool(USER_ID.match(value))


def is_usergroup(value: str) -> bool:
    return bool(USERGROUP_ID.match(value))


def is_owner(value: str) -> bool:
    return is_user(value) or is_usergroup(value)


def is_channel(value: str) -> bool:
    return bool(CHANNEL_ID.match(value))
