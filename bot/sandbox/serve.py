"""`cxbot try`: start the sandbox and serve its page until Ctrl-C."""

from __future__ import annotations

import logging
import webbrowser
from typing import Any

from waitress.server import create_server

from bot.sandbox.page import page_app
from bot.sandbox.sandbox import Sandbox

log = logging.getLogger(__name__)


def serve(*, port: int, demo_data: bool, open_browser: bool, database_url: str | None) -> None:
    sandbox = Sandbox(database_url=database_url, demo_data=demo_data).start()
    server: Any = create_server(page_app(sandbox), host="127.0.0.1", port=port, threads=8, ident="cxbot-try")
    address = f"http://127.0.0.1:{server.effective_port}"
    print(f"cxbot is running against a pretend Slack at {address} (Ctrl-C to stop).", flush=True)
    print("Nothing leaves this machine; switch person at the top of the page.", flush=True)
    if open_browser:
        webbrowser.open(address)
    try:
        server.run()
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        server.close()
        sandbox.stop()
