"""Filing: storing a submission with its `filed` event and the outbox messages that tell Slack,
in one short transaction, before the raiser's command or form gets its answer.

Slack wants that answer within 3 s. A save that hasn't landed within ACK_WITHIN_SECONDS (the
database is restarting, failing over) is answered "taking longer than usual", and goes on with
retries for up to PATIENCE_SECONDS. Every attempt carries the submission's intake key, which the
items table holds once (ON CONFLICT DO NOTHING), so however many attempts or replicas reach the
database, it is filed once.
"""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime

from slack_sdk.models.views import View
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot.blocks.modal import ModalInput, filing_modal
from bot.capture.submission import MAX_CUSTOMERS_LENGTH, ModalContext, Submission
from bot.deps import Deps
from bot.errors import first_line
from bot.ops import metrics
from bot.outbox.kinds import OutboxKind
from bot.outbox.messages import outgoing
from bot.routing.rules import Triage, choose_route
from storage import outbox as queue
from storage import routes as route_queries
from storage.db import transaction
from storage.items import insert_item, number_by_intake_key
from storage.models import Event, ItemKind, ItemStatus

log = logging.getLogger(__name__)

ACK_WITHIN_SECONDS = 2.0
PATIENCE_SECONDS = 120.0
# How long one attempt may take before the next is started (the first is still let finish).
ATTEMPT_SECONDS = 30.0


def file_item(*, session: Session, submission: Submission, triage: Triage, now: datetime) -> int:
    """Route the submission and store it with its `filed` event and its outbox messages (its card,
    then the raiser's confirmation), in the caller's transaction. Returns its number; a repeat of
    a stored intake_key returns that item's number and adds nothing."""
    intake_key = submission.intake_key or f"once:{uuid.uuid4().hex}"
    decision = choose_route(
        text=submission.text,
        picked_area=submission.picked_area,
        routes=route_queries.active_routes(session=session),
    )
    route = decision.route
    number = insert_item(
        session=session,
        row={
            "kind": submission.kind,
            "status": ItemStatus.NEW,
            "text": submission.text,
            "customers": (submission.customers or "")[:MAX_CUSTOMERS_LENGTH] or None,
            "journey_stage": submission.journey_stage,
            "severity": submission.severity if submission.kind is ItemKind.ALARM else None,
            "raiser_id": submission.raiser_id,
            "anonymous": submission.anonymous,
            "route_id": route.id if route else None,
            "area": route.area if route else None,
            "grey_area": route is None,
            "routed_by": decision.routed_by.value,
            "owner": route.owner if route else ",".join(triage.admins),
            "channel": route.channel if route else triage.channel,
            "source_channel": submission.source_channel,
            "source_ts": submission.source_ts,
            "intake_key": intake_key,
            "created_at": now,
            "updated_at": now,
        },
    )
    if number is None:
        stored = number_by_intake_key(session=session, intake_key=intake_key)
        assert stored is not None, "ON CONFLICT skipped a row that isn't there"
        return stored
    session.add(
        Event(
            item_id=number,
            kind="filed",
            actor=submission.raiser_id,
            at=now,
            data={
                "routed_by": decision.routed_by.value,
                "area": route.area if route else None,
                "owner": route.owner if route else ",".join(triage.admins),
                "matched_keywords": list(decision.matched_keywords),
            },
        )
    )
    reply = {"response_url": submission.reply.response_url, "channel_id": submission.reply.channel_id}
    channel = route.channel if route else triage.channel
    queue.enqueue_many(
        session=session,
        messages=[
            outgoing(OutboxKind.POST_CARD, {}, item_id=number, to=channel),
            outgoing(OutboxKind.CONFIRM_RAISER, reply, item_id=number, to=None),
        ],
        now=now,
    )
    return number


def file_now(deps: Deps, submission: Submission) -> int:
    """File it in a transaction of its own, then wake the outbox to tell Slack."""
    with transaction(deps.session_factory) as session:
        number = file_item(session=session, submission=submission, triage=deps.triage, now=deps.clock())
    deps.wake_outbox()
    metrics.FILINGS.labels(submission.kind.value).inc()
    log.info("filed #%d", number, extra={"item_id": number})
    return number


def start_filing(deps: Deps, submission: Submission) -> Future[int]:
    """Start filing it on the filing threads: the caller waits up to ACK_WITHIN_SECONDS for the
    answer, and can still answer Slack in time if the database doesn't."""
    return deps.filing.submit(file_now, deps, submission)


def landed_in_time(attempt: Future[int], *, within: float = ACK_WITHIN_SECONDS) -> bool:
    """Whether the attempt stored the item within `within` seconds. False if the database is down
    or slow: the caller says so, and may keep_filing."""
    try:
        attempt.result(timeout=within)
    except FutureTimeout:
        log.warning("storing an item took over %.1f s; answering Slack first", within)
        return False
    except OperationalError as error:
        log.warning("couldn't store an item before answering Slack: %s", first_line(error))
        return False
    return True


def keep_filing(deps: Deps, submission: Submission, *, first: Future[int]) -> int:
    """After a first attempt that didn't land in time: wait for it, and while the database stays
    away, try again with backoff for up to PATIENCE_SECONDS. Raises what stopped the last try."""
    deadline, delay = time.monotonic() + PATIENCE_SECONDS, 0.5
    attempt = first
    while True:
        try:
            return attempt.result(timeout=ATTEMPT_SECONDS)
        except (OperationalError, FutureTimeout) as error:
            if time.monotonic() + delay > deadline:
                log.error("gave up storing an item: %s", first_line(error))
                raise
            log.warning("the database is unavailable (%s); retrying in %.1f s", first_line(error), delay)
        time.sleep(delay)
        delay = min(delay * 2, 8.0)
        attempt = start_filing(deps, submission)


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
