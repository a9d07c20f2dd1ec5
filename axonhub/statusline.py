"""What AxonHub serves one Claude Code session, as one status-line text, read from the trace.

Claude Code runs its `statusLine` command after every assistant message (at most every 300 ms)
with a JSON object on stdin: `session_id`, `transcript_path`, `cwd`, `model {id, display_name}`,
`workspace`, `version`, `cost`, … Its model and cost are Claude Code's own idea (an Opus name at
Anthropic prices, while DeepSeek answers). This reads the gateway's trace instead: the records whose
`trace_id` is the session id (the gateway groups a Claude Code session so with
`claude_code_trace_enabled`), else the launch's trace id `axonhub run` put in the environment.

    deepseek-reasoner @ deepseek · in 12.3k out 4.1k cached 88k · $0.0123

The resolved model and channel are the last model call's; tokens are what upstreams reported
(count_tokens estimates never count); cost uses the config's `pricing`.

It must be quick at every call, also on a large trace log: a small cache per session
(`~/.cache/axonhub/statusline/`) keeps how far each trace file was read (by inode, so rotation is
followed) and the totals so far, and the trace path and prices the config gave (re-read when the
config file changes). Each call then reads only the lines added since the last one, and parses
only those that mention the session.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axonhub.trace_reader import parse_line, trace_files
from axonhub.trace_record import MODEL_CALLS, TraceRecord

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
TOKEN_NAMES = ("input", "output", "cache_read", "cache_write")
CACHE_VERSION = 1
READ_BLOCK = 1 << 20


@dataclass(slots=True)
class SessionState:
    """What the cache keeps per session: read positions, token totals per model, the last call."""

    offsets: dict[str, int] = field(default_factory=dict)  # "inode:device" -> bytes read
    models: dict[str, dict[str, int]] = field(default_factory=dict)  # resolved model -> token totals
    last: dict[str, Any] = field(default_factory=dict)  # resolved_model, channel, status, error
    calls: int = 0
    config_signature: list[int] = field(default_factory=list)
    trace_path: str = ""
    pricing: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "version": CACHE_VERSION,
            "offsets": self.offsets,
            "models": self.models,
            "last": self.last,
            "calls": self.calls,
            "config_signature": self.config_signature,
            "trace_path": self.trace_path,
            "pricing": self.pricing,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionState:
        if data.get("version") != CACHE_VERSION:
            return cls()
        return cls(
            offsets=dict(data.get("offsets") or {}),
            models={k: dict(v) for k, v in (data.get("models") or {}).items()},
            last=dict(data.get("last") or {}),
            calls=int(data.get("calls") or 0),
            config_signature=list(data.get("config_signature") or []),
            trace_path=str(data.get("trace_path") or ""),
            pricing={k: dict(v) for k, v in (data.get("pricing") or {}).items()},
        )

    def add(self, record: TraceRecord) -> None:
        """Count one trace record of the session: model calls only, upstream usage only."""
        if record.get("kind") not in MODEL_CALLS:
            return
        self.calls += 1
        model = str(record.get("resolved_model") or record.get("requested_model") or "?")
        self.last = {
            "resolved_model": model,
            "channel": record.get("channel"),
            "status": record.get("status"),
            "error": error["type"] if (error := record.get("error")) else None,
        }
        usage = record.get("usage")
        if isinstance(usage, Mapping):
            totals = self.models.setdefault(model, dict.fromkeys(TOKEN_NAMES, 0))
            for name in TOKEN_NAMES:
                value = usage.get(name)
                totals[name] += value if isinstance(value, int) else 0


def session_key(session_id: str) -> str:
    """A file name for the session: the id itself when it is safe, else its hash."""
    return session_id if _SAFE_ID.match(session_id) else hashlib.sha256(session_id.encode()).hexdigest()


def load_state(path: Path) -> SessionState:
    try:
        return SessionState.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, AttributeError):
        return SessionState()


def save_state(path: Path, state: SessionState) -> None:
    """Best effort: a cache that cannot be written only makes the next call slower."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(state.as_json(), out)
        os.replace(tmp, path)


def read_new(state: SessionState, trace_path: Path, trace_ids: tuple[str, ...]) -> None:
    """Add the session's records written since the last call (rotated files too) to `state`."""
    needles = [f'"trace_id":"{t}"'.encode() for t in trace_ids if t]
    seen: dict[str, int] = {}
    for file in trace_files(trace_path):
        try:
            handle = file.open("rb")
        except OSError:
            continue
        with handle:
            info = os.fstat(handle.fileno())
            ident = f"{info.st_ino}:{info.st_dev}"
            offset = state.offsets.get(ident, 0)
            if offset > info.st_size:
                offset = 0  # truncated in place
            handle.seek(offset)
            seen[ident] = offset + _scan(handle, needles, trace_ids, state)
    state.offsets = seen  # files gone (rotated away for good) are forgotten


def _scan(handle: Any, needles: list[bytes], trace_ids: tuple[str, ...], state: SessionState) -> int:
    """Read to the end in blocks; count the session's complete lines; return the bytes consumed."""
    consumed, pending = 0, b""
    while block := handle.read(READ_BLOCK):
        data = pending + block
        complete = data.rfind(b"\n") + 1  # a line still being written is read next time
        for line in data[:complete].split(b"\n"):
            if any(needle in line for needle in needles):
                record = parse_line(line)
                if record is not None and record.get("trace_id") in trace_ids:
                    state.add(record)
        consumed += complete
        pending = data[complete:]
    return consumed


def cost(state: SessionState) -> float | None:
    """USD so far at the config's prices; None when no model with usage has a price."""
    total, priced = 0.0, False
    for model, tokens in state.models.items():
        price = state.pricing.get(model)
        if price is None:
            continue
        priced = True
        total += sum(tokens[name] * float(price.get(name, 0.0)) for name in TOKEN_NAMES) / 1_000_000
    return total if priced else None


def short_count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)


def render(state: SessionState) -> str:
    """The status line's text."""
    if not state.calls:
        return "AxonHub · no requests yet this session"
    last = state.last
    where = f"{last.get('resolved_model')} @ {last.get('channel')}" if last.get("channel") else last["resolved_model"]
    if isinstance(last.get("status"), int) and last["status"] >= 400:
        where += f" (last: {last['status']} {last.get('error') or 'error'})"
    totals = {name: sum(t[name] for t in state.models.values()) for name in TOKEN_NAMES}
    tokens = f"in {short_count(totals['input'])} out {short_count(totals['output'])}"
    cached = totals["cache_read"]
    if cached:
        tokens += f" cached {short_count(cached)}"
    spent = cost(state)
    money = f"${spent:.4f}" if spent is not None else "no price"
    return f"{where} · {tokens} · {money}"
