"""The capture flows behind /cx-alarm, /cx-idea and "Raise as CX alarm".

Handlers call these with what they parsed; each opens one transaction and commits before
anything is said to Slack (the outbox, woken after the commit, says it).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.views import View
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from bot.blocks.modal import ModalInput, ModalValues, filing_modal
from bot.deps import Deps
from bot.errors import FilingFailed, FilingUnavailable, first_line
from bot.intake import ReplyTarget, Submission
from storage import routes as route_queries
from storage.models import ItemKind

log = logging.getLogger(__name__)

# How long one attempt to store waits for its answer before it counts as failed and is retried.
ATTEMPT_SECONDS = 30.0


@dataclass(frozen=True)
class ModalContext:
    """Carried through the modal in private_metadata: where to reply and what message it came from."""

    response_url: str | None = None
    channel_id: str | None = None
    source_channel: str | None = None
    source_ts: str | None = None

    def encode(self) -> str:
        fields = {
            "r": self.response_url,
            "c": self.channel_id,
            "sc": self.source_channel,
            "st": self.source_ts,
        }
        return json.dumps({key: value for key, value in fields.items() if value})

    @classmethod
    def decode(cls, raw: str | None) -> ModalContext:
        try:
            fields: Any = json.loads(raw or "{}")
        except ValueError:
            return cls()
        if not isinstance(fields, dict):
            return cls()

        def text(key: str) -> str | None:
            value = fields.get(key)
            return value if isinstance(value, str) and value else None

        return cls(text("r"), text("c"), text("sc"), text("st"))


def store_before_ack(deps: Deps, submission: Submission, *, ack_within: float) -> bool:
    """Store it if the database manages within `ack_within` seconds (Slack wants its answer within
    3). False if it didn't: the database is down or slow, and the caller says so before retrying.
    An attempt still under way may yet land; retries carry the same intake_key, so it lands once."""
    try:
        number = deps.filer.file(submission, timeout=ack_within)
    except TimeoutError:
        log.warning("storing a %s took over %.1f s; answering Slack first", submission.kind.value, ack_within)
        return False
    except (SQLAlchemyError, FilingUnavailable, FilingFailed) as error:
        log.warning(
            "couldn't store a %s before answering Slack: %s", submission.kind.value, first_line(error)
        )
        return False
    log.debug("%s #%s stored before the ack", submission.kind.value, number)
    return True


def file_submission(deps: Deps, submission: Submission, *, patience: float = 0.0) -> int:
    """Store the item and its outbox messages; returns its number. A repeat of the same
    intake_key (a double-submitted modal) files nothing new. With `patience`, a database that is
    down (restarting, failing over) is retried with backoff for up to that many seconds; each
    attempt waits at most ATTEMPT_SECONDS, so a lost reply can't hold the caller forever."""
    deadline, delay = time.monotonic() + patience, 0.5
    while True:
        try:
            return deps.filer.file(submission, timeout=ATTEMPT_SECONDS)
        except (OperationalError, FilingUnavailable, TimeoutError) as error:
            if time.monotonic() + delay > deadline:
                log.error("gave up storing a %s: %s", submission.kind.value, first_line(error))
                raise
            log.warning("the database is unavailable (%s); retrying in %.1f s", first_line(error), delay)
            time.sleep(delay)
            delay = min(delay * 2, 8.0)


def filing_view(
    deps: Deps,
    *,
    kind: ItemKind,
    context: ModalContext,
    text: str = "",
    source_note: str | None = None,
) -> View:
    with deps.session_factory() as session:
        areas = [route.area for route in route_queries.active_routes(session=session)]
    return filing_modal(
        ModalInput(
            kind=kind,
            areas=areas,
            private_metadata=context.encode(),
            text=text,
            source_note=source_note,
        )
    )


def submission_from_modal(
    *, kind: ItemKind, values: ModalValues, raiser_id: str, context: ModalContext, view_id: str
) -> Submission:
    return Submission(
        kind=kind,
        text=values.text,
        raiser_id=raiser_id,
        customers=values.customers,
        journey_stage=values.stage,
        severity=values.severity,
        picked_area=values.area,
        anonymous=values.anonymous,
        source_channel=context.source_channel,
        source_ts=context.source_ts,
        intake_key=f"view:{view_id}" if view_id else None,
        reply=ReplyTarget(response_url=context.response_url, channel_id=context.channel_id),
    )
