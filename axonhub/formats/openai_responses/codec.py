"""The OpenAI Responses codec: the format's request, response, stream and error converters as one object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from axonhub import ir
from axonhub.errors import ErrorKind, GatewayError, UpstreamError
from axonhub.formats.openai_responses import errors, render, request, response, stream

if TYPE_CHECKING:
    from axonhub.config import Channel


class OpenAIResponsesCodec:
    """Converts OpenAI Responses to and from the IR; stateless, so one instance serves every request."""

    def parse_request(self, body: Mapping[str, Any]) -> ir.Request:
        return request.parse_request(body)

    def render_response(self, answer: ir.Response, req: ir.Request) -> dict[str, Any]:
        return response.render_response(answer, req)

    def stream_encoder(self, req: ir.Request) -> stream.StreamEncoder:
        return stream.StreamEncoder(req)

    def stop_reason_name(self, reason: ir.StopReason) -> str:
        return response.stop_reason_name(reason)

    def render_error(self, err: GatewayError, message: str, request_id: str) -> tuple[int, dict[str, Any]]:
        return errors.render_error(err, message)

    def render_request(self, req: ir.Request, channel: Channel) -> dict[str, Any]:
        return render.render_request(req, channel.max_output_tokens)

    def parse_response(self, body: Mapping[str, Any], req: ir.Request) -> ir.Response:
        return response.parse_response(body, req.model)

    def stream_decoder(self, req: ir.Request) -> stream.StreamDecoder:
        return stream.StreamDecoder(req.model)

    def parse_error(self, status: int, raw: bytes, channel: str) -> UpstreamError:
        return errors.parse_error(status, raw, channel)

    def error_in_answer(self, body: Mapping[str, Any]) -> tuple[ErrorKind, str] | None:
        return errors.error_in_answer(body)


CODEC = OpenAIResponsesCodec()
