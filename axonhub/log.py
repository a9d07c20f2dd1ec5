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

The request line, one per request, is the hot one: in JSON, `log_request` writes it through the same
steps as the processors (context variables, level, timestamp, redaction, JSON) without structlog's
per-call machinery (a bound logger looked up, the context copied, the processors dispatched one by
one), which cost about as much as the steps themselves. The line is the same; any other setup
(the console, a structlog configured elsewhere) gets it through structlog.
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
import time
from collections.abc import Callable, Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any, Final, TextIO

import structlog
from aiohttp.http_exceptions import HttpProcessingError

from axonhub import fastjson
from axonhub.batch_writer import BatchWriter
from axonhub.caps import TEXT_LIMIT, TRACEBACK_LIMIT, cap_redacted, cap_value
from axonhub.redact import MIN_SECRET_LENGTH, REDACTED, Redactor, is_credential_name
from axonhub.trace_record import MODEL_CALLS

EventDict = MutableMapping[str, Any]


class RedactFields:
    """The structlog processor hiding secrets (by field name and by value) and capping free text."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    def __call__(self, _: Any, __: str, event_dict: EventDict) -> EventDict:
        redaction = self.redactor.snapshot()
        for name, value in event_dict.items():  # values are replaced in place: the keys stay as they are
            kind = type(value)
            if kind is str:  # the common case first
                if name in _NEVER_SECRET:
                    if len(value) < TEXT_LIMIT // 4:
                        if len(value) >= MIN_SECRET_LENGTH:  # shorter: too short to hold a secret
                            event_dict[name] = redaction.text(value)  # a name never holds a credential
                        continue
                elif name in _OURS or (len(value) < MIN_SECRET_LENGTH and not is_credential_name(name)):
                    continue  # too short to hold a secret or to need a cut
            elif kind in _PLAIN or value is None or name in _OURS or isinstance(value, bool | int | float):
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
# Fields whose names are not credential names (the request line's, the refused request's): only their
# text needs redacting, and the name needs no check.
_NEVER_SECRET: Final = frozenset(
    {"event", "method", "path", "kind", "key", "model", "resolved", "channel", "error", "request_id", "reason"}
    | {"user_agent", "peer", "logger"}
)
# Fields the processors write themselves (TimeStamper, add_log_level): nothing to hide, and a timestamp,
# new on every line, would only fill the redaction memo.
_OURS: Final = frozenset({"timestamp", "level"})


class UtcTimestamp:
    """The processor stamping `timestamp` as structlog's `TimeStamper(fmt="iso", utc=True)` does
    (`2026-11-30T16:34:06.428594Z`, no fraction at a whole second), with the date and time of day
    formatted once per second instead of once per line. Safe from any thread."""

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")  # one attribute: read and replaced whole

    def __call__(self, _: Any, __: str, event_dict: EventDict) -> EventDict:
        event_dict["timestamp"] = self.now()
        return event_dict

    def now(self) -> str:
        second, micros = divmod(time.time_ns() // 1000, 1_000_000)  # as datetime.now(): microseconds, floored
        cached, prefix = self._second
        if cached != second:
            prefix = datetime.fromtimestamp(second, UTC).replace(tzinfo=None).isoformat()
            self._second = (second, prefix)
        return f"{prefix}.{micros:06d}Z" if micros else f"{prefix}Z"


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
        if f["kind"] is not None and f["kind"] not in MODEL_CALLS:
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


class SinkLoggerFactory:
    """structlog's logger factory: every logger is the one `SinkLogger`. In JSON it also carries the
    request line's direct way to the sink (`DirectLine`)."""

    def __init__(self, logger: SinkLogger, direct: DirectLine | None) -> None:
        self.logger = logger
        self.direct = direct

    def __call__(self, *_: Any) -> SinkLogger:
        return self.logger


class DirectLine:
    """An info line written as the JSON processors `configure_logging` installed would write it, with
    none of structlog's per-call work: the fields are the event dict, merged with the context
    variables, stamped, redacted and serialised in the processors' order, then queued on the sink."""

    def __init__(self, sink: LogSink, stamp: UtcTimestamp, redact: RedactFields, renderer: Any) -> None:
        self.sink = sink
        self.stamp = stamp
        self.redact = redact
        self.renderer = renderer
        self.processors: list[Any] = []  # the chain this stands for, and its wrapper class: set once configured
        self.wrapper_class: Any = None

    def serves(self, config: Mapping[str, Any]) -> bool:
        """Whether structlog is still configured as it was when this was made."""
        return config["processors"] is self.processors and config["wrapper_class"] is self.wrapper_class

    def info(self, event: str, fields: dict[str, Any]) -> None:
        """Write `fields` (the caller's dict, taken over) and `event` as one info line."""
        fields["event"] = event
        structlog.contextvars.merge_contextvars(None, "info", fields)
        fields["level"] = "info"
        fields["timestamp"] = self.stamp.now()
        self.redact(None, "info", fields)
        self.sink.line(self.renderer(None, "info", fields))


def log_request(log: Any, fields: dict[str, Any]) -> None:
    """The request's one log line (`event="request"`, then `fields`), through `log` (a structlog
    logger), or straight to the sink when logging is `configure_logging`'s JSON: the same line, for
    about half the time. `fields` is taken over."""
    config = structlog.get_config()
    factory = config["logger_factory"]
    direct = factory.direct if isinstance(factory, SinkLoggerFactory) else None
    if direct is not None and direct.serves(config) and "exc_info" not in fields:
        direct.info("request", fields)
    else:
        log.info("request", **fields)


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
    stamp = UtcTimestamp()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        # JSON lines keep the full UTC timestamp; a terminal gets the local time of day
        stamp if as_json else structlog.processors.TimeStamper("%H:%M:%S", utc=False),
    ]
    sink = LogSink(stream)
    # the request line's direct way: JSON only, and only while the request line is logged at all
    direct = DirectLine(sink, stamp, redact, renderer) if as_json and level <= logging.INFO else None
    # on a terminal, the request line is short text that fits its width (JSON keeps the fields)
    shorten = [] if as_json else [request_line(shutil.get_terminal_size().columns)]
    processors = [*shared, structlog.processors.format_exc_info, redact, *shorten, renderer]
    wrapper_class = structlog.make_filtering_bound_logger(level)
    if direct is not None:
        direct.processors, direct.wrapper_class = processors, wrapper_class
    structlog.configure(
        processors=processors,
        wrapper_class=wrapper_class,
        logger_factory=SinkLoggerFactory(SinkLogger(sink), direct),
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
