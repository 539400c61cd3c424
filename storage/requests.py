"""Keys of requests already acted on, so that Slack's retries and double clicks act once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from storage.models import HandledRequest


def seen(*, session: Session, key: str) -> bool:
    return session.get(HandledRequest, key) is not None


def remember(*, session: Session, key: str, now: datetime) -> None:
    """Record the key in the caller's transaction; a concurrent twin then fails its commit."""
    session.add(HandledRequest(key=key, at=now))
    session.flush()
