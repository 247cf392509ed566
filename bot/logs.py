"""Logging setup: text by default, one JSON object per line with LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


ROUTINE_WARNINGS = (
    # Bolt reads SLACK_BOT_TOKEN itself and warns, on every start, that the client we pass (with our base URL and
    # retry handlers) takes precedence: it is the design, not a problem.
    ("slack_bolt.App", "As you gave `client` as well"),
    # A post queued while a delivery runs wakes the delivery job early; APScheduler then skips the extra run and
    # says so. The running delivery picks the post up.
    ("apscheduler.scheduler", 'Execution of job "Scheduler._deliver'),
)


def _routine(record: logging.LogRecord) -> bool:
    """False for the warnings above, which say nothing an operator can act on."""
    message = record.getMessage()
    return not any(record.name == name and message.startswith(start) for name, start in ROUTINE_WARNINGS)


def configure(log_format: str, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_routine)
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # Alembic announces every plugin and migration step at INFO; only its problems matter at run time.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # APScheduler logs every run of every job ("Running job", "executed successfully": thousands a day). The
    # scheduler logs a check or a delivery that did something itself (bot.scheduler).
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
