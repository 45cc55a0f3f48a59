"""Structured logging: every record keeps its ``extra`` fields and the context of the job it belongs to.

``LOG_FORMAT=json`` writes one JSON object per line (production: log collectors read the fields);
``LOG_FORMAT=text`` writes a readable line that ends with the fields, ``... evaluation run failed run=12
version=3 model=demo-2 attempt=1``. Code that works for one job (an evaluation run) wraps it in
``log_context(run=..., ...)``: every record made meanwhile, by any logger in that thread, carries those fields.
"""

import contextlib
import contextvars
import json
import logging
from collections.abc import Iterator

from pythonjsonlogger.core import RESERVED_ATTRS

FORMATS = ("text", "json")
LINE = "%(asctime)s %(levelname)s %(name)s %(message)s"

_context: contextvars.ContextVar[dict] = contextvars.ContextVar("log_context")
# Attributes of every LogRecord, and those formatters and frameworks add: what is left is a record's extra fields.
_NOT_EXTRA = frozenset(RESERVED_ATTRS) | {"taskName", "color_message"}


@contextlib.contextmanager
def log_context(**fields) -> Iterator[None]:
    """Attach ``fields`` to every record made inside the block (in this thread, and in threads started with a
    copy of this context, see ``contextvars.copy_context``)."""
    token = _context.set({**_context.get({}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Adds the fields of the current ``log_context`` to a record; a field given in ``extra`` wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get({}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def extra_fields(record: logging.LogRecord) -> dict:
    return {k: v for k, v in record.__dict__.items() if k not in _NOT_EXTRA and not k.startswith("_")}


def _text(value) -> str:
    text = str(value)
    # Quote only what would break ``key=value`` reading: spaces, quotes, an empty value.
    return json.dumps(text, ensure_ascii=False) if not text or any(c in text for c in ' "=\n') else text


class TextFormatter(logging.Formatter):
    """A readable line followed by the record's extra fields as ``key=value`` (before any traceback)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        fields = " ".join(f"{k}={_text(v)}" for k, v in extra_fields(record).items())
        return f"{line} {fields}" if fields else line


def logging_config(*, fmt: str, level: str) -> dict:
    """The ``LOGGING`` setting: one console handler in the chosen format, with the job context filter."""
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    formatter = (
        {"()": "pythonjsonlogger.json.JsonFormatter", "fmt": LINE, "json_ensure_ascii": False}
        if fmt == "json"
        else {"()": "config.logging.TextFormatter", "fmt": LINE}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "config.logging.ContextFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "default", "filters": ["context"]}
        },
        "root": {"handlers": ["console"], "level": level},
        # The embedded default's folder broker has no host name, which kombu warns about at every connection.
        "loggers": {"kombu.connection": {"level": "ERROR"}},
    }
