"""structlog setup for operational logs: contextvars first, secrets redacted, console or JSON.

Called once, by `axonhub serve`; importing this module configures nothing.
"""

from __future__ import annotations

import logging
import re
import shutil
import sys
from collections.abc import Callable, MutableMapping
from typing import Any, TextIO

import structlog

_SECRET_KEY_NAME = re.compile(r"(authorization|api[-_]?key|secret|token|password|cookie)", re.IGNORECASE)
_SECRET_VALUE = re.compile(r"\b(ah-|sk-ant-|sk-)[A-Za-z0-9_\-]{8,}|(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{8,}")


def redact_text(text: str) -> str:
    """Mask anything that looks like an AxonHub, OpenAI or Anthropic key or a bearer token."""
    return _SECRET_VALUE.sub("[redacted]", text)


def redact_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for name, value in list(event_dict.items()):
        if isinstance(value, bool | int | float) or value is None:
            continue  # a count (`input_tokens=1234`) is never a secret, whatever its field is called
        if _SECRET_KEY_NAME.search(name) and name not in {"key", "key_name"}:
            event_dict[name] = "[redacted]"
        elif isinstance(value, str):
            event_dict[name] = redact_text(value)
    return event_dict


# The request line's fields: a terminal shows them as one short text, the JSON log as fields.
_REQUEST_FIELDS = (
    "status", "method", "path", "kind", "key", "model", "resolved", "channel", "input_tokens",
    "output_tokens", "counted_tokens", "ms", "error", "stream", "request_id",
)  # fmt: skip


def request_line(width: int) -> Callable[[Any, str, MutableMapping[str, Any]], MutableMapping[str, Any]]:
    """Console only: the one line per request as short text that fits `width` columns.

    `200  812 ms  alice  in 1200 out 56  claude-sonnet-5 → deepseek-chat @ deepseek`: the fixed-width
    facts first, the models last, so a narrow terminal cuts only the end of a long model name.
    """

    def processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if event_dict.get("event") != "request" or "status" not in event_dict:
            return event_dict
        f = {name: event_dict.pop(name, None) for name in _REQUEST_FIELDS}
        parts = [f"{f['status']} {round(f['ms'] or 0):5} ms", str(f["key"] or "-")]
        if f["kind"] not in (None, "messages", "chat_completions"):
            parts.append(f"[{f['kind']}]")
        if f["counted_tokens"] is not None:
            parts.append(f"counted {f['counted_tokens']}")
        elif f["input_tokens"] is not None or f["output_tokens"] is not None:
            parts.append(f"in {f['input_tokens'] or 0} out {f['output_tokens'] or 0}")
        model, resolved = f["model"], f["resolved"]
        route = str(model or f["path"]) if not resolved or resolved == model else f"{model} → {resolved}"
        parts.append(route + (f" @ {f['channel']}" if f["channel"] else ""))
        if f["error"]:
            parts.append(f"· {f['error']}")
        text = "  ".join(parts)
        room = max(width - _PREFIX_WIDTH, 40)
        event_dict["event"] = text if len(text) <= room else text[: room - 1] + "…"
        return event_dict

    return processor


_PREFIX_WIDTH = len("12:00:00 [info     ] ")


def configure_logging(log_format: str = "auto", *, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """`auto` renders for humans on a TTY and JSON lines otherwise."""
    stream = stream or sys.stderr
    as_json = log_format == "json" or (log_format == "auto" and not stream.isatty())
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        # JSON lines keep the full UTC timestamp; a terminal gets the local time of day
        structlog.processors.TimeStamper(fmt="iso", utc=True)
        if as_json
        else structlog.processors.TimeStamper("%H:%M:%S", utc=False),
        structlog.processors.format_exc_info,
        redact_processor,
    ]
    if as_json:
        processors.append(structlog.processors.JSONRenderer())
    else:
        width = shutil.get_terminal_size().columns
        processors += [request_line(width), structlog.dev.ConsoleRenderer(colors=stream.isatty())]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=True,
    )
    # aiohttp's own access log would duplicate our canonical request line.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
