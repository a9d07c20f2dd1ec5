"""The HTTP side of Anthropic Messages: calling a channel, reading a relayed stream, ending one.

A request to an Anthropic channel carries the channel's key as `x-api-key` and the client's own
`anthropic-version` and `anthropic-beta` (which switch features such as the 1M context on), and its
User-Agent; a body a profile sends to a Claude model of another generation gets its thinking in the
shape that model takes (`generations`). The side reader of a relayed stream decodes only the events
that carry what the trace needs (`message_start`, `message_delta`, `message_stop`, `error`); every
delta is passed over unparsed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from axonhub import ir
from axonhub.errors import ErrorKind
from axonhub.formats.anthropic import errors
from axonhub.formats.anthropic.generations import fit_thinking
from axonhub.formats.anthropic.response import usage_from
from axonhub.formats.spec import Dialect, SSEFrame, Summary
from axonhub.jsonbody import with_model
from axonhub.sse import EventPicker, encode_event

if TYPE_CHECKING:
    from axonhub.config import Channel

DEFAULT_ANTHROPIC_VERSION = "2023-06-01"
# A thinking block signed with a gateway carrier (reasoning another provider produced): Anthropic
# rejects it, so such a request is translated rather than forwarded.
_CARRIER_SIGNATURE = re.compile(rb'"signature"\s*:\s*"gw1\.')


def fit(body: Mapping[str, Any], model: str, channel: Channel) -> dict[str, Any] | None:
    """The client's body for `model` with its thinking and effort reshaped, where a profile sends it to
    a Claude model of another generation than the one it named; None when it goes as it came."""
    fitted = fit_thinking(body, model) if body.get("model") != model else None
    return None if fitted is None else {**fitted, "model": model}


def url(channel: Channel, endpoint: str, model: str, stream: bool) -> str:
    return f"{channel.base_url}/v1/{endpoint}"


def headers(client_headers: Mapping[str, str], channel: Channel, stream: bool) -> dict[str, str]:
    """The channel's auth, the client's version and betas (forwarded unchanged), and its User-Agent."""
    out = {
        "Content-Type": "application/json",
        "Accept": client_headers.get("Accept", "text/event-stream" if stream else "application/json"),
        "anthropic-version": client_headers.get("anthropic-version", DEFAULT_ANTHROPIC_VERSION),
    }
    beta = client_headers.get("anthropic-beta")
    if beta:
        out["anthropic-beta"] = beta
    agent = client_headers.get("User-Agent")
    if agent:
        out["User-Agent"] = agent
    if channel.api_key:
        out["x-api-key"] = channel.api_key
    out.update(channel.headers)
    return out


class StreamReader:
    """Reads usage, stop reason, the upstream's id and errors off an Anthropic stream passing through."""

    def __init__(self) -> None:
        self._picker = EventPicker(frozenset({"message_start", "message_delta", "message_stop", "error"}))
        self.usage: ir.Usage | None = None
        self.stop_reason: str | None = None
        self.terminated = False
        self.error: tuple[ErrorKind, str] | None = None
        self.upstream_id: str | None = None

    def feed(self, chunk: bytes) -> None:
        for event in self._picker.feed(chunk):
            self._event(event.event, event.data)

    def finish(self) -> None:
        self.feed(b"\n\n")

    def _event(self, name: str | None, data: str) -> None:
        try:
            payload = json.loads(data)
        except ValueError:
            return
        if not isinstance(payload, dict):
            return
        if name == "message_start":
            message = payload.get("message")
            message = message if isinstance(message, dict) else {}
            self.usage = usage_from(message.get("usage"), self.usage)
            self.upstream_id = message.get("id") if isinstance(message.get("id"), str) else None
        elif name == "message_delta":
            self.usage = usage_from(payload.get("usage"), self.usage)
            delta = payload.get("delta")
            stop_reason = delta.get("stop_reason") if isinstance(delta, dict) else None
            self.stop_reason = stop_reason if isinstance(stop_reason, str) else self.stop_reason
        elif name == "message_stop":
            self.terminated = True
        elif name == "error":
            self.error = errors.error_in_object(payload) or (ErrorKind.SERVER, "upstream stream error")


def summary(message: Mapping[str, Any]) -> Summary:
    """Usage, stop reason and id of a whole Anthropic message."""
    stop_reason, upstream_id = message.get("stop_reason"), message.get("id")
    return Summary(
        usage=usage_from(message.get("usage")),
        stop_reason=stop_reason if isinstance(stop_reason, str) else None,
        upstream_id=upstream_id if isinstance(upstream_id, str) else None,
    )


def error_frame(kind: ErrorKind, message: str) -> SSEFrame:
    return ("error", errors.error_event(kind, message))


def foreign_reasoning(raw: bytes) -> bool:
    """Does the body hold a thinking block signed by the gateway (another provider's reasoning)?"""
    return b'"gw1.' in raw and _CARRIER_SIGNATURE.search(raw) is not None


DIALECT = Dialect(
    url=url,
    headers=headers,
    with_model=with_model,
    stream_reader=StreamReader,
    summary=summary,
    error_frame=error_frame,
    terminator=("message_stop", {"type": "message_stop"}),
    keepalive=encode_event("ping", {"type": "ping"}),
    foreign_reasoning=foreign_reasoning,
    fit=fit,
)
