"""`cxbot try`: start the sandbox and serve its page until Ctrl-C."""

from __future__ import annotations

import logging
import threading
import webbrowser
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from waitress.server import create_server

from bot.sandbox.page import page_app
from bot.sandbox.sandbox import Sandbox, serve_in_background, stop_server

log = logging.getLogger(__name__)


class PortTaken(Exception):
    """The page's port is in use."""


@contextmanager
def running(
    *, port: int = 0, demo_data: bool = False, database_url: str | None = None
) -> Iterator[tuple[Sandbox, str]]:
    """A started sandbox and the address of its page, served in the background (port 0: any free
    one); everything stops on leaving."""
    sandbox = Sandbox(database_url=database_url, demo_data=demo_data).start()
    try:
        server: Any = create_server(
            page_app(sandbox), host="127.0.0.1", port=port, threads=8, ident="cxbot-try"
        )
    except OSError as error:
        sandbox.stop()
        raise PortTaken(
            f"can't serve the page on 127.0.0.1:{port} ({error.strerror}): try --port N"
        ) from None
    stopping = threading.Event()
    thread = serve_in_background(server, name="sandbox-page", stopping=stopping)
    try:
        yield sandbox, f"http://127.0.0.1:{server.effective_port}"
    finally:
        stopping.set()
        stop_server(server)
        thread.join(timeout=5)
        sandbox.stop()


def serve(*, port: int, demo_data: bool, open_browser: bool, database_url: str | None) -> None:
    with running(port=port, demo_data=demo_data, database_url=database_url) as (_sandbox, address):
        print(f"cxbot is running against a pretend Slack at {address} (Ctrl-C to stop).", flush=True)
        print("Nothing leaves this machine; switch person at the top of the page.", flush=True)
        if open_browser:
            webbrowser.open(address)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            log.info("stopping")
