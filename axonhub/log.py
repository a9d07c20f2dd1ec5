"""structlog setup for operational logs: contextvars first, secrets redacted, text capped, console or JSON.

Called once, by `axonhub serve`; importing this module configures nothing. Every log line goes
through the same processors, also the ones written by aiohttp and asyncio through the standard
`logging` module (a `ProcessorFormatter` on the root logger), so no library can bypass redaction.
An HTTP parse error from aiohttp is logged as its one-line reason only: the raw line it quotes
could carry a key in any shape.

Rendered lines go to a `LogSink`. On a real file or pipe (stderr under `axonhub serve`) a thread
writes them in batches (`axonhub.batch_writer`), so the event loop never waits on a slow terminal
or log collector and pays no system call per request line; lines keep their order and the rest is
written at exit. A stream without a file descriptor (a test's buffer) is written to directly.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import logging
import os
import re
import shutil
import sys
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, Final, TextIO

import structlog
from aiohttp.http_exceptions import HttpProcessingError

from axonhub import fastjson
from axonhub.batch_writer import BatchWriter
from axonhub.caps import TEXT_LIMIT, TRACEBACK_LIMIT, cap_redacted, cap_value
from axonhub.redact import MIN_SECRET_LENGTH, REDACTED, Redactor, is_credential_name

EventDict = MutableMapping[str, Any]


class RedactFields:
    """The structlog processor hiding secrets (by field name and by value) and capping free text."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    def __call__(self, _: Any, __: str, event_dict: EventDict) -> EventDict:
        redaction = self.redactor.snapshot()
        for name, value in event_dict.items():  # values are replaced in place: the keys stay as they are
            kind = type(value)
            if kind in _PLAIN or value is None or name in _OURS:
                continue
            if kind is str:
                if name in _NEVER_SECRET and len(value) < TEXT_LIMIT // 4:
                    if len(value) >= MIN_SECRET_LENGTH:  # shorter: too short to hold a secret
                        event_dict[name] = redaction.text(value)  # a name never holds a credential
                    continue
            elif isinstance(value, bool | int | float):
                continue
            if name != "event" and is_credential_name(name):
                event_dict[name] = REDACTED
                continue
            if kind is str and len(value) < MIN_SECRET_LENGTH:
                continue  # too short to hold a secret or to need a cut
            limit = TRACEBACK_LIMIT if name in ("exception", "stack") else TEXT_LIMIT
            if isinstance(value, Mapping | list | tuple):
                event_dict[name] = cap_value(redaction.value(value), limit)
            else:  # other objects are rendered with repr(): redact that text
                text = value if isinstance(value, str) else repr(value)
                event_dict[name] = cap_redacted(text, redaction.text, limit)
        return event_dict


_PLAIN: Final = frozenset({bool, int, float})  # never hidden, checked by exact type first (the common case)
# Fields of the request line whose names are not credential names: only their text needs redacting.
_NEVER_SECRET: Final = frozenset({"event", "method", "path", "model", "resolved", "channel", "request_id"})
# Fields the processors write themselves (TimeStamper, add_log_level): nothing to hide, and a timestamp,
# new on every line, would only fill the redaction memo.
_OURS: Final = frozenset({"timestamp", "level"})


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
        if f["kind"] not in (None, "messages", "chat_completions", "responses"):
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


def summarize_parse_errors(_: Any, __: str, event_dict: EventDict) -> EventDict:
    """An aiohttp HTTP parse error becomes its one-line reason; the raw request line is never logged."""
    exc_info = event_dict.get("exc_info")
    exc = exc_info[1] if isinstance(exc_info, tuple) else exc_info
    if isinstance(exc, HttpProcessingError):
        event_dict.pop("exc_info")
        event_dict["error"] = f"{type(exc).__name__}: {parse_error_summary(exc)}"
    return event_dict


def parse_error_summary(exc: HttpProcessingError) -> str:
    """`Invalid header token` out of aiohttp's `Invalid header token:\\n\\n  b'<the raw line>'\\n  ^`."""
    message = str(getattr(exc, "message", "") or "")
    first = re.split(r"[\"'`]", message.split("\n", 1)[0], maxsplit=1)[0]  # never a quoted piece of the request
    return first.rstrip(": ").strip()[:120] or "malformed HTTP request"


class LogSink:
    """Where rendered lines go: batched by a writer thread onto a file descriptor, or straight into a
    stream that has none. Never blocks the event loop on a descriptor; lines beyond what the writer's
    queue holds (a collector stalled for a long time) are dropped and counted."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.dropped = 0
        self._fd = _descriptor(stream)
        self._writer: BatchWriter[bytes] | None = None
        if self._fd is not None:
            with contextlib.suppress(ValueError, OSError):
                stream.flush()  # what was written through the stream before goes first
            self._writer = BatchWriter(self._write, name="axonhub-log-writer")
            self._writer.start()
            atexit.register(self.close)

    def line(self, text: str) -> None:
        if self._writer is None:
            self.stream.write(text + "\n")
            self.stream.flush()
        elif not self._writer.add((text + "\n").encode("utf-8", "backslashreplace")):
            self.dropped += 1

    def flush(self) -> None:
        """Return once every line logged so far is written (before writing to the stream directly)."""
        if self._writer is not None:
            self._writer.flush(timeout=2.0)

    def close(self) -> None:
        """Write every line still queued (at exit, or when logging is configured anew)."""
        if self._writer is not None:
            self._writer.close(timeout=10)

    def _write(self, batch: list[bytes]) -> None:
        assert self._fd is not None
        view = memoryview(b"".join(batch))
        with contextlib.suppress(OSError):  # a closed stderr: nowhere left to say so
            while view:
                view = view[os.write(self._fd, view) :]


def _descriptor(stream: TextIO) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None


class SinkLogger:
    """The structlog logger writing rendered lines to a `LogSink` (every level alike)."""

    def __init__(self, sink: LogSink) -> None:
        self._sink = sink

    def msg(self, message: str) -> None:
        self._sink.line(message)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


class SinkHandler(logging.Handler):
    """The `logging` handler writing formatted records to the same `LogSink`, in the same order."""

    def __init__(self, sink: LogSink) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink.line(self.format(record))
        except Exception:  # as logging.StreamHandler: a record that cannot be formatted is reported, not raised
            self.handleError(record)


def configure_logging(
    log_format: str = "auto",
    *,
    redactor: Redactor | None = None,
    level: int = logging.INFO,
    stream: TextIO | None = None,
) -> LogSink:
    """`auto` renders for humans on a TTY and JSON lines otherwise; `redactor` is the app's.

    Returns the sink, whose `close()` writes what is still queued (it also runs at exit)."""
    stream = stream or sys.stderr
    as_json = log_format == "json" or (log_format == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=fastjson.dumps_text)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    redact = RedactFields(redactor or Redactor())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        # JSON lines keep the full UTC timestamp; a terminal gets the local time of day
        structlog.processors.TimeStamper(fmt="iso", utc=True)
        if as_json
        else structlog.processors.TimeStamper("%H:%M:%S", utc=False),
    ]
    sink = LogSink(stream)
    logger = SinkLogger(sink)
    # on a terminal, the request line is short text that fits its width (JSON keeps the fields)
    shorten = [] if as_json else [request_line(shutil.get_terminal_size().columns)]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, redact, *shorten, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=lambda *_: logger,
        cache_logger_on_first_use=True,
    )
    _route_stdlib_logging(sink, level, shared, redact, renderer)
    return sink


def _route_stdlib_logging(sink: LogSink, level: int, shared: list[Any], redact: RedactFields, renderer: Any) -> None:
    """Send everything logged with `logging` (aiohttp, asyncio, …) through the same processors."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            summarize_parse_errors,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
    )
    handler = SinkHandler(sink)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # aiohttp's own access log would duplicate our canonical request line.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
