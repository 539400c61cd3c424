"""Uploading a file as Slack requires since files.upload retired: files.getUploadURLExternal for an
upload URL and a file ID, the bytes POSTed to that URL, then files.completeUploadExternal to finish
it (and share it, given a channel; without one the file stays private to cxbot)."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

from slack_sdk import WebClient

from bot.outbox.slack_calls import PermanentFailure, TransientFailure, call, look_up


def upload_png(
    client: WebClient,
    *,
    png: bytes,
    filename: str,
    title: str,
    alt_text: str,
    channel: str | None = None,
    thread_ts: str | None = None,
    timeout: int = 10,
) -> str:
    """Upload `png` and return its file ID; shared in `channel` (in `thread_ts`'s thread) if given.
    Only the last call can leave the outcome uncertain: until it, nothing is shared."""
    ticket = look_up(client.files_getUploadURLExternal, filename=filename, length=len(png), alt_txt=alt_text)
    file_id = str(ticket["file_id"])
    _send_bytes(str(ticket["upload_url"]), png, timeout=timeout)
    finish: dict[str, Any] = {"files": [{"id": file_id, "title": title}]}
    if channel:
        finish["channel_id"] = channel
        if thread_ts:
            finish["thread_ts"] = thread_ts
    call(client.files_completeUploadExternal, **finish)
    return file_id


def _send_bytes(url: str, body: bytes, *, timeout: int) -> None:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/octet-stream"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise TransientFailure(f"upload: {error!r}") from None
    if status >= 500 or status == 429:
        raise TransientFailure(f"upload URL answered HTTP {status}")
    if status != 200:
        raise PermanentFailure(f"upload_refused_{status}")
