"""structlog setup for operational logs: contextvars first, secrets redacted, console or JSON.

Called once, by `axonhub serve`; importing this module configures nothing.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

_SECRET_KEY_NAME = re.compile(r"(authorization|api[-_]?key|secret|token|password|cookie)", re.IGNORECASE)
_SECRET_VALUE = re.compile(r"\b(ah-|sk-ant-|sk-)[A-Za-z0-9_\-]{8,}|(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{8,}")


def redact_text(text: str) -> str:
    """Mask anything that looks like an AxonHub, OpenAI or Anthropic key or a bearer token."""
    return _SECRET_VALUE.sub("[redacted]", text)


def redact_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for name, value in list(event_dict.items()):
        if _SECRET_KEY_NAME.search(name) and name not in {"key", "key_name"}:
            event_dict[name] = "[redacted]"
        elif isinstance(value, str):
            event_dict[name] = redact_text(value)
    return event_dict


def configure_logging(log_format: str = "auto", *, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """`auto` renders for humans on a TTY and JSON lines otherwise."""
    stream = stream or sys.stderr
    as_json = log_format == "json" or (log_format == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=True,
    )
    # aiohttp's own access log would duplicate our canonical request line.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
