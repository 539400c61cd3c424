"""Logging set-up for `cxbot`: plain text by default, or one JSON object per line with
LOG_FORMAT=json (time, level, logger, message, and the item or outbox id where a line has one)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("plain", "json")
# Attributes a log call may pass in `extra=` that the JSON lines carry as fields of their own.
IDS = ("item_id", "outbox_id")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in IDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(*, level: str, log_format: str) -> None:
    """Send every log line to stderr at `level`, as `log_format` says ("plain" or "json")."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(PLAIN_FORMAT))
    logging.basicConfig(level=level, handlers=[handler])  # a no-op where logging is set up already
    logging.getLogger("alembic").setLevel(logging.WARNING)
