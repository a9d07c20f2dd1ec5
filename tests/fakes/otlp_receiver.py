"""A small OTLP/HTTP trace receiver on loopback: decodes what it gets with the official
`opentelemetry-proto` package and keeps every span as a plain dict for assertions."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


def _value(any_value: dict[str, Any]) -> Any:
    """An OTLP AnyValue as plain Python."""
    if "stringValue" in any_value:
        return any_value["stringValue"]
    if "intValue" in any_value:
        return int(any_value["intValue"])
    if "boolValue" in any_value:
        return any_value["boolValue"]
    if "doubleValue" in any_value:
        return any_value["doubleValue"]
    if "arrayValue" in any_value:
        return [_value(v) for v in any_value["arrayValue"].get("values", [])]
    return None


@dataclass
class Received:
    """One decoded span with its resource."""

    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    status: dict[str, Any]
    resource: dict[str, Any]


@dataclass
class OtlpReceiver:
    status: int = 200  # what to answer (503 plays a collector that refuses)
    delay: float = 0.0  # seconds to wait before answering (a slow collector)
    spans: list[Received] = field(default_factory=list)
    requests: int = 0
    headers: list[dict[str, str]] = field(default_factory=list)
    _server: TestServer | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/traces", self._handle)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.headers.append(dict(request.headers))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status != 200:
            return web.Response(status=self.status)
        body = await request.read()
        encoding = request.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        for resource_spans in MessageToDict(message).get("resourceSpans", []):
            resource = {a["key"]: _value(a["value"]) for a in resource_spans.get("resource", {}).get("attributes", [])}
            for scope in resource_spans.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    self.spans.append(
                        Received(
                            name=span["name"],
                            kind=span.get("kind", ""),
                            trace_id=bytes.fromhex(_hex(span["traceId"])).hex(),
                            span_id=_hex(span["spanId"]),
                            parent_span_id=_hex(span.get("parentSpanId", "")),
                            start_ns=int(span["startTimeUnixNano"]),
                            end_ns=int(span["endTimeUnixNano"]),
                            attributes={a["key"]: _value(a["value"]) for a in span.get("attributes", [])},
                            status=span.get("status", {}),
                            resource=resource,
                        )
                    )
        self.arrived.set()
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(), content_type="application/x-protobuf"
        )


def _hex(b64: str) -> str:
    import base64

    return base64.b64decode(b64).hex() if b64 else ""
