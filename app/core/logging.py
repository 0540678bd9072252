"""JSON logs through structlog, with the request id bound to every line.

PHI rule (DESIGN.md 8): log ids, statuses and durations; never names, emails, phone numbers,
member ids, query strings or bodies.
"""

import logging
import sys
from typing import TextIO

import orjson
import structlog

# Tracebacks as data, but never with frame locals: those hold tokens, passwords and PHI.
_tracebacks_without_locals = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
)


def _scrub_exception_values(logger: object, method: str, event: dict) -> dict:
    """Database errors quote row values ("DETAIL: Key (email)=(...)"): keep the message, drop the detail."""
    for entry in event.get("exception", ()):
        if isinstance(entry, dict) and isinstance(entry.get("exc_value"), str):
            entry["exc_value"] = entry["exc_value"].split("DETAIL:", 1)[0][:500]
    return event


def configure_logging(level: str = "INFO", *, stream: TextIO | None = None) -> None:
    """JSON lines on stdout (or `stream`: the CLI's commands that answer on stdout log to stderr)."""
    stream = stream or sys.stdout
    level = level.upper()
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            _tracebacks_without_locals,
            _scrub_exception_values,
            structlog.processors.JSONRenderer(orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.BytesLoggerFactory(stream.buffer),
        cache_logger_on_first_use=False,
    )
    # Libraries log through the standard library: render them as the same JSON lines.
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # A library's `exc_info` arrives as a (type, value, traceback) tuple: render it as data
                # like ours, and never let a value the encoder does not know drop the line.
                _tracebacks_without_locals,
                _scrub_exception_values,
                structlog.processors.JSONRenderer(lambda obj, **kw: orjson.dumps(obj, default=repr).decode()),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Our middleware writes the access log (without query strings, which can hold PHI).
    logging.getLogger("uvicorn.access").disabled = True
    # Client libraries log whole URLs, which can carry data.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # arq logs every job start and end, the 5-second outbox relay included; our jobs log what matters.
    logging.getLogger("arq.worker").setLevel(max(logging.WARNING, root.level))
