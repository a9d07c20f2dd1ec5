"""What a wire format hands the request path: its codec, its fast-path dialect, its inbound endpoints.

A format package (`formats/<format>/`) owns everything about its format and never imports the
request path; it exposes one `Format` record, which `formats/registry.py` lists. The request path
(pipeline, relay, transform, dispatch) reaches a format only through these types, so it is the same
code for every format:

- `Codec`: the format's conversions to and from the IR, for both of its roles. As the client's
  format it parses requests and renders answers, streams and errors; as a channel's format it
  renders requests for that channel and decodes its answers, streams and errors. Conversions take
  the IR request they answer (which carries the model name and the client's options) and the
  config `Channel` they render for, nothing else.
- `Dialect`: the HTTP side of the format: where and with which headers a channel of it is called,
  how a stream of it is read on the side while relayed, and how such a stream is ended (its error
  frame, its terminator, its keep-alive).
- `Endpoint`: one inbound route of the format, with the checks its bodies must pass at the boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from axonhub import ir
from axonhub.errors import ErrorKind, GatewayError, UpstreamError
from axonhub.sse import ServerSentEvent

if TYPE_CHECKING:
    from axonhub.config import Channel


class WireFormat(StrEnum):
    """Every wire format AxonHub speaks; `formats/registry.py` maps each to its `Format`."""

    ANTHROPIC = "anthropic"
    OPENAI_CHAT = "openai_chat"


# (SSE event name or None, payload) as `axonhub.sse.encode_event` writes it
SSEFrame = tuple[str | None, Any]


class StreamDecoder(Protocol):
    """Upstream SSE events of one format → IR stream events. IO-free."""

    def feed(self, sse: ServerSentEvent) -> list[ir.StreamEvent]: ...

    def finish(self) -> list[ir.StreamEvent]: ...


class StreamEncoder(Protocol):
    """IR stream events → SSE frames of one format. IO-free."""

    def feed(self, event: ir.StreamEvent) -> Sequence[SSEFrame]: ...

    def finish(self) -> Sequence[SSEFrame]: ...


class Codec(Protocol):
    """One wire format to and from the IR, in both roles. Stateless: one instance serves every request."""

    # --- as the client's format
    def parse_request(self, body: Mapping[str, Any]) -> ir.Request: ...

    def render_response(self, response: ir.Response, request: ir.Request) -> dict[str, Any]: ...

    def stream_encoder(self, request: ir.Request) -> StreamEncoder: ...

    def stop_reason_name(self, reason: ir.StopReason) -> str:
        """The stop reason as this format's clients see it (what the trace records)."""
        ...

    def render_error(self, err: GatewayError, message: str, request_id: str) -> tuple[int, dict[str, Any]]:
        """The status and body a client of this format gets for `err`, reading `message`."""
        ...

    # --- as a channel's format
    def render_request(self, request: ir.Request, channel: Channel) -> dict[str, Any]: ...

    def parse_response(self, body: Mapping[str, Any], request: ir.Request) -> ir.Response: ...

    def stream_decoder(self, request: ir.Request) -> StreamDecoder: ...

    def parse_error(self, status: int, raw: bytes, channel: str) -> UpstreamError: ...

    def error_in_answer(self, body: Mapping[str, Any]) -> tuple[ErrorKind, str] | None:
        """The class and message of an error object sent as a 2xx answer's body; None for a real answer."""
        ...


@dataclass(frozen=True, slots=True)
class Summary:
    """What the trace needs from a whole answer relayed on the fast path."""

    usage: ir.Usage | None = None
    stop_reason: str | None = None
    upstream_id: str | None = None


class StreamReader(Protocol):
    """A side reader over a relayed stream: what the trace needs, read without slowing the relay."""

    stop_reason: str | None
    terminated: bool  # the stream's own terminator came
    error: tuple[ErrorKind, str] | None  # an error event the upstream sent in the stream
    upstream_id: str | None
    usage: ir.Usage | None

    def feed(self, chunk: bytes) -> None: ...

    def finish(self) -> None:
        """The upstream ended: read what is left as if its last event were terminated."""
        ...


@dataclass(frozen=True, slots=True)
class Dialect:
    """The HTTP side of a wire format."""

    # (channel, endpoint, upstream model, stream) -> the URL a request for that endpoint goes to
    url: Callable[[Channel, str, str, bool], str]
    # (client headers, channel, stream) -> the headers of an upstream request on that channel
    headers: Callable[[Mapping[str, str], Channel, bool], dict[str, str]]
    # (raw body, parsed body, upstream model) -> the client's body as it goes to the channel (fast path)
    with_model: Callable[[bytes, dict[str, Any], str], bytes]
    stream_reader: Callable[[], StreamReader]
    summary: Callable[[Mapping[str, Any]], Summary]
    # (kind, message) -> the SSE bytes that tell a client of this format its stream failed
    error_frame: Callable[[ErrorKind, str], bytes]
    terminator: bytes  # what a complete stream of this format ends with
    keepalive: bytes  # what a client of this format is sent while the upstream is quiet


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One inbound route of a format.

    `name` is the endpoint the request maps to on a channel of the same format. `check` raises
    InvalidRequest, naming the field, for a body no channel should be sent; it runs at the boundary,
    before a channel is chosen. An endpoint with `local_answer` is served upstream only by channels
    of its own format; for a model no such channel serves, the gateway answers it itself.
    """

    name: str
    kind: str  # the trace's `kind`
    paths: tuple[str, ...]
    check: Callable[[Mapping[str, Any]], None]
    local_answer: Callable[[ir.Request], dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class Format:
    wire: WireFormat
    codec: Codec
    dialect: Dialect
    endpoints: tuple[Endpoint, ...]
    generate: str  # the endpoint a model request translated from another format goes to on its channels
    channel_types: tuple[str, ...]  # the config's channel `type`s that speak this format
    path_prefixes: tuple[str, ...]  # paths that speak this format even when no route matches them
    claiming_headers: tuple[str, ...] = ()  # on shared paths (/v1/models, unknown ones): headers only its clients send
    sessions: bool = False  # its clients name their session in headers the trace groups by
