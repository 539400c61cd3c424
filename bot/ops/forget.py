"""`cxbot forget USER_ID`: a person removed from every table, their ID replaced by a tombstone of
their own and the free text they wrote dropped (storage/privacy.py says what each table keeps).
Nothing is changed unless asked: first it says what would change."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot.slack.ids import is_user
from storage import privacy


class CantForget(Exception):
    """Forgetting them now would break something, or the ID isn't one."""


@dataclass(frozen=True)
class Forgotten:
    user_id: str
    tombstone: str
    rows: dict[str, int]  # rows changed (or that would change), by table
    waiting: int  # messages to or about them not yet delivered, left as they are
    done: bool

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def forget(session_factory: sessionmaker[Session], *, user_id: str, really: bool) -> Forgotten:
    """Forget `user_id`, or, unless `really`, say what forgetting them would change."""
    if not is_user(user_id):
        raise CantForget(f"{user_id!r} is not a Slack user ID such as U0123ABCD")
    with session_factory() as session:  # rolled back on closing, unless committed
        duties = privacy.still_responsible(session=session, user_id=user_id)
        if duties:
            raise CantForget(
                f"{user_id} still looks after {', '.join(duties)}: reassign those items and change the "
                "routes file first (`cxbot routes import`), then forget them"
            )
        tombstone = privacy.new_tombstone()
        rows = privacy.forget_person(session=session, user_id=user_id, tombstone=tombstone)
        waiting = privacy.waiting_about(session=session, user_id=user_id)
        if really:
            session.commit()
    return Forgotten(user_id, tombstone, rows, waiting, done=really)
