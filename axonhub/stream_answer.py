"""The whole answer a stream carried, for the trace's `response_body` when `trace.bodies` keeps bodies.

The client's own codec reads what the client got (SSE bytes on the fast path, IR events on the
transform path), `aggregate()` reduces it, and the codec renders it as the non-streaming answer of
the same request. A stream that failed or was cut keeps the text that got through and the error.
Nothing of this runs when `trace.bodies` is `none`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from axonhub import ir
from axonhub.errors import UpstreamError
from axonhub.exchange import Exchange
from axonhub.formats.aggregate import aggregate
from axonhub.formats.registry import FORMATS
from axonhub.formats.spec import Codec, Format, StreamDecoder, WireFormat
from axonhub.sse import SSEDecoder


def model_only(model: str) -> ir.Request:
    """A request that names only its model: what decoding and rendering a whole answer look at."""
    return ir.Request(model=model, messages=())


def format_named(name: object) -> Format | None:
    """The format of a trace record's `client_format`, or None for one this version does not know."""
    try:
        return FORMATS.get(WireFormat(str(name)))
    except ValueError:
        return None


class StreamAnswer:
    """Collects one stream's events and renders them as a whole answer in the client's format."""

    def __init__(self, codec: Codec, request: ir.Request) -> None:
        self._codec = codec
        self._request = request
        self._sse = SSEDecoder()
        self._decoder: StreamDecoder = codec.stream_decoder(request)
        self._events: list[ir.StreamEvent] = []

    @classmethod
    def for_exchange(
        cls, exchange: Exchange, client: Format | None = None, request: ir.Request | None = None
    ) -> StreamAnswer | None:
        """A collector when the trace keeps bodies and the client's format is known, else None."""
        client = client or format_named(exchange.client_format)
        if exchange.config.server.trace.bodies == "none" or client is None:
            return None
        return cls(client.codec, request or model_only(exchange.requested_model or ""))

    def feed_bytes(self, chunk: bytes) -> None:
        for frame in self._sse.feed(chunk):
            self._events += self._decoder.feed(frame)

    def feed_events(self, events: Iterable[ir.StreamEvent]) -> None:
        self._events += events

    def body(self) -> Any:
        """The answer as a non-streaming request would have got it; a failed stream's partial text."""
        events = self._events + [e for frame in self._sse.finish() for e in self._decoder.feed(frame)]
        events += self._decoder.finish()
        try:
            return self._codec.render_response(aggregate(events), self._request)
        except UpstreamError as exc:
            text = "".join(e.value for e in events if isinstance(e, ir.BlockDelta) and e.kind is ir.DeltaKind.TEXT)
            return {"stream_error": exc.message, "partial_text": text}
