"""Structured logging: records keep their extra fields and the context of the evaluation run they belong to, as
readable text (development) or JSON lines (production, LOG_FORMAT=json)."""

import io
import json
import logging
import os
import subprocess
import sys

import pytest
from django.utils.module_loading import import_string

from config.logging import ContextFilter, log_context, logging_config
from tests.conftest import ROOT


def _handler(fmt: str) -> tuple[logging.Handler, io.StringIO]:
    """A handler built like LOGGING's console handler (its formatter and filter), writing to a string."""
    formatter = dict(logging_config(fmt=fmt, level="INFO")["formatters"]["default"])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(import_string(formatter.pop("()"))(**formatter))
    handler.addFilter(ContextFilter())
    return handler, stream


@pytest.fixture
def logged(request):
    """Records of the logger ``structured`` through a handler in the given format."""
    handler, stream = _handler(request.param)
    logger = logging.getLogger("structured")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, stream
    logger.removeHandler(handler)


@pytest.mark.parametrize("logged", ["text"], indirect=True)
def test_text_lines_end_with_the_extra_fields_and_the_context(logged):
    logger, stream = logged
    with log_context(version=3, model="demo-2", attempt=1):
        try:
            raise ValueError("bad shape")
        except ValueError:
            logger.exception("evaluation run failed", extra={"run": 12})
    logger.info("outside", extra={"reason": "two words"})
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith(
        " ERROR structured evaluation run failed run=12 version=3 model=demo-2 attempt=1"
    )
    assert lines[1] == "Traceback (most recent call last):" and lines[-2] == "ValueError: bad shape"
    assert lines[-1].endswith(
        ' INFO structured outside reason="two words"'
    )  # the context ended with its block


@pytest.mark.parametrize("logged", ["json"], indirect=True)
def test_json_lines_hold_the_fields_the_context_and_the_traceback(logged):
    logger, stream = logged
    with log_context(run=12, version=3, model="demo-2", attempt=1):
        try:
            raise ValueError("bad shape")
        except ValueError:
            logger.exception("evaluation run failed", extra={"queue": "gpu"})
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert {
        k: record[k] for k in ("levelname", "name", "message", "run", "version", "model", "attempt", "queue")
    } == {
        "levelname": "ERROR",
        "name": "structured",
        "message": "evaluation run failed",
        "run": 12,
        "version": 3,
        "model": "demo-2",
        "attempt": 1,
        "queue": "gpu",
    }
    assert "ValueError: bad shape" in record["exc_info"]


def test_an_unknown_log_format_is_refused_with_the_variable_named():
    with pytest.raises(ValueError, match="LOG_FORMAT must be one of text, json, not 'yaml'"):
        logging_config(fmt="yaml", level="INFO")


@pytest.mark.parametrize(("fmt", "expected"), [("json", '"run": 7'), ("text", "hello run=7")])
def test_log_format_chooses_the_format_of_the_project(fmt, expected):
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, logging; django.setup(); logging.getLogger('x').warning('hello', extra={'run': 7})",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_FORMAT": fmt},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert expected in done.stderr, done.stderr
