"""A `key=value` log formatter, so one line tells an operator what happened and what is next.

Lines look like

    ts=2025-01-01T12:00:00.000Z level=WARNING logger=watchers.informer msg="watch closed"
    resource=pods attempt=3

(on one line): greppable, readable without a log viewer, and parseable by logfmt tools.
Fields passed with `logger.info("...", extra={"resource": "pods"})` follow the fixed fields in
the order given.
A traceback, when there is one, follows on its own lines as Python prints it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "taskName"}

_NEEDS_QUOTES = frozenset(' "=\\')


def format_value(value: object) -> str:
    """`value` as a logfmt token: bare when it is safe, else a JSON-quoted string."""
    text = value if isinstance(value, str) else str(value)
    if text and text.isprintable() and not _NEEDS_QUOTES.intersection(text):
        return text
    return json.dumps(text, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    """Formats records as `ts=… level=… logger=… msg=…` followed by the record's extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record; exceptions and stack info go on the following lines."""
        timestamp = datetime.fromtimestamp(record.created, tz=UTC)
        fields: list[tuple[str, object]] = [
            ("ts", timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")),
            ("level", record.levelname),
            ("logger", record.name),
            ("msg", record.getMessage()),
        ]
        fields.extend(
            (key, value) for key, value in record.__dict__.items() if key not in _RECORD_ATTRS
        )
        line = " ".join(f"{key}={format_value(value)}" for key, value in fields)
        if record.exc_info:
            record.exc_text = record.exc_text or self.formatException(record.exc_info)
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        if record.stack_info:
            line = f"{line}\n{self.formatStack(record.stack_info)}"
        return line
