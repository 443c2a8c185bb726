import logging
import sys

import pytest

from constellation.logfmt import KeyValueFormatter, format_value


def make_record(msg: str, *args: object, extra: dict | None = None,
                exc_info: object = None) -> logging.LogRecord:
    logger = logging.getLogger("watchers.informer")
    return logger.makeRecord(
        logger.name, logging.WARNING, __file__, 1, msg, args, exc_info, extra=extra
    )


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("pods", "pods"),
        (3, "3"),
        ("watch closed", '"watch closed"'),
        ("", '""'),
        ('say "hi"', '"say \\"hi\\""'),
        ("a=b", '"a=b"'),
        ("two\nlines", '"two\\nlines"'),
        ("Pod/shop/api-7d9", "Pod/shop/api-7d9"),
    ],
)
def test_format_value_quotes_only_what_needs_it(value: object, token: str) -> None:
    assert format_value(value) == token


def test_formatter_writes_fixed_fields_then_extras_in_order() -> None:
    record = make_record("watch closed after %d s", 30,
                         extra={"resource": "pods", "attempt": 3, "next": "resume"})
    record.created = 1735732800.25

    line = KeyValueFormatter().format(record)

    assert line == (
        'ts=2025-01-01T12:00:00.250Z level=WARNING logger=watchers.informer '
        'msg="watch closed after 30 s" resource=pods attempt=3 next=resume'
    )


def test_formatter_puts_the_traceback_on_following_lines() -> None:
    try:
        raise ValueError("bad line")
    except ValueError:
        record = make_record("parse failed", exc_info=sys.exc_info())

    first, *rest = KeyValueFormatter().format(record).splitlines()

    assert first.endswith('msg="parse failed"')
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ValueError: bad line"
