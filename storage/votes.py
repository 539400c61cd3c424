"""Queries over idea votes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storage.models import Vote


def add_vote(*, session: Session, item_id: int, voter_id: str, now: datetime) -> None:
    session.add(Vote(item_id=item_id, voter_id=voter_id, at=now))
    session.flush()


def remove_vote(*, session: Session, item_id: int, voter_id: str) -> bool:
    result = session.execute(delete(Vote).where(Vote.item_id == item_id, Vote.voter_id == voter_id))
    return bool(getattr(result, "rowcount", 0))


def vote_count(*, session: Session, item_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(Vote).where(Vote.item_id == item_id)) or 0)
