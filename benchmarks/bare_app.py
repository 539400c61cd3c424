"""The baseline for the ack benchmark: a Bolt app that only acks /cx-alarm, served by the same
production server as `cxbot run --http` (bot.server.make_http_server: waitress), with the
number of request threads that serves it best (BARE_THREADS).

    SLACK_BOT_TOKEN=... SLACK_SIGNING_SECRET=... SLACK_API_URL=http://127.0.0.1:N/api/ \\
        python -m benchmarks.bare_app --port P

SLACK_API_URL only keeps Bolt's one auth.test call (made on the first request) on loopback.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from types import FrameType

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.server import EVENTS_PATH, make_http_server

log = logging.getLogger("bare_app")

# Bolt as it comes holds each request thread for at least one 10 ms poll of its listener, so its
# throughput is about threads / 11 ms: with the 8 cxbot has on SQLite it would be held to about
# 730 acks a second, which would flatter cxbot. It gets 16, as cxbot has on PostgreSQL; with 32 it
# answered more per second, but its p99 was no better (docs/performance.md, sixth round).
BARE_THREADS = 16


def build_app() -> App:
    token = os.environ["SLACK_BOT_TOKEN"]
    api_url = os.environ.get("SLACK_API_URL") or "https://slack.com/api/"
    # Equivalent to App(token=token, ...); the client only points Bolt's Web API calls at
    # SLACK_API_URL (Bolt itself does not read that variable).
    app = App(
        client=WebClient(token=token, base_url=api_url),
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        token_verification_enabled=False,
    )

    def on_alarm(ack: Ack) -> None:
        ack()

    app.command("/cx-alarm")(on_alarm)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bare_app", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    # The same logging set-up as `cxbot` (bot.cli.main), so neither side gets it for free.
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    server = make_http_server(
        build_app(),
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        host=args.host,
        port=args.port,
        threads=BARE_THREADS,
    )

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    log.info("serving the bare app at http://%s:%s%s", args.host, server.effective_port, EVENTS_PATH)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
