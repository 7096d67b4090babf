"""Logging: one JSON object a line for machines, a plain line for a terminal.

Every record carries the request id of the request that produced it, and the
ids of the key and the job when known: never a key's secret, never a raw path.
"""

import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

import msgspec

from infrastructure.settings import Settings

request_id: ContextVar[str | None] = ContextVar("jobtrail_request_id", default=None)

# Record attributes that are not context worth a field (uvicorn adds an ANSI copy).
_STANDARD = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
    "context",
}
_encode = msgspec.json.Encoder().encode


class _RequestContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and value is not None:
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encode(entry).decode()


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s%(context)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None)
        record.context = f" [{rid}]" if rid else ""
        return super().format(record)


def configure_logging(settings: Settings, stream: Any = None) -> None:
    """The settings' level and format (json, plain, or auto: plain on a terminal,
    JSON otherwise)."""
    stream = stream or sys.stderr
    choice = settings.log_format
    plain = choice == "plain" or (choice == "auto" and stream.isatty())
    handler = logging.StreamHandler(stream)
    handler.setFormatter(PlainFormatter() if plain else JsonFormatter())
    handler.addFilter(_RequestContext())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    for name in TALKATIVE_LIBRARIES:
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))


TALKATIVE_LIBRARIES = ("botocore", "boto3", "s3transfer", "urllib3", "clickhouse_connect")
"""Libraries whose DEBUG and INFO lines carry a request's URL, parameters or body, and
so a user's id (an S3 prefix, a query's values): kept at WARNING even when jobtrail's
own level is DEBUG, since a forgotten id must not survive in a log (ADR 18)."""
