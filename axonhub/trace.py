"""The JSONL trace log: trace ids, redaction, the append-only writer and the reader.

One JSON object per exchange, one line, written whole. The pipeline builds the record
(`Exchange.record()`); this module decides its trace id, redacts and caps the bodies, appends it
without blocking the event loop, rotates the file by size, and reads it back for the CLI.

The record, version 2 (`null` where a value is unknown or does not apply)::

    {"v": 2,
     "time": "2026-05-01T12:00:00.123+00:00",      # request start, UTC, milliseconds
     "request_id": "req_…", "trace_id": "…",
     "trace_source": "claude_code_header" | "claude_code_metadata" | "codex_session"
                     | "x_trace_id" | "request" | "replay",
     "kind": "messages" | "count_tokens" | "models" | "chat_completions" | "responses" | "probe",
     "key": "alice" | null, "project": "demo" | null,
     "client_format": "anthropic" | "openai_chat" | …, "method": "POST", "path": "/v1/messages",
     "user_agent": "claude-cli/2.1.197 (external, sdk-cli)",
     "requested_model": "claude-sonnet-5", "profile": "deepseek" | null, "rule": 1 | null,
     "rule_condition": "thinking requested" | null,    # the rule's `when:` as this request met it
     "resolved_model": "deepseek-chat", "channel": "deepseek", "upstream_model": "deepseek-chat",
     "upstream_id": "chatcmpl-…" | null,             # the upstream's own message id
     "attempts": [{"channel", "upstream_model", "status", "latency_ms", "started_ms", "queued_ms", "error"}],
     "stream": true, "status": 200, "stop_reason": "end_turn",
     "usage": {"input", "output", "cache_read", "cache_write", "reasoning"} | null,
     "counted_tokens"?: 1234,                       # count_tokens only: the count, never usage
     "timings": {"ttfb_ms", "upstream_ms", "total_ms", "overhead_ms"},
     "error": {"type", "message", "detail"?} | null,   # detail: what clients are never shown
     "notes"?: ["tools: web_search left out: …"],   # what the gateway left out of the request, and why
     "limit": {"scope", "subject", "name", "limit", "used", "reset_at"} | null,   # an AxonHub limit refused
     "replay_of"?: "req_…",                        # only on an admin replay (its own trace id)
     "request_body"?: …, "response_body"?: …}     # only per `trace.bodies`, redacted, capped

A streamed answer's `response_body` is the whole message the stream carried, in the client's
format, as a non-streaming request would have got it.

`usage.input` counts uncached input tokens (Anthropic's `input_tokens`); cache reads and writes
are counted apart. `usage` is only ever what an upstream reported for a model call: a count_tokens
exchange is recorded with its count in `counted_tokens`. `rule` numbers a profile's rules from 1.
Version-1 records (0-based `rule`, count_tokens counts in `usage`) are upgraded when read
(`axonhub.trace_reader`). `overhead_ms` is `total_ms - upstream_ms`. Free-text fields (models, path,
user agent, error text) are cut at `caps.TEXT_LIMIT` characters with the cut marked `…[+N chars]`;
every secret `axonhub.redact` knows of is `[redacted]`, the request's own AxonHub key included.

Writer guarantees: `TraceWriter.write()` never blocks and never raises. It applies the body policy,
redacts and serialises the record into one line on the spot (a few microseconds: redaction of the
short free-text fields is memoised, see `axonhub.redact`), and queues the line; a dedicated thread
(`axonhub.batch_writer`) appends the queued lines in batches, each batch of whole lines with one
`os.write` on an `O_APPEND` descriptor, so lines never tear or interleave (also between the
processes of `serve --workers`, which all append to the one file) and the thread wakes once per
batch, not once per request. Rotation keeps `path.1 … path.N` and happens under a lock (`flock` on
the log's directory), one process at a time; a file moved or deleted by a log rotator is reopened
before the next batch; an unwritable path or a full disk is logged (rate-limited) and the lost
records are counted in `TraceWriter.dropped`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

import orjson
import structlog
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from axonhub import fastjson
from axonhub.batch_writer import BatchWriter
from axonhub.caps import TEXT_LIMIT, cap_redacted
from axonhub.config import TraceConfig
from axonhub.redact import MIN_SECRET_LENGTH, PATTERNS_ONLY, REDACTED, Redaction, Redactor, is_credential_name
from axonhub.trace_reader import (  # re-exported: the reader's home used to be here
    ReadStats,
    TraceFollower,
    is_error,
    iter_records,
    parse_line,
    read_files,
    trace_files,
)
from axonhub.trace_record import TraceRecord

__all__ = [
    "ReadStats",
    "TraceFollower",
    "TraceWriter",
    "Written",
    "is_error",
    "iter_records",
    "parse_line",
    "read_files",
    "trace_files",
]

log = structlog.get_logger("axonhub.trace")

# ---------------------------------------------------------------------------------------------
# Trace ids
# ---------------------------------------------------------------------------------------------

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")
_LEGACY_SESSION = re.compile(r"_session_([A-Za-z0-9][A-Za-z0-9\-]{0,127})$")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, case-insensitively also for plain dicts."""
    value = headers.get(name)
    if value is None and not isinstance(headers, CIMultiDict | CIMultiDictProxy):
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def _valid_id(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if _ID.match(value) else None


def session_from_user_id(user_id: object) -> str | None:
    """The session in Claude Code's `metadata.user_id`: a JSON string with `session_id`, or the
    legacy `user_<hex>_account_<uuid>_session_<uuid>` form."""
    if not isinstance(user_id, str):
        return None
    text = user_id.strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return None
        return _valid_id(parsed.get("session_id")) if isinstance(parsed, dict) else None
    match = _LEGACY_SESSION.search(text)
    return match.group(1) if match else None


def _metadata_session(body: Mapping[str, Any] | None) -> str | None:
    metadata = body.get("metadata") if body else None
    return session_from_user_id(metadata.get("user_id")) if isinstance(metadata, Mapping) else None


def _codex_session(headers: Mapping[str, str]) -> str | None:
    """Codex's session: its `session-id` header, else `thread-id`, else the session in `x-codex-turn-metadata`."""
    for name in ("session-id", "session_id", "thread-id"):
        session = _valid_id(_header(headers, name))
        if session:
            return session
    raw = _header(headers, "x-codex-turn-metadata")
    try:
        metadata = json.loads(raw) if raw else None
    except ValueError:
        return None
    return _valid_id(metadata.get("session_id")) if isinstance(metadata, dict) else None


def trace_id_for(
    headers: Mapping[str, str],
    body: Mapping[str, Any] | None,
    *,
    claude_code_enabled: bool,
    request_id: str,
) -> tuple[str, str]:
    """(trace id, source) of one request.

    With `claude_code_enabled`: the `X-Claude-Code-Session-Id` header, else the session in
    `metadata.user_id`, else Codex's session (`session-id`, `thread-id` or the `session_id` of its
    `x-codex-turn-metadata` header). Then, with or
    without the flag, an explicit `X-Trace-Id`; otherwise the request is its own trace.
    """
    if claude_code_enabled:
        session = _valid_id(_header(headers, "X-Claude-Code-Session-Id"))
        if session:
            return session, "claude_code_header"
        session = _metadata_session(body)
        if session:
            return session, "claude_code_metadata"
        session = _codex_session(headers)
        if session:
            return session, "codex_session"
    explicit = _valid_id(_header(headers, "X-Trace-Id"))
    if explicit:
        return explicit, "x_trace_id"
    return request_id, "request"


# ---------------------------------------------------------------------------------------------
# Redaction
# ---------------------------------------------------------------------------------------------


def redact_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]], redaction: Redaction = PATTERNS_ONLY
) -> dict[str, str]:
    """Headers with credential-named values replaced and secrets masked in the others."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {name: REDACTED if is_credential_name(name) else redaction.text(value) for name, value in items}


def redact_body(obj: Any, redaction: Redaction = PATTERNS_ONLY) -> Any:
    """A copy of a decoded JSON body without secrets.

    Values under a credential name are replaced unless they are numbers, booleans or null;
    secrets are masked in every string (`axonhub.redact` says what a secret is).
    """
    return redaction.value(obj)


def capped_body(obj: Any, max_bytes: int, redaction: Redaction = PATTERNS_ONLY) -> Any:
    """The redacted body, or when its JSON exceeds `max_bytes`, a marker with the JSON's head."""
    clean = redact_body(obj, redaction)
    text = fastjson.dumps_text(clean, default=str)
    size = len(text.encode())
    if size <= max_bytes:
        return clean
    head = text.encode()[:max_bytes].decode(errors="ignore")
    return {"truncated": True, "bytes": size, "head": head}


def apply_body_policy(
    record: Mapping[str, Any], config: TraceConfig, redaction: Redaction = PATTERNS_ONLY
) -> Mapping[str, Any]:
    """The record to store: bodies kept only per `config.bodies`, then redacted and capped."""
    fields: Mapping[str, Any] = record
    if "request_body" not in fields and "response_body" not in fields:
        return fields
    out = {k: v for k, v in fields.items() if k not in ("request_body", "response_body")}
    if config.bodies == "all" or (config.bodies == "errors" and is_error(record)):
        for name in ("request_body", "response_body"):
            if fields.get(name) is not None:
                out[name] = capped_body(fields[name], config.max_body_bytes, redaction)
    return out


_BODIES: Final = ("request_body", "response_body")


def capped_fields(record: Mapping[str, Any], redaction: Redaction = PATTERNS_ONLY) -> dict[str, Any]:
    """The record with every free-text field (model names, path, user agent, error text) redacted
    and capped at `caps.TEXT_LIMIT`; the bodies are left to the body policy.

    Fields the gateway fills from closed sets of its own (the version, the kind, the client's format,
    the method of a matched route, the trace source) or with numbers only (status, usage, timings)
    are taken as they are: nothing in them can hide a secret, and they are a third of the record."""
    text = redaction.text
    out: dict[str, Any] = {}
    for name, value in record.items():
        kind = type(value)
        if name in _AS_IS or value is None or kind is int or kind is float or kind is bool:
            out[name] = value
        elif kind is str:  # the common case, inline: this runs for every field of every record
            out[name] = value if len(value) < MIN_SECRET_LENGTH else _capped_text(value, text)
        else:
            out[name] = _capped(value, redaction)
    return out


# The bodies (the body policy's); the time the gateway wrote itself (new on every record: it would only
# fill the redaction memo); the fields of closed sets and numbers (see `capped_fields`).
_AS_IS: Final = frozenset(
    {"request_body", "response_body", "time", "v", "kind", "client_format", "method", "trace_source"}
    | {"status", "stream", "rule", "usage", "timings", "counted_tokens"}
)


def _capped_text(value: str, text: Callable[[str], str]) -> str:
    """`cap_redacted(value, text)`, with its common case (short text, no longer once redacted) inline."""
    if len(value) <= TEXT_LIMIT:
        done = text(value)
        if len(done) <= TEXT_LIMIT:
            return done
    return cap_redacted(value, text)


def _capped(value: Any, redaction: Redaction) -> Any:
    kind = type(value)
    if kind is str:  # the common cases first, by exact type
        return value if len(value) < MIN_SECRET_LENGTH else _capped_text(value, redaction.text)
    if value is None or kind is int or kind is float or kind is bool:
        return value
    if kind is dict or isinstance(value, Mapping):
        return {k: _capped(v, redaction) for k, v in value.items()}
    if kind is list:
        return [_capped(v, redaction) for v in value]
    if isinstance(value, str):
        return _capped_text(value, redaction.text)
    return value


def serialize(record: Mapping[str, Any], redaction: Redaction = PATTERNS_ONLY, *, guard: bool = True) -> bytes:
    """One line, newline-terminated; with `guard`, secrets masked once more over the whole line.

    The guard is for records holding bodies, whose keys no field-by-field pass looks at; a record
    whose every string went through `capped_fields` needs none (its keys are the record's own names).
    A lone surrogate (a header with invalid UTF-8 arrives as one) is written as its JSON escape, so
    the line stays valid and the record is never dropped for it.
    """
    if not guard:
        try:
            return orjson.dumps(record, default=str, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # a lone surrogate, a non-string key: the standard library's way below
            pass
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
    if guard:
        text = redaction.text(text)
    return (text + "\n").encode("utf-8", "backslashreplace")


# ---------------------------------------------------------------------------------------------
# Writer
# ---------------------------------------------------------------------------------------------

_QUEUE_LIMIT: Final = 100_000
_OPEN_WAIT_S: Final = 1.0
_LOG_EVERY_S: Final = 10.0


class _RateLimitedLog:
    """Logs a failure at most every `_LOG_EVERY_S` seconds, with the count in between."""

    def __init__(self) -> None:
        self._last = -_LOG_EVERY_S
        self._suppressed = 0
        self.failing = False

    def error(self, event: str, **fields: Any) -> None:
        self.failing = True
        now = time.monotonic()
        if now - self._last < _LOG_EVERY_S:
            self._suppressed += 1
            return
        log.error(event, suppressed_since_last=self._suppressed, **fields)
        self._last, self._suppressed = now, 0

    def recovered(self, **fields: Any) -> None:
        if self.failing:
            log.warning("trace writing recovered", **fields)
        self.failing = False


@dataclass(frozen=True, slots=True)
class Written:
    """Lines this process appended to the trace in one write: the file (inode, device) and the offset
    where the first of them starts, and each line with the record it holds, or None where the line
    has to be parsed to know (a record whose bodies a last pass over the whole line redacted)."""

    file: tuple[int, int]
    offset: int
    lines: list[tuple[bytes, TraceRecord | None]]


Landing = tuple[tuple[int, int], int, int, int]  # (file, offset, first line, lines): a run written


class _AppendFile:
    """The trace file as seen by the writer thread: open, append, rotate, reopen.

    Every system call here gives the interpreter lock away and takes it back from the event loop, so
    a batch makes few: with rotation on, lock, stat, write, unlock (the directory stays open for the
    lock); without, stat and write (and a seek to learn where the write landed)."""

    def __init__(self, config: TraceConfig) -> None:
        self.path = Path(config.path)
        self.max_bytes = config.max_bytes
        self.keep = config.keep
        self.fd: int | None = None
        self.ident: tuple[int, int] = (0, 0)  # (inode, device) of the open file
        self.torn = False  # the last line was cut short: start the next one on a fresh line
        self._dir_fd: int | None = None  # the log's directory, open for the rotation lock
        self._opens = 0  # files opened so far

    def append_batch(self, lines: list[bytes]) -> tuple[int, OSError | None, list[Landing]]:
        """Write whole lines in order, one write per run of lines, rotating between two lines when the
        next would overflow the file; (lines written, the error that stopped the rest or None, and per
        run written: the file, the offset where its first line starts, the index of that line in
        `lines`, its number of lines). A run whose offset is not known for sure (a write the kernel
        took in pieces) is left out of the last.

        With rotation on, the batch is written under the rotation lock: the processes of `serve
        --workers` append to the one file, and a batch checked against the size another process is
        growing at the same moment would overflow it by a whole batch."""
        written = 0
        runs: list[Landing] = []
        try:
            with self._rotation_lock() if self.max_bytes else contextlib.nullcontext():
                size = self.ensure_current()
                run: list[bytes] = []
                run_bytes = 0
                for line in lines:
                    if self.max_bytes and size + run_bytes + len(line) > self.max_bytes and size + run_bytes > 0:
                        self._land(runs, run, size, written)
                        written += len(run)
                        run, run_bytes = [], 0
                        self._rotate()
                        size = self._size()
                    run.append(line)
                    run_bytes += len(line)
                self._land(runs, run, size, written)
                written += len(run)
        except OSError as exc:
            return written, exc, runs
        return written, None, runs

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None
        if self._dir_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._dir_fd)  # releases a lock still held
            self._dir_fd = None

    def ensure_current(self) -> int:
        """(Re)open when not open, or when the path no longer names the open file; the file's size."""
        if self.fd is not None:
            try:
                on_disk = os.stat(self.path)
            except FileNotFoundError:
                on_disk = None
            if on_disk is not None and (on_disk.st_ino, on_disk.st_dev) == self.ident:
                return on_disk.st_size
            os.close(self.fd)
            self.fd = None
        return self._open()

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        st = os.fstat(self.fd)
        self.ident = (st.st_ino, st.st_dev)
        self._opens += 1
        self.torn = False
        return st.st_size

    @contextlib.contextmanager
    def _rotation_lock(self) -> Iterator[None]:
        """Several processes (`serve --workers`) append to one file: one of them rotates it at a time.

        The lock is taken on the log's directory, so no lock file is left beside the log. The
        directory is opened once and again only after the file had to be reopened (the directory
        may have been replaced with it)."""
        if self._dir_fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._dir_fd = os.open(self.path.parent, os.O_RDONLY | os.O_CLOEXEC)
        lock = self._dir_fd
        fcntl.flock(lock, fcntl.LOCK_EX)
        opens = self._opens
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            if self._opens != opens and self._dir_fd == lock:
                self._dir_fd = None
                os.close(lock)

    def _size(self) -> int:
        assert self.fd is not None
        return os.fstat(self.fd).st_size

    def _land(self, runs: list[Landing], run: list[bytes], size: int, first: int) -> None:
        """Write one run and note where its first line landed: under the rotation lock no other
        process of ours appends, so at the size seen; without it, where the write ended, less its
        length. (A writer of another kind could still slip a line in: the dashboard index checks the
        bytes before it trusts the offset.)"""
        if not run:
            return
        joined = b"".join(run)
        data = b"\n" + joined if self.torn else joined
        self.torn = False
        if self._write_all(data) and self.fd is not None:
            end = size + len(data) if self.max_bytes else os.lseek(self.fd, 0, os.SEEK_CUR)
            runs.append((self.ident, end - len(joined), first, len(run)))

    def _write_all(self, data: bytes) -> bool:
        """Write it all; whether one write did (a regular file takes an append whole, barring errors)."""
        assert self.fd is not None
        view = memoryview(data)
        whole = True
        while view:
            try:
                written = os.write(self.fd, view)
            except OSError:
                self.torn = len(view) < len(data)
                raise
            whole = whole and written == len(view)
            view = view[written:]
        return whole

    def _rotate(self) -> None:
        """path → path.1 → … → path.keep (the oldest is dropped), then a fresh path."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None
        rotated = [self.path.with_name(f"{self.path.name}.{i}") for i in range(1, self.keep + 1)]
        if rotated:
            with contextlib.suppress(FileNotFoundError):
                rotated[-1].unlink()
            for older, newer in zip(reversed(rotated[1:]), reversed(rotated[:-1]), strict=True):
                with contextlib.suppress(FileNotFoundError):
                    newer.rename(older)
            with contextlib.suppress(FileNotFoundError):
                self.path.rename(rotated[0])
        else:
            self.path.unlink(missing_ok=True)
        self._open()


class TraceWriter:
    """Serialises trace records on the event loop and appends them through one dedicated writer thread."""

    def __init__(self, config: TraceConfig, redactor: Redactor | None = None) -> None:
        self.config = config
        self.redactor = redactor or Redactor()
        self._file = _AppendFile(config)
        # A line and the record it holds (None where the line must be parsed to know it).
        self._lines: BatchWriter[tuple[bytes, TraceRecord | None]] = BatchWriter(
            self._append,
            name="axonhub-trace-writer",
            limit=_QUEUE_LIMIT,
            on_start=self._try_open,
            on_stop=self._file.close,
        )
        self._failures = _RateLimitedLog()
        self._dropped_in_thread = 0  # each counter has one writer: no lock needed
        self._dropped_on_loop = 0
        self.written = 0
        self._started = False
        self._closed = False
        # Called on the writer thread after each write with what landed where (the dashboard index
        # takes its own process's records from here instead of parsing their lines again).
        self.on_written: list[Callable[[Written], None]] = []

    @property
    def path(self) -> Path:
        return self._file.path

    @property
    def dropped(self) -> int:
        """Records lost: the file could not be written, or the queue was full, or after close."""
        return self._dropped_in_thread + self._dropped_on_loop

    async def start(self) -> None:
        """Start the writer thread and give it a moment to open the file, so the file exists once the
        server listens (a disk that hangs only delays the start by that moment)."""
        self._lines.start()
        self._started = True
        await asyncio.get_running_loop().run_in_executor(None, self._lines.wait_started, _OPEN_WAIT_S)

    def write(self, record: TraceRecord) -> None:
        """Turn one record into its line and queue it for the writer thread; never blocks, never raises.

        Secrets are hidden as the redactor hides them in the caller's context (the request's own key
        included)."""
        if self._closed or not self._started:
            self._dropped_on_loop += 1
            log.warning("trace record after the writer closed", request_id=record.get("request_id"))
            return
        line = self._line(record, self.redactor.snapshot())
        if line is None:
            return
        if not self._lines.add(line):
            self._dropped_on_loop += 1
            self._failures.error("trace queue full; records dropped", path=str(self.path), dropped=self.dropped)

    async def close(self) -> None:
        """Write everything queued, then close the file."""
        if self._closed:
            return
        self._closed = True
        if not self._started:
            return
        await asyncio.get_running_loop().run_in_executor(None, self._lines.close)

    def _try_open(self) -> None:
        try:
            self._file.ensure_current()
        except OSError as exc:
            self._failures.error("cannot open the trace file", path=str(self.path), error=exc.strerror or str(exc))

    def _line(self, record: Mapping[str, Any], redaction: Redaction) -> tuple[bytes, TraceRecord | None] | None:
        """The line, with the record it holds when that is the record serialised as it is (no last
        redaction pass over the line, no value the standard library had to write)."""
        try:
            kept = apply_body_policy(capped_fields(record, redaction), self.config, redaction)
            if not any(name in kept for name in _BODIES):
                try:
                    return orjson.dumps(kept, default=str, option=orjson.OPT_APPEND_NEWLINE), cast(TraceRecord, kept)
                except TypeError:  # a lone surrogate, a non-string key: serialize() knows what to do
                    pass
            return serialize(kept, redaction, guard=any(name in kept for name in _BODIES)), None
        except (TypeError, ValueError, RecursionError) as exc:
            self._dropped_on_loop += 1
            log.error("trace record not serialisable", error=repr(exc), request_id=record.get("request_id"))
            return None

    def _append(self, batch: list[tuple[bytes, TraceRecord | None]]) -> None:
        lines = [line for line, _ in batch]
        written, error, runs = self._file.append_batch(lines)
        self.written += written
        if self.on_written:
            self._announce(batch, runs)
        if error is None:
            self._failures.recovered(path=str(self.path), dropped=self.dropped)
            return
        self._dropped_in_thread += len(lines) - written
        self._failures.error(
            "cannot write the trace file; record dropped, serving continues",
            path=str(self.path),
            error=error.strerror or str(error),
            dropped=self.dropped,
        )

    def _announce(
        self,
        batch: list[tuple[bytes, TraceRecord | None]],
        runs: list[tuple[tuple[int, int], int, int, int]],
    ) -> None:
        """Tell the listeners where each run of the batch landed (a run not listed is not told)."""
        for file, offset, first, count in runs:
            written = Written(file, offset, batch[first : first + count])
            for listener in self.on_written:
                try:
                    listener(written)
                except Exception as exc:  # a listener must not stop the trace
                    log.error("trace listener failed", error=repr(exc))


TRACE_WRITER = web.AppKey("trace_writer", TraceWriter)


def trace_writer_ctx(
    config: TraceConfig, redactor: Redactor | None = None
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` that opens the writer at start-up and flushes and closes it at shutdown."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        writer = TraceWriter(config, redactor)
        await writer.start()
        app[TRACE_WRITER] = writer
        try:
            yield
        finally:
            await writer.close()
            if writer.dropped:
                log.warning("trace records dropped", path=str(writer.path), dropped=writer.dropped)

    return ctx
