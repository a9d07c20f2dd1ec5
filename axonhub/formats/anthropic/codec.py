"""The Anthropic Messages codec: the format's request, response, stream and error converters as one object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from axonhub import ir
from axonhub.errors import ErrorKind, GatewayError, UpstreamError, generic_error
from axonhub.formats.anthropic import errors, request, response, stream
from axonhub.formats.spec import WireFormat

if TYPE_CHECKING:
    from axonhub.config import Channel


class AnthropicCodec:
    """Converts Anthropic Messages to and from the IR; stateless, so one instance serves every request."""

    def parse_request(self, body: Mapping[str, Any]) -> ir.Request:
        return request.parse_request(body)

    def render_response(self, answer: ir.Response, req: ir.Request) -> dict[str, Any]:
        return response.render_response(answer, req.model)

    def stream_encoder(self, req: ir.Request) -> stream.StreamEncoder:
        return stream.StreamEncoder(req.model)

    def stop_reason_name(self, reason: ir.StopReason) -> str:
        return response.stop_reason_name(reason)

    def render_error(self, err: GatewayError, message: str, request_id: str) -> tuple[int, dict[str, Any]]:
        return errors.error_status(err), errors.error_body(err, message, request_id)

    def render_request(self, req: ir.Request, channel: Channel) -> dict[str, Any]:
        return request.render_request(req, channel.max_output_tokens)

    def parse_response(self, body: Mapping[str, Any], req: ir.Request) -> ir.Response:
        return response.parse_response(body)

    def stream_decoder(self, req: ir.Request) -> stream.StreamDecoder:
        return stream.StreamDecoder(req.model)

    def parse_error(self, status: int, raw: bytes, channel: str) -> UpstreamError:
        return parse_error(status, raw, channel)

    def error_in_answer(self, body: Mapping[str, Any]) -> tuple[ErrorKind, str] | None:
        return errors.error_in_object(body)


def parse_error(status: int, raw: bytes, channel: str = "") -> UpstreamError:
    """An upstream Anthropic error answer, its message prefixed with the channel; a body that is not
    Anthropic error JSON (an HTML page from a proxy) is described, never relayed."""
    parsed = errors.parse_error_body(status, raw)
    if parsed is None:
        return generic_error(status, raw, channel)
    kind, message = parsed
    prefixed = f"[{channel}] {message}" if channel else message
    return UpstreamError(
        prefixed, kind=kind, status=status, body=raw, body_format=WireFormat.ANTHROPIC, channel=channel
    )


CODEC = AnthropicCodec()
