"""/cx-alarm, /cx-idea, the "Raise as CX alarm" message shortcut and the filing modal."""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltRequest
from slack_sdk import WebClient

from bot.ack_relay import InRequestThread
from bot.blocks.ids import Callback, Field
from bot.blocks.modal import read_values
from bot.blocks.replies import saving_slowly, usage
from bot.capture import (
    ModalContext,
    file_submission,
    filing_view,
    store_before_ack,
    submission_from_modal,
)
from bot.commands import FileNow, OpenModal, ShowHelp, read_command_text
from bot.deps import Deps
from bot.errors import InvalidSubmission
from bot.intake import ReplyTarget, Submission, check_text
from handlers.errors import report
from storage.models import ItemKind


class Command(enum.StrEnum):
    ALARM = "/cx-alarm"
    IDEA = "/cx-idea"


class Shortcut(enum.StrEnum):
    RAISE_FROM_MESSAGE = "cx_raise_from_message"


log = logging.getLogger(__name__)

# Slack wants an answer within 3 s; an item is stored before it gets one, unless the database
# takes longer than this. Then the ack says so and storing goes on: the response_url that carries
# the confirmation stays valid for 30 minutes.
ACK_WITHIN_SECONDS = 2.0
SAVE_PATIENCE_SECONDS = 120.0
SAVE_FAILED = "I couldn't save this just now. Your words are still here: please try again in a moment."
_KIND_OF_COMMAND = {Command.ALARM: ItemKind.ALARM, Command.IDEA: ItemKind.IDEA}
_KIND_OF_CALLBACK = {Callback.FILE_ALARM: ItemKind.ALARM, Callback.FILE_IDEA: ItemKind.IDEA}


def register(app: App, deps: Deps) -> None:
    # Filing a command's text, and a filled-in form, ack once the item is stored and have nothing
    # left to do after: they answer from the request thread (bot/ack_relay.py). A command that
    # opens the form acks first and calls Slack after, so it runs on a listener thread.
    for command in Command:
        app.command(command, middleware=[InRequestThread(when=_answers_at_once)])(
            _command_listener(deps, command)
        )
    app.shortcut(Shortcut.RAISE_FROM_MESSAGE)(_shortcut_listener(deps))
    for callback in _KIND_OF_CALLBACK:
        app.view_submission(callback, middleware=[InRequestThread()])(_submission_listener(deps, callback))


def _answers_at_once(req: BoltRequest) -> bool:
    return not isinstance(read_command_text(str(req.body.get("text") or "")), OpenModal)


def _command_listener(deps: Deps, command: Command) -> Any:
    kind = _KIND_OF_COMMAND[command]

    def on_command(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        intent = read_command_text(str(command.get("text") or ""))
        if isinstance(intent, ShowHelp):
            reply = usage(str(command.get("command") or ""), unknown=intent.unknown)
            ack(text=reply.text, blocks=reply.blocks, response_type="ephemeral")
            return
        if isinstance(intent, OpenModal):
            ack()
            context = ModalContext(
                response_url=command.get("response_url"), channel_id=command.get("channel_id")
            )
            client.views_open(
                trigger_id=command["trigger_id"], view=filing_view(deps, kind=kind, context=context)
            )
            return
        assert isinstance(intent, FileNow)
        try:
            check_text(intent.text, kind=kind)
        except InvalidSubmission as invalid:
            ack(text=invalid.user_message, response_type="ephemeral")
            return
        submission = Submission(
            kind=kind,
            text=intent.text,
            raiser_id=command["user_id"],
            intake_key=f"command:{command['trigger_id']}",
            reply=ReplyTarget(response_url=command.get("response_url"), channel_id=command.get("channel_id")),
        )
        if store_before_ack(deps, submission, ack_within=ACK_WITHIN_SECONDS):
            ack()
            return
        # The database is slow or down. Slack needs its answer within 3 s; say so, and keep trying
        # on another thread (the intake key files it once however many attempts reach the
        # database), since Slack hears this ack only once the listener returns.
        reply = saving_slowly()
        ack(text=reply.text, blocks=reply.blocks, response_type="ephemeral")
        _later(deps, _keep_saving, deps, submission, command)

    on_command.__name__ = f"on_{kind.value}_command"
    return on_command


def _later(deps: Deps, work: Callable[..., None], *args: Any) -> None:
    """Run `work` after this listener has answered Slack: on deps.later, or, once that pool has
    shut down (cxbot is stopping), on a thread of its own. Never raise here: Slack hears this
    listener's ack only once it returns."""
    try:
        deps.later.submit(work, *args)
    except RuntimeError:
        threading.Thread(target=work, args=args, name="cxbot-later", daemon=True).start()


def _keep_saving(deps: Deps, submission: Submission, command: dict[str, Any]) -> None:
    try:
        file_submission(deps, submission, patience=SAVE_PATIENCE_SECONDS)
    except Exception as error:
        report(error, command)  # as Bolt's error handler would: the raiser gets their words back


def _shortcut_listener(deps: Deps) -> Any:
    def on_raise_from_message(ack: Ack, shortcut: dict[str, Any], client: WebClient) -> None:
        ack()
        message = shortcut.get("message") or {}
        channel = (shortcut.get("channel") or {}).get("id")
        author = message.get("user")
        context = ModalContext(
            response_url=shortcut.get("response_url"),
            channel_id=channel,
            source_channel=channel,
            source_ts=message.get("ts"),
        )
        note = ":link: Raising a message"
        note += f" by <@{author}>" if isinstance(author, str) and author else ""
        note += f" in <#{channel}>" if channel else ""
        note += ". The alarm will link to it."
        view = filing_view(
            deps,
            kind=ItemKind.ALARM,
            context=context,
            text=str(message.get("text") or ""),
            source_note=note,
        )
        client.views_open(trigger_id=shortcut["trigger_id"], view=view)

    return on_raise_from_message


def _submission_listener(deps: Deps, callback: Callback) -> Any:
    kind = _KIND_OF_CALLBACK[callback]

    def on_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = read_values((view.get("state") or {}).get("values") or {})
        try:
            check_text(values.text, kind=kind)
        except InvalidSubmission as invalid:
            ack(
                response_action="errors",
                errors={invalid.field or "what_happened": invalid.user_message},
            )
            return
        submission = submission_from_modal(
            kind=kind,
            values=values,
            raiser_id=body["user"]["id"],
            context=ModalContext.decode(view.get("private_metadata")),
            view_id=str(view.get("id") or ""),
        )
        # Stored before the modal closes: if the database is down the form stays open with the
        # raiser's words in it, and a resubmission of the same view files it only once.
        if not store_before_ack(deps, submission, ack_within=ACK_WITHIN_SECONDS):
            ack(response_action="errors", errors={Field.WHAT: SAVE_FAILED})
            return
        ack()

    return on_submission
