"""Signing requests as Slack signs them (v0 HMAC-SHA256 over the timestamp and the body).

A module of its own, importing nothing of the bot, so that the ack benchmark's load generator can
sign its requests without loading (and garbage-collecting) the whole application."""

from __future__ import annotations

import hashlib
import hmac

SIGNING_SECRET = "8f742231b10e8888abcd99a1b2c3d4e5"


def signature(body: bytes, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
