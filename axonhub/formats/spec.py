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
- `Endpoint`: one inbound route of the format, with the checks its bodies must pass at the boundary,
  and where its request names the model and whether it streams (the body, or the route itself).
- `Counting`: how a format counts a request's tokens, as a channel (its counting endpoint) and as a
  client's format (the answer its clients read).
- `Continuation`: for an endpoint whose requests may continue an earlier answer by its id (server-side
  conversation state), how to find that id, splice the remembered conversation in, and what to
  remember of each answer.
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


class Framing(StrEnum):
    """How a streamed answer is framed on the wire for a client."""

    SSE = "sse"  # server-sent events
    JSON_ARRAY = "json_array"  # one JSON array whose elements arrive one by one (Gemini without `alt=sse`)


class WireFormat(StrEnum):
    """Every wire format AxonHub speaks; `formats/registry.py` maps each to its `Format`."""

    ANTHROPIC = "anthropic"
    OPENAI_CHAT = "openai_chat"
    OPENAI_RESPONSES = "openai_responses"
    GEMINI = "gemini"


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


def never(raw: bytes) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Dialect:
    """The HTTP side of a wire format.

    A channel's streams are always read as SSE: `url` asks for them that way whatever framing the
    client asked for (the relay re-frames what it forwards). The model is spliced into the body by
    `with_model` only where the format carries it there; a format whose URL names the model leaves
    the body as it came.
    """

    # (channel, endpoint, upstream model, stream) -> the URL a request for that endpoint goes to
    url: Callable[[Channel, str, str, bool], str]
    # (client headers, channel, stream) -> the headers of an upstream request on that channel
    headers: Callable[[Mapping[str, str], Channel, bool], dict[str, str]]
    # (raw body, parsed body, upstream model) -> the client's body as it goes to the channel (fast path)
    with_model: Callable[[bytes, dict[str, Any], str], bytes]
    stream_reader: Callable[[], StreamReader]
    summary: Callable[[Mapping[str, Any]], Summary]
    # (kind, message) -> the frame that tells a client of this format its stream failed
    error_frame: Callable[[ErrorKind, str], SSEFrame]
    terminator: SSEFrame | None  # what a complete stream of this format ends with (None: its end of body)
    keepalive: bytes  # what an SSE client of this format is sent while the upstream is quiet
    # (the relayed stream's reader, kind, message) -> the error frame that continues that stream, for
    # formats whose events are numbered or name their answer (a bare `error_frame` could not); when
    # set, the fast path ends a failed relayed stream with it instead of `error_frame`
    continued_error_frame: Callable[[StreamReader, ErrorKind, str], SSEFrame] | None = None
    # raw body -> whether it carries reasoning the gateway wrapped for clients of this format when
    # another provider produced it (its `gw1.` carriers), which this format's own channels would
    # reject: such a request takes the IR transform even on a channel of its own format, and the
    # foreign reasoning stays behind (a key whose profile switched providers mid-conversation)
    foreign_reasoning: Callable[[bytes], bool] = never
    # (parsed body, upstream model, channel) -> the client's body as that channel takes it, model
    # included, or None when it takes it as it came: the fast path's one concession to a channel's
    # declared limits (a max_tokens above the model's cap would be the upstream's 400)
    fit: Callable[[Mapping[str, Any], str, Channel], dict[str, Any] | None] | None = None


class AnswerWitness(Protocol):
    """Keeps the whole answer a client receives: a JSON answer as it is, a stream read as it is written
    (as SSE, whatever framing the client reads it in)."""

    answer: Mapping[str, Any] | None  # the whole answer once known; None for a failed or unfinished one

    def feed(self, chunk: bytes) -> None:
        """Bytes of the stream as they are written to the client."""
        ...


@dataclass(frozen=True, slots=True)
class Continuation:
    """Server-side conversation state for an endpoint whose requests may continue an earlier answer.

    The gateway remembers the conversation behind each answer it served (per key, bounded, in memory)
    and splices it into a later request that names that answer, so every channel, the same-format fast
    path included, receives a self-contained request. All functions are pure.
    """

    # body -> the id of the earlier answer the request continues; None for a request that continues none
    previous: Callable[[Mapping[str, Any]], str | None]
    # (body, the remembered conversation) -> the body with that conversation in place of the reference
    splice: Callable[[Mapping[str, Any], Sequence[Any]], dict[str, Any]]
    # id -> the error a client gets for an id the gateway does not hold (never served, evicted, restarted)
    unknown: Callable[[str], GatewayError]
    # (the request as served, the whole answer) -> (the answer's id, the whole conversation so far);
    # None when the answer is not to be remembered (the client asked not to store it)
    remember: Callable[[Mapping[str, Any], Mapping[str, Any]], tuple[str, tuple[Any, ...]] | None]
    # body -> a fresh witness for the request's answer; None when its answer will not be remembered
    witness: Callable[[Mapping[str, Any]], AnswerWitness | None]


def sse_framing(query: Mapping[str, str]) -> Framing:
    return Framing.SSE


@dataclass(frozen=True, slots=True)
class Traits:
    """What routing rules (`when:`) ask of a request, read straight off a body of this format.

    Cheap reads of the raw body, so routing by them costs no IR parse; none may raise on a body of
    the wrong shape (routing runs after the boundary check, but a format's check is not its parse).
    """

    asks_thinking: Callable[[Mapping[str, Any]], bool]  # the client asked for reasoning
    has_images: Callable[[Mapping[str, Any]], bool]  # an image anywhere in the conversation
    offered_tools: Callable[[Mapping[str, Any]], frozenset[str]]  # tool names and server tool types, lowercased


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One inbound route of a format.

    `name` is the endpoint the request maps to on a channel of the same format. `check` raises
    InvalidRequest, naming the field, for a body no channel should be sent; it runs at the boundary,
    before a channel is chosen. The requested model is the body's `model`, or the path parameter
    `model_param` where the route names it (`/models/{model}:generateContent`); the request streams
    when its body says `"stream": true`, or always or never where the route decides (`stream`).
    `framing` picks, from the query, how a streamed answer is framed for the client.

    A `counts` endpoint asks for a token count: channels whose format counts tokens serve it (their
    own format on the fast path, another format through its counting endpoint); for a model none of
    them serves, the gateway answers with its own estimate, in the client's format. An endpoint with
    a `continuation` may continue an earlier answer by its id (see `Continuation`).
    """

    name: str
    kind: str  # the trace's `kind`
    paths: tuple[str, ...]
    check: Callable[[Mapping[str, Any]], None]
    counts: bool = False
    model_param: str | None = None
    stream: bool | None = None  # None: the body's `stream` field decides
    framing: Callable[[Mapping[str, str]], Framing] = sse_framing
    continuation: Continuation | None = None


@dataclass(frozen=True, slots=True)
class Counting:
    """How a format counts tokens: as a channel, through its counting endpoint; as a client's format,
    the answer its clients read."""

    endpoint: str  # the counting endpoint on a channel of this format (as `Dialect.url` names it)
    # (IR request, channel) -> the body of a count request to a channel of this format
    render_request: Callable[[ir.Request, Channel], dict[str, Any]]
    read_answer: Callable[[Mapping[str, Any]], int | None]  # a channel's count answer -> its input tokens
    render_answer: Callable[[int], dict[str, Any]]  # input tokens -> the answer a client of this format reads


def count_in(answer: Mapping[str, Any], field: str) -> int | None:
    """A channel's count answer's token count under `field`, when it is a whole number of at least 0."""
    tokens = answer.get(field)
    return tokens if type(tokens) is int and tokens >= 0 else None


@dataclass(frozen=True, slots=True)
class ModelList:
    """`GET …/models` and `GET …/models/{model}` in a format's own shape."""

    paths: tuple[str, ...]  # may be shared with other formats: the request's format picks the shape
    # (the model ids the caller can reach, the request's query) -> the body
    render: Callable[[list[str], Mapping[str, str]], dict[str, Any]]
    render_one: Callable[[str], dict[str, Any]]  # a model id -> the object `GET …/models/{model}` answers


@dataclass(frozen=True, slots=True)
class Format:
    wire: WireFormat
    codec: Codec
    dialect: Dialect
    endpoints: tuple[Endpoint, ...]
    generate: str  # the endpoint a model request translated from another format goes to on its channels
    traits: Traits
    channel_types: tuple[str, ...]  # the config's channel `type`s that speak this format
    path_prefixes: tuple[str, ...]  # paths that speak this format even when no route matches them
    claiming_headers: tuple[str, ...] = ()  # on shared paths (/v1/models, unknown ones): headers only its clients send
    sessions: bool = False  # its clients name their session in headers the trace groups by
    # Where its clients put their AxonHub key (besides `Authorization: Bearer`, which every format takes):
    key_headers: tuple[str, ...] = ("x-api-key",)
    key_params: tuple[str, ...] = ()  # query parameters (`?key=`)
    counting: Counting | None = None
    models: ModelList | None = None
