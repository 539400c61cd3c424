"""Building someone's App Home, from what waits on them, what they raised, and who was credited.
It is published through the outbox (refresh_home), paced and merged like any message."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk.models.views import View

from bot.blocks.home import home_view
from bot.deps import Deps
from bot.outbox.kinds import OutboxKind
from bot.outbox.messages import outgoing
from storage import board
from storage.db import transaction
from storage.outbox import enqueue
from storage.votes import vote_count

BOARD_WINDOW = timedelta(days=90)


def build_home(deps: Deps, *, user_id: str) -> View:
    is_admin = user_id in deps.settings.admins
    with deps.session_factory() as session:
        groups = [
            group for group in board.open_group_owners(session=session) if user_id in deps.members_of(group)
        ]
        waiting = board.waiting_on(session=session, user_id=user_id, groups=groups, is_admin=is_admin)
        raised = board.raised_by(session=session, user_id=user_id)
        credits = board.recognition_board(session=session, since=deps.clock() - BOARD_WINDOW)
        votes = {item.id: vote_count(session=session, item_id=item.id) for item in waiting}
    return home_view(raised=raised, waiting=waiting, board=credits, votes=votes)


def refresh_home(deps: Deps, *, user_id: str) -> None:
    """Queue a publish of the person's App Home. Several queued close together make one
    views.publish of the latest state (bot/outbox/messages.py)."""
    message = outgoing(OutboxKind.PUBLISH_HOME, {"user": user_id}, item_id=None, to=user_id)
    with transaction(deps.session_factory) as session:
        enqueue(session=session, message=message, now=deps.clock())
    deps.wake_outbox()
