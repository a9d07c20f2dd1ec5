"""The Anthropic Messages codec: one object bundling its request, response, stream and error converters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axonhub import ir
from axonhub.errors import ErrorKind, GatewayError, UpstreamError, generic_error
from axonhub.formats.anthropic import errors, request, response, stream
from axonhub.formats.quirks import Quirks

FORMAT = "anthropic"


class AnthropicCodec:
    """Converts Anthropic Messages to and from the IR; stateless, so one instance serves every request."""

    name = FORMAT

    def parse_request(self, body: Mapping[str, Any]) -> ir.Request:
        return request.parse_request(body)

    def render_request(
        self, req: ir.Request, quirks: Quirks | None = None, max_output_tokens: int | None = None
    ) -> dict[str, Any]:
        return request.render_request(req, quirks, max_output_tokens)

    def parse_response(self, body: Mapping[str, Any], model: str = "") -> ir.Response:
        return response.parse_response(body)

    def render_response(self, resp: ir.Response, client_model: str) -> dict[str, Any]:
        return response.render_response(resp, client_model)

    def stream_decoder(self, model: str = "", input_estimate: int = 0) -> stream.StreamDecoder:
        return stream.StreamDecoder(model)

    def stream_encoder(self, client_model: str, include_usage: bool = True) -> stream.StreamEncoder:
        return stream.StreamEncoder(client_model)

    def stop_reason_name(self, reason: ir.StopReason) -> str:
        """The stop reason as this format's clients see it (for the trace)."""
        return response.stop_reason_name(reason)

    def render_error(
        self, err: GatewayError, message: str, request_id: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        return errors.error_status(err), errors.error_body(err, message, request_id)

    def error_in_answer(self, body: Mapping[str, Any]) -> tuple[ErrorKind, str] | None:
        return errors.error_in_object(body)

    def parse_error(self, status: int, raw: bytes, channel: str = "") -> UpstreamError:
        return parse_error(status, raw, channel)


def parse_error(status: int, raw: bytes, channel: str = "") -> UpstreamError:
    """An upstream Anthropic error answer, its message prefixed with the channel; a body that is not
    Anthropic error JSON (an HTML page from a proxy) is described, never relayed."""
    parsed = errors.parse_error_body(status, raw)
    if parsed is None:
        return generic_error(status, raw, channel)
    kind, message = parsed
    prefixed = f"[{channel}] {message}" if channel else message
    return UpstreamError(prefixed, kind=kind, status=status, body=raw, body_format=FORMAT, channel=channel)


CODEC = AnthropicCodec()
