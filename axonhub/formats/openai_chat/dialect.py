"""The HTTP side of OpenAI Chat Completions: calling a channel, reading a relayed stream, ending one.

A request to an OpenAI-compatible channel carries the channel's key as a Bearer token and the
channel's own headers, and goes to `{base_url}/chat/completions`; on the fast path the client's
body goes as it came but for the model and an output token limit above the channel's or the
model's cap, which is lowered to it (`fit`). The side reader of a relayed
stream looks at `data:` lines only as bytes; it JSON-decodes the few that can carry a finish
reason, usage or an error (a cheap byte match finds them), never the many content deltas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from axonhub import __version__, ir
from axonhub.errors import ErrorKind
from axonhub.formats.openai_chat.errors import error_from_payload, error_payload
from axonhub.formats.openai_chat.response import usage_from
from axonhub.formats.spec import Dialect, SSEFrame, Summary
from axonhub.jsonbody import with_model
from axonhub.sse import encode_comment

if TYPE_CHECKING:
    from axonhub.config import Channel

# A chunk worth decoding: a finish reason or usage that is not null, or an error.
_WORTH_DECODING = re.compile(rb'"(?:finish_reason|usage|error)"\s*:\s*[{"]|"object"\s*:\s*"error"')


def url(channel: Channel, endpoint: str, model: str, stream: bool) -> str:
    return f"{channel.base_url}/{endpoint}"


def headers(client_headers: Mapping[str, str], channel: Channel, stream: bool) -> dict[str, str]:
    """The channel's Bearer key and its own headers; nothing of the client's (its key is an AxonHub key)."""
    out = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream" if stream else "application/json",
        "User-Agent": f"axonhub/{__version__}",
    }
    if channel.api_key:
        out["Authorization"] = f"Bearer {channel.api_key}"
    out.update(channel.headers)
    return out


class StreamReader:
    """Reads the finish reason, usage, the upstream's id and errors off an OpenAI Chat stream."""

    def __init__(self) -> None:
        self._buffer = b""
        self.usage: ir.Usage | None = None  # None when the upstream reported none (the client did not ask)
        self.stop_reason: str | None = None
        self.terminated = False
        self.error: tuple[ErrorKind, str] | None = None
        self.upstream_id: str | None = None

    def feed(self, chunk: bytes) -> None:
        *lines, self._buffer = (self._buffer + chunk).split(b"\n")
        for line in lines:
            if line.startswith(b"data:"):
                self._data(line[5:].strip())

    def finish(self) -> None:
        self.feed(b"\n")

    def _data(self, payload: bytes) -> None:
        if payload == b"[DONE]":
            self.terminated = True
            return
        if _WORTH_DECODING.search(payload) is None:
            return
        try:
            chunk = json.loads(payload)
        except ValueError:
            return
        if not isinstance(chunk, dict):
            return
        kind, message = error_from_payload(chunk)
        if kind is not None:
            self.error = (kind, message)
            return
        found = summary(chunk)
        self.upstream_id = found.upstream_id or self.upstream_id
        self.usage = found.usage or self.usage
        self.stop_reason = found.stop_reason or self.stop_reason


def summary(body: Mapping[str, Any]) -> Summary:
    """Usage, finish reason and id of a chat.completion or of one chunk (None where it has none)."""
    raw_usage, upstream_id = body.get("usage"), body.get("id")
    choices = body.get("choices")
    first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], Mapping) else {}
    finish = first.get("finish_reason")
    return Summary(
        usage=usage_from(raw_usage) if isinstance(raw_usage, Mapping) else None,
        stop_reason=finish if isinstance(finish, str) else None,
        upstream_id=upstream_id if isinstance(upstream_id, str) else None,
    )


_TOKEN_FIELDS = ("max_tokens", "max_completion_tokens")


def fit(body: Mapping[str, Any], model: str, channel: Channel) -> dict[str, Any] | None:
    """The client's body with its output token limit under the channel's and the model's cap (a
    DeepSeek model refuses a max_tokens above its own), in the field the client chose; None when it
    is under them already."""
    caps = [c for c in (channel.quirks.output_cap(model) if channel.quirks else None, channel.max_output_tokens) if c]
    if not caps:
        return None
    cap = min(caps)
    over = {f: cap for f in _TOKEN_FIELDS if _int(body.get(f)) is not None and body[f] > cap}
    return {**body, "model": model, **over} if over else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def error_frame(kind: ErrorKind, message: str) -> SSEFrame:
    """A `data: {"error": …}` chunk: the OpenAI SDKs raise it as an APIError."""
    return (None, error_payload(kind, message))


DIALECT = Dialect(
    url=url,
    headers=headers,
    with_model=with_model,
    stream_reader=StreamReader,
    summary=summary,
    error_frame=error_frame,
    terminator=(None, "[DONE]"),
    keepalive=encode_comment("ping"),
    fit=fit,
)
