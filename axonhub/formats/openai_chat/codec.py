"""The OpenAI Chat Completions codec: the format's request, response, stream and error converters as one object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from axonhub import ir
from axonhub.errors import ErrorKind, GatewayError, UpstreamError
from axonhub.formats.openai_chat import errors, request, response, stream
from axonhub.formats.openai_chat.quirks import quirks_for
from axonhub.tokens import estimate_request_tokens

if TYPE_CHECKING:
    from axonhub.config import Channel


class OpenAIChatCodec:
    """Converts OpenAI Chat Completions to and from the IR; stateless, so one instance serves every request."""

    def parse_request(self, body: Mapping[str, Any]) -> ir.Request:
        return request.parse_request(body)

    def render_response(self, answer: ir.Response, req: ir.Request) -> dict[str, Any]:
        return response.render_response(answer, req.model)

    def stream_encoder(self, req: ir.Request) -> stream.StreamEncoder:
        return stream.StreamEncoder(req.model, include_usage=req.stream_usage)

    def stop_reason_name(self, reason: ir.StopReason) -> str:
        return response.finish_reason_name(reason)

    def render_error(self, err: GatewayError, message: str, request_id: str) -> tuple[int, dict[str, Any]]:
        return errors.render_error(err, message)

    def render_request(self, req: ir.Request, channel: Channel) -> dict[str, Any]:
        quirks = channel.quirks or quirks_for(channel.type)
        return request.render_request(req, quirks, channel.max_output_tokens)

    def parse_response(self, body: Mapping[str, Any], req: ir.Request) -> ir.Response:
        return response.parse_response(body, req.model)

    def stream_decoder(self, req: ir.Request) -> stream.StreamDecoder:
        # OpenAI-compatible streams may carry no usage: the input estimate stands in for it.
        return stream.StreamDecoder(req.model, estimate_request_tokens(req))

    def parse_error(self, status: int, raw: bytes, channel: str) -> UpstreamError:
        return errors.parse_error(status, raw, channel)

    def error_in_answer(self, body: Mapping[str, Any]) -> tuple[ErrorKind, str] | None:
        kind, message = errors.error_from_payload(body)
        return (kind, message) if kind is not None else None


CODEC = OpenAIChatCodec()
