"""The Gemini codec: the format's request, response, stream and error converters as one object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from axonhub import ir
from axonhub.errors import ErrorKind, GatewayError, UpstreamError
from axonhub.formats.aggregate import aggregate
from axonhub.formats.gemini import errors, parse, request, response, stream
from axonhub.tokens import estimate_request_tokens

if TYPE_CHECKING:
    from axonhub.config import Channel


class GeminiCodec:
    """Converts Gemini generateContent to and from the IR; stateless, so one instance serves every request."""

    def parse_request(self, body: Mapping[str, Any]) -> ir.Request:
        return parse.parse_request(body)

    def render_response(self, answer: ir.Response, req: ir.Request) -> dict[str, Any]:
        return response.render_response(answer, req)

    def stream_encoder(self, req: ir.Request) -> stream.StreamEncoder:
        return stream.StreamEncoder(req.model, include_thoughts=req.reasoning.display == "summarized")

    def stop_reason_name(self, reason: ir.StopReason) -> str:
        return response.finish_reason_name(reason)

    def render_error(self, err: GatewayError, message: str, request_id: str) -> tuple[int, dict[str, Any]]:
        return errors.render_error(err, message)

    def render_request(self, req: ir.Request, channel: Channel) -> dict[str, Any]:
        return request.render_request(req, channel.max_output_tokens)

    def parse_response(self, body: Mapping[str, Any], req: ir.Request) -> ir.Response:
        """A whole answer: one chunk through the stream decoder."""
        decoder = self.stream_decoder(req)
        return aggregate([*decoder.chunk(dict(body)), *decoder.finish()])

    def stream_decoder(self, req: ir.Request) -> stream.StreamDecoder:
        names = {request.function_name(t.name): t.name for t in req.tools}
        return stream.StreamDecoder(req.model, names, estimate_request_tokens(req))

    def parse_error(self, status: int, raw: bytes, channel: str) -> UpstreamError:
        return errors.parse_error(status, raw, channel)

    def error_in_answer(self, body: Mapping[str, Any]) -> tuple[ErrorKind, str] | None:
        return errors.error_in_object(body)


CODEC = GeminiCodec()
