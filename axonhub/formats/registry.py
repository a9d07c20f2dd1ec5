"""Which codec speaks each wire format, and which wire format each channel type speaks: plain dicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from axonhub import ir
from axonhub.errors import ErrorKind, GatewayError, UpstreamError
from axonhub.formats.anthropic.codec import CODEC as ANTHROPIC
from axonhub.formats.openai_chat.codec import CODEC as OPENAI_CHAT
from axonhub.formats.quirks import Quirks
from axonhub.sse import ServerSentEvent


class StreamDecoder(Protocol):
    """Upstream SSE events of one format → IR stream events."""

    def feed(self, sse: ServerSentEvent) -> list[ir.StreamEvent]: ...

    def finish(self) -> list[ir.StreamEvent]: ...


class StreamEncoder(Protocol):
    """IR stream events → (SSE event name or None, payload) pairs for `axonhub.sse.encode_event`."""

    def feed(self, event: ir.StreamEvent) -> Sequence[tuple[str | None, Any]]: ...

    def finish(self) -> Sequence[tuple[str | None, Any]]: ...


class Codec(Protocol):
    name: str

    def parse_request(self, body: Mapping[str, Any]) -> ir.Request: ...

    def render_request(
        self, req: ir.Request, quirks: Quirks | None = None, max_output_tokens: int | None = None
    ) -> dict[str, Any]: ...

    def parse_response(self, body: Mapping[str, Any], model: str = "") -> ir.Response: ...

    def render_response(self, resp: ir.Response, client_model: str) -> dict[str, Any]: ...

    def stream_decoder(self, model: str = "", input_estimate: int = 0) -> StreamDecoder: ...

    def stream_encoder(self, client_model: str, include_usage: bool = True) -> StreamEncoder: ...

    def stop_reason_name(self, reason: ir.StopReason) -> str: ...

    def render_error(
        self, err: GatewayError, message: str, request_id: str | None = None
    ) -> tuple[int, dict[str, Any]]: ...

    def error_in_answer(self, body: Mapping[str, Any]) -> tuple[ErrorKind, str] | None:
        """The class and message of an error object sent as a 200 answer's body; None for a real answer."""

    def parse_error(self, status: int, raw: bytes, channel: str = "") -> UpstreamError: ...


CODECS: dict[str, Codec] = {
    "anthropic": ANTHROPIC,
    "openai_chat": OPENAI_CHAT,
}

# channel type -> the wire format its upstream speaks
CHANNEL_FORMATS: dict[str, str] = {
    "anthropic": "anthropic",
    "openai": "openai_chat",
    "deepseek": "openai_chat",
    "openrouter": "openai_chat",
    "moonshot": "openai_chat",
}
