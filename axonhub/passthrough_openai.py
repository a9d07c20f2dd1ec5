"""The fast path's OpenAI Chat dialect: an OpenAI Chat client on an OpenAI-compatible channel.

The client's body goes upstream with only the model name replaced (`stream_options` and every field
AxonHub does not model included), with the channel's Bearer key and headers. The side reader looks
at `data:` lines only as bytes; it JSON-decodes the few that can carry a finish reason, usage or an
error (a cheap byte match finds them), never the many content deltas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from axonhub import __version__
from axonhub.errors import ErrorKind
from axonhub.exchange import Usage
from axonhub.formats.openai_chat.errors import error_from_payload, error_payload, parse_error
from axonhub.formats.openai_chat.response import usage_from
from axonhub.passthrough import Dialect, with_model
from axonhub.profiles import Candidate
from axonhub.sse import encode_event
from axonhub.upstream.client import UpstreamCall

# A chunk worth decoding: a finish reason or usage that is not null, or an error.
_WORTH_DECODING = re.compile(rb'"(?:finish_reason|usage|error)"\s*:\s*[{"]|"object"\s*:\s*"error"')


def openai_headers(candidate: Candidate, stream: bool) -> dict[str, str]:
    """Headers for an OpenAI-compatible upstream: the channel's Bearer key and its own headers."""
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream" if stream else "application/json",
        "User-Agent": f"axonhub/{__version__}",
    }
    if candidate.channel.api_key:
        headers["Authorization"] = f"Bearer {candidate.channel.api_key}"
    headers.update(candidate.channel.headers)
    return headers


def openai_call(
    candidate: Candidate, endpoint: str, client_headers: Mapping[str, str], raw: bytes, body: dict[str, Any]
) -> UpstreamCall:
    """The client's bytes with the channel's model name, to `{base_url}/{endpoint}`."""
    return UpstreamCall(
        url=f"{candidate.channel.base_url}/{endpoint}",
        headers=openai_headers(candidate, body.get("stream") is True),
        body=with_model(raw, body, candidate.upstream_model),
    )


class OpenAIStreamReader:
    """Reads the finish reason, usage and errors off an OpenAI Chat stream passing through."""

    def __init__(self) -> None:
        self._buffer = b""
        self._usage: Usage | None = None
        self.stop_reason: str | None = None
        self.terminated = False
        self.error: dict[str, Any] | None = None
        self.upstream_id: str | None = None

    def feed(self, chunk: bytes) -> None:
        *lines, self._buffer = (self._buffer + chunk).split(b"\n")
        for line in lines:
            if line.startswith(b"data:"):
                self._data(line[5:].strip())

    def finish(self) -> None:
        self.feed(b"\n")

    def trace_usage(self) -> Usage | None:
        """The usage the upstream reported; None when it sent none (the client did not ask)."""
        return self._usage

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
            self.error = {"type": kind.value, "message": message}
            return
        upstream_id = chunk.get("id")
        self.upstream_id = upstream_id if isinstance(upstream_id, str) else self.upstream_id
        usage, stop_reason = openai_summary(chunk)
        self._usage = usage or self._usage
        self.stop_reason = stop_reason or self.stop_reason


def openai_summary(body: Mapping[str, Any]) -> tuple[Usage | None, str | None]:
    """Usage and finish reason of a chat.completion or of one chunk (None where it has none)."""
    raw_usage = body.get("usage")
    usage = Usage.from_ir(usage_from(raw_usage)) if isinstance(raw_usage, Mapping) else None
    choices = body.get("choices")
    first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], Mapping) else {}
    finish = first.get("finish_reason")
    return usage, finish if isinstance(finish, str) else None


def openai_error_frame(kind: ErrorKind, message: str) -> bytes:
    """A `data: {"error": …}` chunk: the OpenAI SDKs raise it as an APIError."""
    return encode_event(None, error_payload(kind, message))


OPENAI_CHAT = Dialect(
    name="openai_chat",
    call=openai_call,
    parse_error=parse_error,
    stream_reader=OpenAIStreamReader,
    summary=openai_summary,
    error_frame=openai_error_frame,
    terminator=encode_event(None, "[DONE]"),
)
