"""The OpenAI Chat Completions codec: one object bundling its request, response, stream and error converters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axonhub import ir
from axonhub.errors import ErrorKind, GatewayError, UpstreamError
from axonhub.formats.openai_chat import errors, request, response, stream
from axonhub.formats.quirks import Quirks

FORMAT = errors.FORMAT


class OpenAIChatCodec:
    """Converts OpenAI Chat Completions to and from the IR; stateless, so one instance serves every request."""

    name = FORMAT

    def parse_request(self, body: Mapping[str, Any]) -> ir.Request:
        return request.parse_request(body)

    def render_request(
        self, req: ir.Request, quirks: Quirks | None = None, max_output_tokens: int | None = None
    ) -> dict[str, Any]:
        return request.render_request(req, quirks, max_output_tokens)

    def parse_response(self, body: Mapping[str, Any], model: str = "") -> ir.Response:
        return response.parse_response(body, model)

    def render_response(self, resp: ir.Response, client_model: str) -> dict[str, Any]:
        return response.render_response(resp, client_model)

    def stream_decoder(self, model: str = "", input_estimate: int = 0) -> stream.StreamDecoder:
        return stream.StreamDecoder(model, input_estimate)

    def stream_encoder(self, client_model: str, include_usage: bool = True) -> stream.StreamEncoder:
        return stream.StreamEncoder(client_model, include_usage=include_usage)

    def stop_reason_name(self, reason: ir.StopReason) -> str:
        """The stop reason as this format's clients see it (for the trace)."""
        return response.finish_reason_name(reason)

    def render_error(
        self, err: GatewayError, message: str, request_id: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        return errors.render_error(err, message, request_id)

    def error_in_answer(self, body: Mapping[str, Any]) -> tuple[ErrorKind, str] | None:
        kind, message = errors.error_from_payload(body)
        return (kind, message) if kind is not None else None

    def parse_error(self, status: int, raw: bytes, channel: str = "") -> UpstreamError:
        return errors.parse_error(status, raw, channel)


CODEC = OpenAIChatCodec()
