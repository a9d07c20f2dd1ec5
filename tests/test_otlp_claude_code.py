"""OTLP spans for a streamed Claude Code session with failover: the real `claude` CLI through
AxonHub, the first channel overloaded, a loopback OTLP/HTTP receiver decoding the spans."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from tests.claude_code import run_claude
from tests.conftest import SECRET, GatewayFactory, base_config
from tests.fakes import anthropic as wire
from tests.fakes.otlp_receiver import OtlpReceiver
from tests.fakes.upstream import FakeUpstream, Reply
from tests.trace_files import trace_records

pytestmark = [pytest.mark.claude_code, pytest.mark.slow]


async def test_a_claude_code_session_is_one_trace_with_the_failover_as_child_spans(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTLP_TOKEN", "tok-123")
    receiver, backup = OtlpReceiver(), FakeUpstream()
    await receiver.start()
    await backup.start()
    try:
        answer = "Answered by the backup channel."
        upstream.default = Reply.json(wire.error("overloaded_error", "Overloaded"), status=529)
        backup.default = Reply.sse(wire.stream_events(wire.message([{"type": "text", "text": answer}])))
        data = base_config(upstream.url, tmp_path / "trace.jsonl")
        primary = data["channels"][0]
        data["channels"] = [
            {**primary, "name": "primary", "priority": 0},
            {**primary, "name": "backup", "base_url": backup.url, "priority": 1},
        ]
        data["server"]["otlp"] = {
            "endpoint": receiver.url,
            "headers": {"Authorization": "Bearer ${OTLP_TOKEN}"},
            "service_name": "axonhub-test",
        }
        gateway = await start_gateway(data)
        session = str(uuid.uuid4())
        run = await run_claude(
            "Say hello", base_url=gateway.url, key=SECRET, home=tmp_path / "home", args=("--session-id", session)
        )
        assert run.returncode == 0, run.stderr + str(run.result)
        assert run.result["result"] == answer

        traced = await trace_records(tmp_path / "trace.jsonl")
        calls = [r for r in traced if r["kind"] == "messages"]
        for _ in range(100):  # batches leave at least every second
            if sum(s.kind == "SPAN_KIND_SERVER" for s in receiver.spans) == len(calls):
                break
            await asyncio.sleep(0.1)
    finally:
        await backup.close()
        await receiver.close()

    servers = [s for s in receiver.spans if s.kind == "SPAN_KIND_SERVER"]
    clients = [s for s in receiver.spans if s.kind == "SPAN_KIND_CLIENT"]
    assert len(servers) == len(calls) >= 1
    assert {s.trace_id for s in receiver.spans} == {session.replace("-", "")}  # the session is one trace
    assert len(clients) == sum(len(r["attempts"]) for r in calls)
    assert all(c.parent_span_id in {s.span_id for s in servers} for c in clients)
    assert receiver.headers[0]["Authorization"] == "Bearer tok-123"

    failed_over = next(r for r in calls if len(r["attempts"]) == 2)
    span = next(s for s in servers if s.attributes["axonhub.request_id"] == failed_over["request_id"])
    children = sorted((c for c in clients if c.parent_span_id == span.span_id), key=lambda c: c.start_ns)
    assert span.name == f"chat {failed_over['requested_model']}"
    assert span.resource["service.name"] == "axonhub-test"
    usage = failed_over["usage"]
    assert {k: v for k, v in span.attributes.items() if k.startswith("gen_ai.")} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.system": "anthropic",
        "gen_ai.request.model": failed_over["requested_model"],
        "gen_ai.response.model": failed_over["upstream_model"],
        "gen_ai.conversation.id": session,
        "gen_ai.response.finish_reasons": ["end_turn"],
        "gen_ai.usage.input_tokens": usage["input"] + usage["cache_read"] + usage["cache_write"],
        "gen_ai.usage.output_tokens": usage["output"],
        "gen_ai.usage.cache_read.input_tokens": usage["cache_read"],
        "gen_ai.usage.cache_creation.input_tokens": usage["cache_write"],
        "gen_ai.usage.reasoning.output_tokens": usage["reasoning"],
    }
    assert span.attributes["axonhub.stream"] is True and span.attributes["axonhub.channel"] == "backup"
    assert [(c.attributes["axonhub.channel"], c.attributes["http.response.status_code"]) for c in children] == [
        ("primary", 529),
        ("backup", 200),
    ]
    assert children[0].status["code"] == "STATUS_CODE_ERROR" and children[0].attributes["error.type"] == "529"
    assert children[1].status == {} and children[1].attributes["gen_ai.usage.output_tokens"] == usage["output"]
    assert span.start_ns <= children[0].start_ns < children[0].end_ns <= children[1].start_ns
    assert children[1].end_ns <= span.end_ns
