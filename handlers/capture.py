"""/cx-alarm, /cx-idea, the "Raise as CX alarm" message shortcut and the filing modal."""

from __future__ import annotations

import enum
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.blocks.ids import Callback, Field
from bot.blocks.modal import read_values
from bot.blocks.replies import saving_slowly, usage
from bot.capture.command_text import FileNow, OpenModal, ShowHelp, read_command_text
from bot.capture.filing import filing_view, keep_filing, landed_in_time, start_filing
from bot.capture.submission import ModalContext, ReplyTarget, Submission, submission_from_modal
from bot.deps import Deps
from bot.errors import InvalidSubmission
from handlers.errors import report
from storage.models import ItemKind


class Command(enum.StrEnum):
    ALARM = "/cx-alarm"
    IDEA = "/cx-idea"


class Shortcut(enum.StrEnum):
    RAISE_FROM_MESSAGE = "cx_raise_from_message"


SAVE_FAILED = "I couldn't save this just now. Your words are still here: please try again in a moment."
_KIND_OF_COMMAND = {Command.ALARM: ItemKind.ALARM, Command.IDEA: ItemKind.IDEA}
_KIND_OF_CALLBACK = {Callback.FILE_ALARM: ItemKind.ALARM, Callback.FILE_IDEA: ItemKind.IDEA}


def register(app: App, deps: Deps) -> None:
    for command in Command:
        app.command(command)(_command_listener(deps, command))
    app.shortcut(Shortcut.RAISE_FROM_MESSAGE)(_shortcut_listener(deps))
    for callback in _KIND_OF_CALLBACK:
        app.view_submission(callback)(_submission_listener(deps, callback))


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
            submission = Submission(
                kind=kind,
                text=intent.text,
                raiser_id=command["user_id"],
                intake_key=f"command:{command['trigger_id']}",
                reply=ReplyTarget(
                    response_url=command.get("response_url"), channel_id=command.get("channel_id")
                ),
            )
        except InvalidSubmission as invalid:
            ack(text=invalid.user_message, response_type="ephemeral")
            return
        attempt = start_filing(deps, submission)
        if landed_in_time(attempt):
            ack()  # the confirmation follows from the outbox
            return
        # The database is slow or down. Say so within Slack's 3 s, then keep trying: the intake
        # key files it once however many attempts reach the database.
        reply = saving_slowly()
        ack(text=reply.text, blocks=reply.blocks, response_type="ephemeral")
        try:
            keep_filing(deps, submission, first=attempt)
        except Exception as error:
            report(error, command)  # as Bolt's error handler would: the raiser gets their words back

    on_command.__name__ = f"on_{kind.value}_command"
    return on_command


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
            submission = submission_from_modal(
                kind=kind,
                values=values,
                raiser_id=body["user"]["id"],
                context=ModalContext.decode(view.get("private_metadata")),
                view_id=str(view.get("id") or ""),
            )
        except InvalidSubmission as invalid:
            ack(
                response_action="errors",
                errors={invalid.field or "what_happened": invalid.user_message},
            )
            return
        # Stored before the modal closes: if the database is down the form stays open with the
        # raiser's words in it, and a resubmission of the same view files it only once.
        if not landed_in_time(start_filing(deps, submission)):
            ack(response_action="errors", errors={Field.WHAT: SAVE_FAILED})
            return
        ack()

    return on_submission
