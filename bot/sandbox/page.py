"""The page of `cxbot try`: a small Slack look-alike for one browser, served as plain WSGI.

Server-rendered HTML and a little JavaScript, no build step. The page asks for its panels every
second (`/panel`), and sends what the person does as JSON (`/api/...`); the sandbox turns each into
the request Slack would send the app.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.sandbox.blockkit import Context, render_message, render_view
from bot.sandbox.sandbox import CAST, CHANNELS, EMPLOYEE, Sandbox
from bot.sandbox.workspace import BOT_USER, Message, dm_channel

StartResponse = Callable[..., Any]
HOME = "home"
_PAGE = Path(__file__).with_name("page.html")
STEPS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}


def page_app(sandbox: Sandbox) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", "/"), environ.get("REQUEST_METHOD", "GET")
        try:
            if method == "GET" and path == "/":
                return _answer(start_response, "200 OK", "text/html; charset=utf-8", _shell())
            if method == "GET" and path.startswith("/files/"):
                upload = sandbox.fake.uploads.get(path.removeprefix("/files/"))
                if upload is not None and upload.data is not None:
                    start_response("200 OK", [("Content-Type", "image/png")])
                    return [upload.data]
            if method == "GET" and path == "/panel":
                query = _query(environ)
                return _json(start_response, _panel(sandbox, query))
            if method == "POST" and path.startswith("/api/"):
                body = json.loads(
                    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)) or b"{}"
                )
                return _json(start_response, _act(sandbox, path.removeprefix("/api/"), body))
        except (KeyError, ValueError, TypeError) as error:
            return _json(start_response, {"error": f"couldn't do that: {error}"}, status="400 Bad Request")
        return _answer(start_response, "404 Not Found", "text/plain", "not here")

    return application


# Reading -----------------------------------------------------------------------------------------------


def _panel(sandbox: Sandbox, query: dict[str, str]) -> dict[str, Any]:
    user = query.get("user") or EMPLOYEE.user_id
    where = query.get("channel") or "C0GENERAL"
    thread = query.get("thread") or None
    files = {file_id: f"/files/{file_id}" for file_id in sandbox.fake.uploads}
    ctx = Context(names=sandbox.names(), now=sandbox.clock(), files=files)
    if where == HOME:
        home = sandbox.workspace.home(user)
        main = render_view(home, ctx) if home else '<p class="empty">Opening App Home…</p>'
    else:
        main = _messages(sandbox, where, user, ctx, thread=None)
    modal = sandbox.workspace.modal(user)
    return {
        "main": main,
        "thread": _messages(sandbox, where, user, ctx, thread=thread) if thread and where != HOME else "",
        "modal": render_view({**modal.view, "id": modal.view_id}, ctx) if modal else "",
        "modal_key": f"{modal.view_id}:{hash(json.dumps(modal.view, sort_keys=True))}" if modal else "",
        "clock": f"{sandbox.clock():%a %d %b %Y, %H:%M} UTC",
        "rail": _rail(user, where),
    }


def _messages(sandbox: Sandbox, channel: str, user: str, ctx: Context, *, thread: str | None) -> str:
    shown = sandbox.workspace.messages(channel, viewer=user, thread_ts=thread)
    if not shown:
        return '<p class="empty">Nothing here yet.</p>'
    return "".join(_message(sandbox, message, ctx) for message in shown)


def _message(sandbox: Sandbox, message: Message, ctx: Context) -> str:
    who = "cxbot" if message.user == BOT_USER else sandbox.names().get(message.user, message.user)
    notes = []
    if message.ephemeral_to:
        notes.append('<span class="note">Only visible to you</span>')
    if message.edited:
        notes.append('<span class="note">(edited)</span>')
    replies = sandbox.workspace.replies_to(message.channel, message.ts)
    thread = message.thread_ts is None and not message.ephemeral_to
    links = (
        [
            f'<a href="#" class="open-thread" data-ts="{message.ts}">'
            f"{replies} repl{'y' if replies == 1 else 'ies'}</a>"
            if replies
            else f'<a href="#" class="open-thread" data-ts="{message.ts}">Reply in thread</a>'
        ]
        if thread
        else []
    )
    if not message.ephemeral_to:
        links.append(f'<a href="#" class="raise" data-ts="{message.ts}">⋯ Raise as CX alarm</a>')
    body = render_message({"text": message.text, "blocks": message.blocks}, ctx)
    return (
        f'<div class="msg" data-channel="{html.escape(message.channel)}" data-ts="{message.ts}">'
        f'<div class="who">{html.escape(who)} {" ".join(notes)}</div>{body}'
        f'<div class="links">{" · ".join(links)}</div></div>'
    )


def _rail(user: str, where: str) -> str:
    def entry(key: str, label: str) -> str:
        chosen = " chosen" if key == where else ""
        return f'<a href="#" class="go{chosen}" data-channel="{html.escape(key)}">{html.escape(label)}</a>'

    channels = "".join(entry(channel.channel_id, f"# {channel.name}") for channel in CHANNELS)
    mine = entry(dm_channel(user), "cxbot (DM)") + entry(HOME, "cxbot: App Home")
    return f"<h3>Channels</h3>{channels}<h3>Direct messages</h3>{mine}"


# Doing -------------------------------------------------------------------------------------------------


def _act(sandbox: Sandbox, action: str, body: dict[str, Any]) -> dict[str, Any]:
    user = str(body.get("user") or EMPLOYEE.user_id)
    channel = str(body.get("channel") or "C0GENERAL")
    if action == "compose":
        text = str(body.get("text") or "").strip()
        if text.startswith("/"):
            command, _, rest = text.partition(" ")
            sandbox.command(user=user, channel=channel, command=command, text=rest)
        elif text:
            sandbox.say(user=user, channel=channel, text=text, thread_ts=body.get("thread") or None)
        return {"ok": True}
    if action == "click":
        sandbox.click(
            user=user,
            action=dict(body["action"]),
            channel=None if channel in (HOME, "") or body.get("view_id") else channel,
            message_ts=body.get("ts") or None,
            view_id=body.get("view_id") or None,
            home=channel == HOME and not body.get("view_id"),
        )
        return {"ok": True}
    if action == "submit":
        answer = sandbox.submit(user=user, view_id=str(body["view_id"]), values=dict(body["values"]))
        return {"ok": True, "errors": (answer or {}).get("errors")}
    if action == "close":
        sandbox.workspace.close_modal(user)
        return {"ok": True}
    if action == "raise":
        sandbox.shortcut(user=user, channel=channel, message_ts=str(body["ts"]))
        return {"ok": True}
    if action == "home":
        sandbox.open_home(user=user)
        return {"ok": True}
    if action == "advance":
        ran = sandbox.advance(STEPS[str(body["by"])])
        return {"ok": True, "ran": ran}
    raise ValueError(f"no action {action!r}")


# HTTP --------------------------------------------------------------------------------------------------


def _query(environ: dict[str, Any]) -> dict[str, str]:
    from urllib.parse import parse_qs

    return {key: values[0] for key, values in parse_qs(environ.get("QUERY_STRING", "")).items()}


def _answer(start_response: StartResponse, status: str, content_type: str, text: str) -> list[bytes]:
    data = text.encode()
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


def _json(start_response: StartResponse, value: Any, *, status: str = "200 OK") -> list[bytes]:
    return _answer(start_response, status, "application/json", json.dumps(value))


def _shell() -> str:
    people = "".join(
        f'<option value="{p.user_id}">{html.escape(p.name)}: {html.escape(p.role)}</option>' for p in CAST
    )
    return _PAGE.read_text(encoding="utf-8").replace("{{people}}", people)
