"""A gateway bug after a stream's 200 went out still ends the stream as the grammar requires."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from axonhub import ir
from axonhub.formats.anthropic import stream as anthropic_stream
from tests.conftest import Gateway
from tests.fakes import openai as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.transform.helpers import post, sse_events


class _BrokenEncoder(anthropic_stream.StreamEncoder):
    """Fails on the first text delta, as a bug in a codec would."""

    def feed(self, event: ir.StreamEvent) -> list[tuple[str, dict[str, Any]]]:
        if isinstance(event, ir.BlockDelta) and event.kind is ir.DeltaKind.TEXT:
            raise KeyError("a codec bug")
        return super().feed(event)


async def test_an_exception_mid_stream_becomes_an_error_event_and_a_clean_end(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(anthropic_stream, "StreamEncoder", _BrokenEncoder)
    chunks = [wire.chunk({"role": "assistant", "content": "Hi"}), wire.chunk({}, "stop")]
    upstream.enqueue(Reply.sse([*map(wire.data, chunks), wire.DONE]))
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "x"}],
    }
    response, raw = await post(http, deepseek.url, body)
    assert response.status == 200
    events = sse_events(raw)
    # The frames of the batch that failed are lost; the stream ends with the error, never message_stop.
    assert [name for name, _ in events] == ["error"]
    request_id = response.headers["request-id"]
    assert events[-1][1] == {
        "type": "error",
        "error": {
            "type": "api_error",
            "message": f"internal gateway error (request {request_id}); see the AxonHub log",
        },
    }
